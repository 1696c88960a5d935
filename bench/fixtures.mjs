// The files served: the main root (index.html, 1 KB, 30 KB, 100 KB and 10 MB files) and the roots of
// 10 / 10,000 / 100,000 small files for the cost-growth phase.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files of the main root: name → size in bytes. */
export const MAIN_FILES = {
  'index.html': 1024,
  '1k.txt': 1024,
  '30k.txt': 30 * 1024,
  '100k.txt': 100 * 1024,
  '10m.txt': 10 * 1024 * 1024,
};

/** Deterministic printable bytes that differ along the file, so a wrong slice shows. */
export function content(/** @type {number} */ size, seed = 0) {
  const buf = Buffer.alloc(size);
  let x = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    buf[i] = i % 64 === 63 ? 10 : 97 + ((x >>> 16) % 26);
  }
  return buf;
}

/** Writes the main root into `dir`; returns name → bytes. */
export function writeMainRoot(/** @type {string} */ dir) {
  /** @type {Record<string, Buffer>} */
  const bodies = {};
  let seed = 1;
  for (const [name, size] of Object.entries(MAIN_FILES)) {
    bodies[name] = content(size, seed++);
    writeFileSync(join(dir, name), bodies[name]);
  }
  return bodies;
}

/** URL path of small file `i` in a many-file root (the wrk spread script builds the same). */
export const manyPath = (/** @type {number} */ i) => `/d${Math.floor(i / 1000)}/f${i}.txt`;

/** Writes `count` files of 256 bytes, 1,000 per directory, plus index.html, into `dir`. */
export function writeManyRoot(/** @type {string} */ dir, /** @type {number} */ count) {
  writeFileSync(join(dir, 'index.html'), content(1024, 7));
  const body = content(256, 3);
  for (let i = 0; i < count; i++) {
    if (i % 1000 === 0) mkdirSync(join(dir, `d${i / 1000}`));
    writeFileSync(join(dir, manyPath(i)), body);
  }
}
