// The soak test's file tree and its content pattern, shared by the orchestrator (bench/soak.mjs), which
// writes and changes the files, and the load generator (bench/soak-load.mjs), which checks the bodies.
//
// Every file is one 64-byte block repeated: `<name>#<version>`, dots, `\n`. A byte at offset p is
// block[p % 64], so any slice of a body can be checked without holding the file, and a body that mixes two
// files (a reused descriptor) or two versions of one file (an unsafe replace) shows up.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const BLOCK_SIZE = 64;

/** The 64-byte block of version `version` of the file served as `/<name>`. */
export function block(name, version) {
  const label = `${name}#${version}`;
  if (label.length > BLOCK_SIZE - 2) throw new Error(`name too long for the pattern: ${name}`);
  return Buffer.from(`${label}${'.'.repeat(BLOCK_SIZE - 1 - label.length)}\n`, 'latin1');
}

/** The first `size` bytes of version `version` of `/<name>`. */
export function content(name, version, size) {
  return size === 0 ? Buffer.alloc(0) : Buffer.alloc(size, block(name, version));
}

/** Deterministic sizes, so two runs serve the same tree (mulberry32). */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KB = 1024;
const MB = 1024 * 1024;
const SMALL_EXTENSIONS = ['txt', 'html', 'css', 'js', 'json', 'svg', 'bin'];

/**
 * @typedef {'stable' | 'renamed' | 'truncated'} FileKind
 * stable: never changes. renamed: replaced by write-then-rename (atomic): a response must be one whole
 * version. truncated: truncated, grown and rewritten in place: a download may be cut, never completed short.
 *
 * @typedef {{ name: string, kind: FileKind, large: boolean, size: number, minSize: number, maxSize: number }} Entry
 * `size` is the size as written first (for `stable`, always); `minSize`/`maxSize` bound what a replacement
 * (renamed) or a rewrite (truncated, before any truncation) may have.
 *
 * @typedef {{ root: string, staging: string, files: Entry[], directories: string[] }} Tree
 */

/**
 * Writes the tree under `base`: `root/` is served, `staging/` (same file system, outside root) holds
 * replacements before they are renamed into place.
 * @param {string} base
 * @returns {Tree}
 */
export function writeTree(base) {
  const next = random(0x50a4);
  const between = (low, high) => Math.floor(low + next() * (high - low));
  const root = join(base, 'root');
  const staging = join(base, 'staging');
  mkdirSync(staging, { recursive: true });
  /** @type {Entry[]} */
  const files = [];
  const add = (name, kind, large, minSize, maxSize) => {
    const size = between(minSize, maxSize);
    files.push({ name, kind, large, size, minSize, maxSize });
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content(name, 0, size));
  };

  for (let i = 0; i < 300; i++) {
    add(`s/${String(i).padStart(3, '0')}.${SMALL_EXTENSIONS[i % SMALL_EXTENSIONS.length]}`, 'stable', false, 512, 64 * KB);
  }
  for (let i = 0; i < 8; i++) add(`l/${i}.bin`, 'stable', true, 1 * MB, 4 * MB);
  /** @type {string[]} */
  const directories = [];
  for (let i = 0; i < 10; i++) {
    directories.push(`d/${i}`);
    add(`d/${i}/index.html`, 'stable', false, 512, 8 * KB);
  }
  for (let i = 0; i < 5; i++) add(`r/small-${i}.bin`, 'renamed', false, 1 * KB, 48 * KB);
  for (let i = 0; i < 3; i++) add(`r/large-${i}.bin`, 'renamed', true, 1 * MB, 4 * MB);
  for (let i = 0; i < 2; i++) add(`t/small-${i}.bin`, 'truncated', false, 16 * KB, 64 * KB);
  for (let i = 0; i < 4; i++) add(`t/large-${i}.bin`, 'truncated', true, 1 * MB, 4 * MB);
  return { root, staging, files, directories };
}
