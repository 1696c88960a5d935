/**
 * The `precompressed` option: sidecars (`app.js.br`, `app.js.gz`, `app.js.zst`) served in place of a file to
 * clients whose `Accept-Encoding` takes them. Checked through real requests on both doors: negotiation
 * (q-values, `identity`, `*`, the server's order), the headers of each representation (`Content-Encoding`,
 * the original's `Content-Type`, the sidecar's length and ETag, `Vary`), sidecars that must never be served
 * (stale, not regular files, dotfiles, links refused by the symlinks policy), ranges and conditional requests
 * per representation, HEAD, `index` and `extensions`, the lookup cache, `setHeaders`, option validation, and an
 * Express 5 stack with `compression()` in front.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { mkdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants as zlib, gunzipSync, gzipSync } from 'node:zlib';
import compression from 'compression';
import etag from 'etag';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, serveStaticFetch, type PrecompressedEncoding } from '../src/index.js';
import { describeDoors, type DoorOptions } from './doors.js';
import { get, rawRequest, tempDir, type TestServer } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic pseudo-random bytes (an LCG): the same fixtures on every run. */
function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/** Text that compresses only about twofold (hex digits), so that its brotli copy is large too. */
function hexText(length: number, seed: number): Buffer {
  const hex = pseudoRandom(Math.ceil(length / 2), seed).toString('hex');
  const lines: string[] = [];
  for (let at = 0; at < length; at += 80) lines.push(hex.slice(at, at + 79));
  return Buffer.from(lines.join('\n').slice(0, length));
}

const brotli = (bytes: Buffer): Buffer =>
  brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } });

const SUFFIX: Record<PrecompressedEncoding, string> = { br: '.br', gzip: '.gz', zstd: '.zst' };
/** Files up to this size come back from the file thread with their bytes in one hop; larger ones are streamed. */
const ONE_HOP_LIMIT = 64 * 1024;

/*
 * site/
 *   app.js  + .br .gz (real compressions) + .zst (arbitrary bytes: the server never decodes a sidecar)
 *   style.css + .br .gz
 *   big.txt (2 MiB) + .br .gz, both far above the one-hop limit
 *   plain.txt                 no sidecar
 *   index.html + .br, about.html + .br
 *   equal.js + .br            sidecar with the file's own mtime: fresh
 *   stale.js + .br            sidecar older than the file
 *   mixed.js + .br (stale) .gz (fresh)
 *   dir.js + dir.js.br/       a directory
 *   fifo.js + fifo.js.br      a FIFO
 *   link.js + link.js.br -> ../outside/link.js.br
 *   .hidden.js + .hidden.js.br
 * outside/link.js.br
 */
const base = tempDir('brisk-precompressed-');
const root = join(base.path, 'site');
const outside = join(base.path, 'outside');
/** Every original's mtime (seconds), an hour ago; fresh sidecars are a minute newer, stale ones a minute older. */
const ORIGINAL_TIME = Math.floor(Date.now() / 1000) - 3600;
const FRESH_TIME = ORIGINAL_TIME + 60;
const STALE_TIME = ORIGINAL_TIME - 60;
const contents = new Map<string, Buffer>();

function put(dir: string, name: string, bytes: Buffer, time: number): void {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  utimesSync(path, time, time);
  contents.set(name, bytes);
}

/** A file of the site with its sidecars, each written with the time given. */
function putWithSidecars(name: string, bytes: Buffer, sidecars: Partial<Record<PrecompressedEncoding, Buffer>>, time = FRESH_TIME): void {
  put(root, name, bytes, ORIGINAL_TIME);
  for (const [encoding, sidecar] of Object.entries(sidecars) as [PrecompressedEncoding, Buffer][]) {
    put(root, name + SUFFIX[encoding], sidecar, time);
  }
}

/** The bytes a fixture was written with. */
function bytesOf(name: string): Buffer {
  const bytes = contents.get(name);
  if (bytes === undefined) throw new Error(`no fixture ${name}`);
  return bytes;
}

const APP_JS = Buffer.from(
  `export const items = [\n${Array.from({ length: 200 }, (_, i) => `  { id: ${i}, label: 'item number ${i}' },`).join('\n')}\n];\n` +
    `document.title = 'items: ' + items.length;\n`,
);
const STYLE_CSS = Buffer.from(
  `${Array.from({ length: 100 }, (_, i) => `.item-${i} { color: rgb(${i}, 2, 3); margin: ${i}px; }`).join('\n')}\n`,
);
const BIG_TXT = hexText(2 * 1024 * 1024, 7);

beforeAll(() => {
  mkdirSync(root, { recursive: true });
  mkdirSync(outside);
  putWithSidecars('app.js', APP_JS, { br: brotli(APP_JS), gzip: gzipSync(APP_JS), zstd: Buffer.from('not zstd: any bytes will do') });
  putWithSidecars('style.css', STYLE_CSS, { br: brotli(STYLE_CSS), gzip: gzipSync(STYLE_CSS) });
  putWithSidecars('big.txt', BIG_TXT, { br: brotli(BIG_TXT), gzip: gzipSync(BIG_TXT) });
  put(root, 'plain.txt', Buffer.from('no sidecar for this one\n'.repeat(100)), ORIGINAL_TIME);
  const index = Buffer.from('<!doctype html><title>index</title><p>the index page</p>\n');
  putWithSidecars('index.html', index, { br: brotli(index) });
  const about = Buffer.from('<!doctype html><title>about</title><p>the about page</p>\n');
  putWithSidecars('about.html', about, { br: brotli(about) });
  const equal = Buffer.from('export const equal = true;\n');
  putWithSidecars('equal.js', equal, { br: brotli(equal) }, ORIGINAL_TIME);
  const stale = Buffer.from('export const version = 2;\n');
  putWithSidecars('stale.js', stale, { br: brotli(Buffer.from('export const version = 1;\n')) }, STALE_TIME);
  const mixed = Buffer.from('export const mixed = 2;\n');
  putWithSidecars('mixed.js', mixed, { br: brotli(Buffer.from('export const mixed = 1;\n')) }, STALE_TIME);
  put(root, 'mixed.js.gz', gzipSync(mixed), FRESH_TIME);
  put(root, 'dir.js', Buffer.from('export const dir = true;\n'), ORIGINAL_TIME);
  mkdirSync(join(root, 'dir.js.br'));
  writeFileSync(join(root, 'dir.js.br', 'inside'), 'a file in the directory\n');
  utimesSync(join(root, 'dir.js.br'), FRESH_TIME, FRESH_TIME);
  put(root, 'fifo.js', Buffer.from('export const fifo = true;\n'), ORIGINAL_TIME);
  execFileSync('mkfifo', [join(root, 'fifo.js.br')]);
  utimesSync(join(root, 'fifo.js.br'), FRESH_TIME, FRESH_TIME);
  const link = Buffer.from('export const link = true;\n');
  put(root, 'link.js', link, ORIGINAL_TIME);
  put(outside, 'link.js.br', brotli(link), FRESH_TIME);
  symlinkSync(join('..', 'outside', 'link.js.br'), join(root, 'link.js.br'));
  const hidden = Buffer.from('export const hidden = true;\n');
  putWithSidecars('.hidden.js', hidden, { br: brotli(hidden) });
});

afterAll(() => base.remove());

interface Fetched {
  readonly res: Response;
  readonly body: Buffer;
}

async function fetchBytes(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Fetched> {
  const res = await get(url, { method, headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

/** The tokens of a response's `Vary`, lower-cased; empty when there is none. */
function varyOf(res: Response): string[] {
  const value = res.headers.get('vary');
  return value === null ? [] : value.split(',').map((token) => token.trim().toLowerCase());
}

/** The name of the file whose bytes a representation of `name` carries. */
function sentFile(name: string, encoding: PrecompressedEncoding | undefined): string {
  return encoding === undefined ? name : name + SUFFIX[encoding];
}

/**
 * A 200 carrying `name` as `encoding` (undefined: the file itself): its exact bytes, their length, the
 * original's type, and `Vary: Accept-Encoding` when the file has a sidecar.
 */
function expectRepresentation(
  { res, body }: Fetched,
  name: string,
  encoding: PrecompressedEncoding | undefined,
  type: string,
  vary: boolean,
): void {
  const sent = bytesOf(sentFile(name, encoding));
  expect(res.status, name).toBe(200);
  expect(res.headers.get('content-encoding'), name).toBe(encoding ?? null);
  expect(res.headers.get('content-type'), name).toBe(type);
  expect(res.headers.get('content-length'), name).toBe(String(sent.length));
  expect(varyOf(res).includes('accept-encoding'), `${name}: Vary`).toBe(vary);
  expect(body.length, name).toBe(sent.length);
  expect(sha256(body), name).toBe(sha256(sent));
}

/** What a sidecar's ETag is: the sent file's own, marked with its coding. */
function sidecarTag(name: string, encoding: PrecompressedEncoding): string {
  const tag = etag(statSync(join(root, sentFile(name, encoding))));
  return `${tag.slice(0, -1)}-${encoding}"`;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const TEXT = 'text/plain; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

/** Accept-Encoding (undefined: no header) → the sidecar sent under each server's list. */
const NEGOTIATION: [acceptEncoding: string | undefined, byDefault: PrecompressedEncoding | undefined, zstdFirst: PrecompressedEncoding | undefined, gzipFirst: PrecompressedEncoding | undefined][] = [
  ['gzip, deflate, br', 'br', 'br', 'gzip'],
  ['gzip, deflate, br, zstd', 'br', 'zstd', 'gzip'],
  ['br', 'br', 'br', 'br'],
  ['gzip', 'gzip', 'gzip', 'gzip'],
  ['br, gzip', 'br', 'br', 'gzip'],
  ['gzip, br', 'br', 'br', 'gzip'],
  ['br;q=0', undefined, undefined, undefined],
  ['br;q=0, gzip', 'gzip', 'gzip', 'gzip'],
  ['gzip;q=1, br;q=0.5', 'gzip', 'gzip', 'gzip'],
  ['gzip;q=0.5, br;q=0.5', 'br', 'br', 'gzip'],
  ['*', 'br', 'zstd', 'gzip'],
  ['*;q=0', undefined, undefined, undefined],
  ['*, br;q=0', 'gzip', 'zstd', 'gzip'],
  ['identity', undefined, undefined, undefined],
  // Refusing the file itself while accepting no coding offered: the file is still what there is to send.
  ['identity;q=0', undefined, undefined, undefined],
  ['identity, br;q=0.5', undefined, undefined, undefined],
  // The file itself loses ties.
  ['br;q=0.5, identity;q=0.5', 'br', 'br', 'br'],
  ['BR', 'br', 'br', 'br'],
  ['Gzip', 'gzip', 'gzip', 'gzip'],
  ['', undefined, undefined, undefined],
  [undefined, undefined, undefined, undefined],
  ['deflate', undefined, undefined, undefined],
  // `true` is ['br', 'gzip']: the .zst beside app.js is not offered.
  ['zstd', undefined, 'zstd', undefined],
  ['zstd, br', 'br', 'zstd', 'br'],
];

describeDoors('precompressed', (door) => {
  const servers: Record<string, TestServer> = {};
  const hookCalls: { path: string; size: number }[] = [];

  beforeAll(async () => {
    const configs: Record<string, DoorOptions> = {
      byDefault: { precompressed: true },
      off: { precompressed: false },
      empty: { precompressed: [] },
      zstdFirst: { precompressed: ['zstd', 'br', 'gzip'] },
      gzipFirst: { precompressed: ['gzip', 'br'] },
      extensions: { precompressed: true, extensions: ['html'] },
      cached: { precompressed: true, cache: true },
      withinRoot: { precompressed: true, symlinks: 'within-root' },
      deny: { precompressed: true, symlinks: 'deny' },
      hooked: {
        precompressed: true,
        setHeaders: (headers, path, stat) => {
          hookCalls.push({ path, size: stat.size });
          headers.setHeader('X-Hook-Size', stat.size);
        },
      },
    };
    for (const [name, options] of Object.entries(configs)) servers[name] = await door.serve(root, options);
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
  });

  const url = (server: string, path: string): string => `${servers[server]!.url}${path}`;
  const acceptOnly = (value: string | undefined): Record<string, string> =>
    value === undefined ? {} : { 'Accept-Encoding': value };

  describe('negotiation', () => {
    it.each(NEGOTIATION)('Accept-Encoding %j', async (acceptEncoding, byDefault, zstdFirst, gzipFirst) => {
      const headers = acceptOnly(acceptEncoding);
      expectRepresentation(await fetchBytes(url('byDefault', '/app.js'), headers), 'app.js', byDefault, JS, true);
      expectRepresentation(await fetchBytes(url('zstdFirst', '/app.js'), headers), 'app.js', zstdFirst, JS, true);
      expectRepresentation(await fetchBytes(url('gzipFirst', '/app.js'), headers), 'app.js', gzipFirst, JS, true);
      // The CSS has no .zst: under ['zstd', 'br', 'gzip'] it gets what ['br', 'gzip'] gives.
      const css = zstdFirst === 'zstd' ? byDefault : zstdFirst;
      expectRepresentation(await fetchBytes(url('zstdFirst', '/style.css'), headers), 'style.css', css, CSS, true);
      expectRepresentation(await fetchBytes(url('byDefault', '/style.css'), headers), 'style.css', byDefault, CSS, true);
    });

    it('sends real compressions that decode to the file itself', async () => {
      for (const name of ['app.js', 'style.css', 'big.txt']) {
        const br = await fetchBytes(url('byDefault', `/${name}`), { 'Accept-Encoding': 'br' });
        expect(br.res.headers.get('content-encoding')).toBe('br');
        expect(sha256(brotliDecompressSync(br.body))).toBe(sha256(bytesOf(name)));
        const gzip = await fetchBytes(url('byDefault', `/${name}`), { 'Accept-Encoding': 'gzip' });
        expect(gzip.res.headers.get('content-encoding')).toBe('gzip');
        expect(sha256(gunzipSync(gzip.body))).toBe(sha256(bytesOf(name)));
      }
    });

    it('uses the server order to break ties: gzip first for ["gzip", "br"], brotli for true', async () => {
      const headers = { 'Accept-Encoding': 'gzip, br' };
      expectRepresentation(await fetchBytes(url('gzipFirst', '/app.js'), headers), 'app.js', 'gzip', JS, true);
      expectRepresentation(await fetchBytes(url('byDefault', '/app.js'), headers), 'app.js', 'br', JS, true);
    });

    it('offers nothing under precompressed: [] or false: no Content-Encoding, no Vary', async () => {
      for (const server of ['empty', 'off']) {
        const fetched = await fetchBytes(url(server, '/app.js'), { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
        expectRepresentation(fetched, 'app.js', undefined, JS, false);
      }
    });
  });

  describe('sizes: the one-hop path and the streamed path', () => {
    it('has sidecars on both sides of the one-hop limit, the large one above 300 KiB', () => {
      expect(bytesOf('app.js.br').length).toBeLessThan(ONE_HOP_LIMIT);
      expect(bytesOf('app.js').length).toBeLessThan(ONE_HOP_LIMIT);
      expect(bytesOf('big.txt.br').length).toBeGreaterThan(300 * 1024);
      expect(bytesOf('big.txt.gz').length).toBeGreaterThan(300 * 1024);
    });

    it.each(['byDefault', 'cached', 'withinRoot'])('serves the large file and its sidecars whole (%s)', async (server) => {
      for (const encoding of ['br', 'gzip', undefined] as const) {
        const fetched = await fetchBytes(url(server, '/big.txt'), acceptOnly(encoding));
        expectRepresentation(fetched, 'big.txt', encoding, TEXT, true);
      }
    });

    it.each(['byDefault', 'cached', 'withinRoot'])('serves the small file and its sidecars whole (%s)', async (server) => {
      for (const encoding of ['br', 'gzip', undefined] as const) {
        const fetched = await fetchBytes(url(server, '/app.js'), acceptOnly(encoding));
        expectRepresentation(fetched, 'app.js', encoding, JS, true);
      }
    });
  });

  describe('files without a sidecar', () => {
    /** Status, headers in the order sent (but Date) and body: what must not change when the option is on. */
    async function answer(server: string, path: string, method: string, headers: Record<string, string>): Promise<unknown> {
      const res = await rawRequest(servers[server]!.port, path, { method, headers });
      const { date, ...rest } = res.headers;
      expect(date).toBeDefined();
      return { status: res.status, headers: Object.entries(rest), body: sha256(res.body) };
    }

    it.each([
      ['GET', {}],
      ['GET', { 'Accept-Encoding': 'gzip, deflate, br' }],
      ['HEAD', { 'Accept-Encoding': 'br' }],
      ['GET', { 'Accept-Encoding': 'br', Range: 'bytes=0-9' }],
      ['GET', { 'Accept-Encoding': 'br', Range: 'bytes=100000-' }],
    ] as const)('answers %s %j exactly as precompressed: false does', async (method, headers) => {
      const on = await answer('byDefault', '/plain.txt', method, headers);
      const off = await answer('off', '/plain.txt', method, headers);
      expect(on).toEqual(off);
    });

    it('answers a conditional request exactly as precompressed: false does', async () => {
      const first = await fetchBytes(url('off', '/plain.txt'));
      const tag = first.res.headers.get('etag') ?? '';
      expect(tag).toMatch(/^W\/"/);
      const headers = { 'Accept-Encoding': 'br', 'If-None-Match': tag };
      const on = await answer('byDefault', '/plain.txt', 'GET', headers);
      expect(on).toMatchObject({ status: 304 });
      expect(on).toEqual(await answer('off', '/plain.txt', 'GET', headers));
    });

    it('sends neither Vary nor Content-Encoding, for 200, 206 and 304', async () => {
      const full = await fetchBytes(url('byDefault', '/plain.txt'), { 'Accept-Encoding': 'br, gzip' });
      expectRepresentation(full, 'plain.txt', undefined, TEXT, false);
      const partial = await fetchBytes(url('byDefault', '/plain.txt'), { 'Accept-Encoding': 'br', Range: 'bytes=0-9' });
      expect(partial.res.status).toBe(206);
      expect(partial.res.headers.get('vary')).toBeNull();
      expect(partial.res.headers.get('content-encoding')).toBeNull();
      expect(partial.body.toString()).toBe(bytesOf('plain.txt').subarray(0, 10).toString());
      const tag = full.res.headers.get('etag') ?? '';
      const notModified = await fetchBytes(url('byDefault', '/plain.txt'), { 'Accept-Encoding': 'br', 'If-None-Match': tag });
      expect(notModified.res.status).toBe(304);
      expect(notModified.res.headers.get('vary')).toBeNull();
      expect(notModified.body.length).toBe(0);
    });
  });

  describe('sidecars that are never served', () => {
    const PLAIN_SERVERS = ['byDefault', 'cached', 'withinRoot'];

    it.each(PLAIN_SERVERS)('skips a sidecar older than its file, as if absent (%s)', async (server) => {
      for (const method of ['GET', 'HEAD']) {
        const fetched = await fetchBytes(url(server, '/stale.js'), { 'Accept-Encoding': 'br' }, method);
        expect(fetched.res.status).toBe(200);
        expect(fetched.res.headers.get('content-encoding')).toBeNull();
        expect(fetched.res.headers.get('vary')).toBeNull();
        expect(fetched.res.headers.get('content-length')).toBe(String(bytesOf('stale.js').length));
        expect(fetched.res.headers.get('etag')).toBe(etag(statSync(join(root, 'stale.js'))));
        expect(fetched.body.toString()).toBe(method === 'HEAD' ? '' : 'export const version = 2;\n');
      }
    });

    it.each(PLAIN_SERVERS)('takes the next coding when the preferred sidecar is stale (%s)', async (server) => {
      const fetched = await fetchBytes(url(server, '/mixed.js'), { 'Accept-Encoding': 'br, gzip' });
      expectRepresentation(fetched, 'mixed.js', 'gzip', JS, true);
      expect(gunzipSync(fetched.body).toString()).toBe('export const mixed = 2;\n');
      const brOnly = await fetchBytes(url(server, '/mixed.js'), { 'Accept-Encoding': 'br' });
      // The file has a fresh .gz, so its answer depends on Accept-Encoding even when the plain file is sent.
      expectRepresentation(brOnly, 'mixed.js', undefined, JS, true);
    });

    it.each(PLAIN_SERVERS)('serves a sidecar exactly as new as its file (%s)', async (server) => {
      expect(statSync(join(root, 'equal.js.br')).mtimeMs).toBe(statSync(join(root, 'equal.js')).mtimeMs);
      expectRepresentation(await fetchBytes(url(server, '/equal.js'), { 'Accept-Encoding': 'br' }), 'equal.js', 'br', JS, true);
    });

    it.each(PLAIN_SERVERS)('skips a sidecar that is a directory or a FIFO, without hanging (%s)', async (server) => {
      for (const [name, text] of [
        ['dir.js', 'export const dir = true;\n'],
        ['fifo.js', 'export const fifo = true;\n'],
      ] as const) {
        for (const method of ['GET', 'HEAD']) {
          const fetched = await fetchBytes(url(server, `/${name}`), { 'Accept-Encoding': 'br' }, method);
          expect(fetched.res.status, name).toBe(200);
          expect(fetched.res.headers.get('content-encoding'), name).toBeNull();
          expect(fetched.res.headers.get('vary'), name).toBeNull();
          expect(fetched.res.headers.get('content-length'), name).toBe(String(text.length));
          expect(fetched.body.toString(), name).toBe(method === 'HEAD' ? '' : text);
        }
      }
    });

    it.each(['withinRoot', 'deny'])('does not serve a sidecar linking outside root under symlinks: %s', async (server) => {
      // A refused sidecar is absent for every client, as a stale one is: no Vary, whatever was accepted.
      for (const accept of ['br', 'gzip', '']) {
        const fetched = await fetchBytes(url(server, '/link.js'), accept === '' ? {} : { 'Accept-Encoding': accept });
        expect(fetched.res.status, accept).toBe(200);
        expect(fetched.res.headers.get('content-encoding'), accept).toBeNull();
        expect(fetched.res.headers.get('vary'), accept).toBeNull();
        expect(fetched.res.headers.get('content-type'), accept).toBe(JS);
        expect(fetched.res.headers.get('content-length'), accept).toBe(String(bytesOf('link.js').length));
        expect(fetched.body.toString(), accept).toBe('export const link = true;\n');
      }
    });

    it('follows a sidecar link under the default symlinks: follow, as it follows any link', async () => {
      // serve-static's behaviour for links: the path is served wherever the link points, sidecars included.
      const fetched = await fetchBytes(url('byDefault', '/link.js'), { 'Accept-Encoding': 'br' });
      expect(fetched.res.status).toBe(200);
      expect(fetched.res.headers.get('content-encoding')).toBe('br');
      expect(varyOf(fetched.res)).toContain('accept-encoding');
      expect(fetched.res.headers.get('content-length')).toBe(String(bytesOf('link.js.br').length));
      expect(brotliDecompressSync(fetched.body).toString()).toBe('export const link = true;\n');
    });

    it('never serves the sidecar of a dotfile under dotfiles: ignore, nor the sidecar itself', async () => {
      const server = servers['byDefault']!;
      for (const path of ['/.hidden.js', '/.hidden.js.br']) {
        const before = server.nexts.length;
        const fetched = await fetchBytes(`${server.url}${path}`, { 'Accept-Encoding': 'br' });
        expect(fetched.res.status, path).toBe(404);
        expect(fetched.res.headers.get('content-encoding'), path).toBeNull();
        expect(fetched.body.toString(), path).toBe('fell through');
        expect(server.nexts.slice(before), path).toEqual([null]);
      }
    });
  });

  describe('ranges apply to the representation chosen', () => {
    it('answers bytes=0-9 with the first ten bytes of the .br and its size in Content-Range', async () => {
      const br = bytesOf('app.js.br');
      const fetched = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'br', Range: 'bytes=0-9' });
      expect(fetched.res.status).toBe(206);
      expect(fetched.res.headers.get('content-encoding')).toBe('br');
      expect(fetched.res.headers.get('content-type')).toBe(JS);
      expect(fetched.res.headers.get('content-range')).toBe(`bytes 0-9/${br.length}`);
      expect(fetched.res.headers.get('content-length')).toBe('10');
      expect(varyOf(fetched.res)).toContain('accept-encoding');
      expect(fetched.body.toString('hex')).toBe(br.subarray(0, 10).toString('hex'));
    });

    it('answers the same range of the file itself with its bytes and size, and Vary', async () => {
      const js = bytesOf('app.js');
      const fetched = await fetchBytes(url('byDefault', '/app.js'), { Range: 'bytes=0-9' });
      expect(fetched.res.status).toBe(206);
      expect(fetched.res.headers.get('content-encoding')).toBeNull();
      expect(fetched.res.headers.get('content-range')).toBe(`bytes 0-9/${js.length}`);
      expect(varyOf(fetched.res)).toContain('accept-encoding');
      expect(fetched.body.toString()).toBe(js.subarray(0, 10).toString());
    });

    it('answers 416 by the .br size for a range only the file itself could satisfy', async () => {
      const br = bytesOf('app.js.br');
      const js = bytesOf('app.js');
      expect(js.length).toBeGreaterThan(br.length + 10);
      const range = `bytes=${br.length}-${br.length + 9}`;
      const refused = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'br', Range: range });
      expect(refused.res.status).toBe(416);
      expect(refused.res.headers.get('content-range')).toBe(`bytes */${br.length}`);
      const node = door.name === 'node';
      if (node) expect(refused.body.toString()).toBe('RangeNotSatisfiableError: Range Not Satisfiable');
      else expect(refused.body.toString()).toContain('Range Not Satisfiable');
      const plain = await fetchBytes(url('byDefault', '/app.js'), { Range: range });
      expect(plain.res.status).toBe(206);
      expect(plain.res.headers.get('content-range')).toBe(`bytes ${br.length}-${br.length + 9}/${js.length}`);
      expect(plain.body.toString()).toBe(js.subarray(br.length, br.length + 10).toString());
    });

    it('streams a long range of the large .br', async () => {
      const br = bytesOf('big.txt.br');
      const fetched = await fetchBytes(url('byDefault', '/big.txt'), { 'Accept-Encoding': 'br', Range: 'bytes=1000-' });
      expect(fetched.res.status).toBe(206);
      expect(fetched.res.headers.get('content-encoding')).toBe('br');
      expect(fetched.res.headers.get('content-range')).toBe(`bytes 1000-${br.length - 1}/${br.length}`);
      expect(fetched.res.headers.get('content-length')).toBe(String(br.length - 1000));
      expect(sha256(fetched.body)).toBe(sha256(br.subarray(1000)));
    });

    it('honours If-Range by the ETag of the representation chosen', async () => {
      const br = bytesOf('app.js.br');
      const brTag = sidecarTag('app.js', 'br');
      const plainTag = etag(statSync(join(root, 'app.js')));

      const matching = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'br', Range: 'bytes=0-9', 'If-Range': brTag });
      expect(matching.res.status).toBe(206);
      expect(matching.res.headers.get('content-encoding')).toBe('br');
      expect(matching.body.toString('hex')).toBe(br.subarray(0, 10).toString('hex'));

      // The identity ETag names another representation: the whole .br is sent.
      const other = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'br', Range: 'bytes=0-9', 'If-Range': plainTag });
      expectRepresentation(other, 'app.js', 'br', JS, true);
      expect(other.res.headers.get('content-range')).toBeNull();

      // And the .br's ETag does not validate a range of the file itself.
      const identity = await fetchBytes(url('byDefault', '/app.js'), { Range: 'bytes=0-9', 'If-Range': brTag });
      expectRepresentation(identity, 'app.js', undefined, JS, true);
    });
  });

  describe('conditional requests per representation', () => {
    it('gives each representation its own ETag', async () => {
      const br = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'br' });
      const gzip = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'gzip' });
      const plain = await fetchBytes(url('byDefault', '/app.js'));
      expect(br.res.status).toBe(200);
      expect(br.res.headers.get('etag')).toBe(sidecarTag('app.js', 'br'));
      expect(gzip.res.headers.get('etag')).toBe(sidecarTag('app.js', 'gzip'));
      expect(plain.res.headers.get('etag')).toBe(etag(statSync(join(root, 'app.js'))));
      expect(new Set([br.res.headers.get('etag'), gzip.res.headers.get('etag'), plain.res.headers.get('etag')]).size).toBe(3);
      expect(br.res.headers.get('last-modified')).toBe(statSync(join(root, 'app.js.br')).mtime.toUTCString());
    });

    it.each(['byDefault', 'cached', 'hooked'])('answers If-None-Match with the .br ETag: 304 with br, 200 identity without (%s)', async (server) => {
      const brTag = sidecarTag('app.js', 'br');
      const notModified = await fetchBytes(url(server, '/app.js'), { 'Accept-Encoding': 'br', 'If-None-Match': brTag });
      expect(notModified.res.status).toBe(304);
      expect(notModified.res.headers.get('etag')).toBe(brTag);
      expect(varyOf(notModified.res)).toContain('accept-encoding');
      expect(notModified.res.headers.get('content-encoding')).toBeNull();
      expect(notModified.res.headers.get('content-length')).toBeNull();
      expect(notModified.res.headers.get('content-type')).toBeNull();
      expect(notModified.body.length).toBe(0);

      const identity = await fetchBytes(url(server, '/app.js'), { 'If-None-Match': brTag });
      expectRepresentation(identity, 'app.js', undefined, JS, true);
      expect(identity.res.headers.get('etag')).toBe(etag(statSync(join(root, 'app.js'))));

      // The identity ETag does not match the .br: the sidecar is sent.
      const plainTag = etag(statSync(join(root, 'app.js')));
      const other = await fetchBytes(url(server, '/app.js'), { 'Accept-Encoding': 'br', 'If-None-Match': plainTag });
      expectRepresentation(other, 'app.js', 'br', JS, true);

      const identityNotModified = await fetchBytes(url(server, '/app.js'), { 'If-None-Match': plainTag });
      expect(identityNotModified.res.status).toBe(304);
      expect(varyOf(identityNotModified.res)).toContain('accept-encoding');
      expect(identityNotModified.res.headers.get('content-encoding')).toBeNull();
    });

    it('answers If-Match with the ETag of the representation chosen', async () => {
      const brTag = sidecarTag('app.js', 'br');
      const matched = await fetchBytes(url('byDefault', '/app.js'), { 'Accept-Encoding': 'br', 'If-Match': brTag });
      expectRepresentation(matched, 'app.js', 'br', JS, true);
      const failed = await fetchBytes(url('byDefault', '/app.js'), { 'If-Match': brTag });
      expect(failed.res.status).toBe(412);
    });
  });

  describe('HEAD', () => {
    it.each(['byDefault', 'cached', 'withinRoot'])('sends the headers a GET sends, without the body (%s)', async (server) => {
      for (const name of ['app.js', 'big.txt']) {
        for (const encoding of ['br', 'gzip', undefined] as const) {
          const headers = acceptOnly(encoding);
          const getting = await fetchBytes(url(server, `/${name}`), headers);
          const heading = await fetchBytes(url(server, `/${name}`), headers, 'HEAD');
          expect(heading.res.status).toBe(200);
          expect(heading.body.length).toBe(0);
          for (const header of ['content-encoding', 'content-length', 'content-type', 'etag', 'last-modified', 'vary', 'accept-ranges']) {
            expect(heading.res.headers.get(header), `${name} ${String(encoding)} ${header}`).toBe(getting.res.headers.get(header));
          }
          expect(heading.res.headers.get('content-length')).toBe(String(bytesOf(sentFile(name, encoding)).length));
        }
      }
    });
  });

  describe('index and extensions', () => {
    it('serves index.html.br for /', async () => {
      expectRepresentation(await fetchBytes(url('byDefault', '/'), { 'Accept-Encoding': 'br' }), 'index.html', 'br', HTML, true);
      expectRepresentation(await fetchBytes(url('byDefault', '/'), {}), 'index.html', undefined, HTML, true);
    });

    it('serves about.html.br for /about under extensions: ["html"]', async () => {
      expectRepresentation(await fetchBytes(url('extensions', '/about'), { 'Accept-Encoding': 'gzip, br' }), 'about.html', 'br', HTML, true);
      expectRepresentation(await fetchBytes(url('extensions', '/about'), { 'Accept-Encoding': 'gzip' }), 'about.html', undefined, HTML, true);
    });
  });

  describe('a request for a sidecar itself', () => {
    it('is an ordinary file: its own type, no Content-Encoding, no Vary', async () => {
      const br = await fetchBytes(url('byDefault', '/app.js.br'), { 'Accept-Encoding': 'br' });
      expectRepresentation(br, 'app.js.br', undefined, 'application/octet-stream', false);
      expect(br.res.headers.get('etag')).toBe(etag(statSync(join(root, 'app.js.br'))));
      const gzip = await fetchBytes(url('byDefault', '/app.js.gz'), { 'Accept-Encoding': 'gzip' });
      expectRepresentation(gzip, 'app.js.gz', undefined, 'application/gzip', false);
    });
  });

  describe('setHeaders', () => {
    it('receives the original path and the stat of the file sent', async () => {
      for (const [name, encoding] of [
        ['app.js', 'br'],
        ['app.js', 'gzip'],
        ['app.js', undefined],
        ['big.txt', 'br'],
      ] as const) {
        hookCalls.length = 0;
        const fetched = await fetchBytes(url('hooked', `/${name}`), acceptOnly(encoding));
        expectRepresentation(fetched, name, encoding, name === 'app.js' ? JS : TEXT, true);
        const size = bytesOf(sentFile(name, encoding)).length;
        expect(fetched.res.headers.get('x-hook-size')).toBe(String(size));
        expect(hookCalls).toHaveLength(1);
        expect(hookCalls[0]!.path.endsWith(`${sep}${name}`), hookCalls[0]!.path).toBe(true);
        expect(hookCalls[0]!.path).toBe(join(root, name));
        expect(hookCalls[0]!.size).toBe(size);
      }
    });
  });

  describe('with the lookup cache', () => {
    const site = tempDir('brisk-precompressed-cache-');
    const cachedServers: Record<string, TestServer> = {};
    const first = Buffer.from('export const cached = 1;\n'.repeat(50));
    const later = Buffer.from('export const added = 1;\n'.repeat(50));

    beforeAll(async () => {
      for (const [name, bytes] of [
        ['long.js', first],
        ['short.js', first],
        ['added.js', later],
      ] as const) {
        writeFileSync(join(site.path, name), bytes);
        utimesSync(join(site.path, name), ORIGINAL_TIME, ORIGINAL_TIME);
      }
      for (const name of ['long.js', 'short.js']) {
        writeFileSync(join(site.path, `${name}.br`), brotli(first));
        utimesSync(join(site.path, `${name}.br`), FRESH_TIME, FRESH_TIME);
      }
      cachedServers['long'] = await door.serve(site.path, { precompressed: true, cache: { revalidateAfter: 60_000 } });
      cachedServers['short'] = await door.serve(site.path, { precompressed: true, cache: { revalidateAfter: 50 } });
    });
    afterAll(async () => {
      for (const server of Object.values(cachedServers)) await server.close();
      site.remove();
    });

    const at = (server: string, path: string): string => `${cachedServers[server]!.url}${path}`;

    it('serves a sidecar from the cache, within revalidateAfter', async () => {
      const brBytes = brotli(first);
      const warm = await fetchBytes(at('long', '/long.js'), { 'Accept-Encoding': 'br' });
      expect(warm.res.status).toBe(200);
      expect(warm.res.headers.get('content-encoding')).toBe('br');
      expect(sha256(warm.body)).toBe(sha256(brBytes));
      rmSync(join(site.path, 'long.js.br'));
      // Gone from disk, still remembered: the cache answers with what it read.
      const cached = await fetchBytes(at('long', '/long.js'), { 'Accept-Encoding': 'br' });
      expect(cached.res.status).toBe(200);
      expect(cached.res.headers.get('content-encoding')).toBe('br');
      expect(cached.res.headers.get('content-length')).toBe(String(brBytes.length));
      expect(cached.res.headers.get('etag')).toBe(warm.res.headers.get('etag'));
      expect(sha256(cached.body)).toBe(sha256(brBytes));
    });

    it('interleaves identity and br requests with the right bodies', async () => {
      const brBytes = brotli(first);
      for (let i = 0; i < 6; i++) {
        const br = i % 2 === 0;
        const fetched = await fetchBytes(at('short', '/short.js'), br ? { 'Accept-Encoding': 'br' } : { 'Accept-Encoding': 'identity' });
        expect(fetched.res.status).toBe(200);
        expect(fetched.res.headers.get('content-encoding')).toBe(br ? 'br' : null);
        expect(varyOf(fetched.res)).toContain('accept-encoding');
        expect(sha256(fetched.body)).toBe(sha256(br ? brBytes : first));
        expect(fetched.res.headers.get('content-length')).toBe(String((br ? brBytes : first).length));
      }
    });

    it('stops serving a removed sidecar and starts serving an added one after revalidateAfter', async () => {
      // Both remembered first, with and without the coding.
      for (const headers of [{ 'Accept-Encoding': 'br' }, {}]) {
        expect((await fetchBytes(at('short', '/short.js'), headers)).res.headers.get('vary')).toContain('Accept-Encoding');
        expect((await fetchBytes(at('short', '/added.js'), headers)).res.headers.get('vary')).toBeNull();
      }
      rmSync(join(site.path, 'short.js.br'));
      const addedBr = brotli(later);
      writeFileSync(join(site.path, 'added.js.br'), addedBr);
      utimesSync(join(site.path, 'added.js.br'), FRESH_TIME, FRESH_TIME);
      await sleep(150);

      const removed = await fetchBytes(at('short', '/short.js'), { 'Accept-Encoding': 'br' });
      expect(removed.res.status).toBe(200);
      expect(removed.res.headers.get('content-encoding')).toBeNull();
      expect(removed.res.headers.get('vary')).toBeNull();
      expect(sha256(removed.body)).toBe(sha256(first));

      const added = await fetchBytes(at('short', '/added.js'), { 'Accept-Encoding': 'br' });
      expect(added.res.status).toBe(200);
      expect(added.res.headers.get('content-encoding')).toBe('br');
      expect(varyOf(added.res)).toContain('accept-encoding');
      expect(sha256(added.body)).toBe(sha256(addedBr));
      expect(brotliDecompressSync(added.body).toString()).toBe(later.toString());

      const addedPlain = await fetchBytes(at('short', '/added.js'));
      expect(addedPlain.res.headers.get('content-encoding')).toBeNull();
      expect(varyOf(addedPlain.res)).toContain('accept-encoding');
      expect(sha256(addedPlain.body)).toBe(sha256(later));
    });
  });
});

describe('precompressed option validation', () => {
  it.each([['br'], [['br', 'br']], [['deflate']], [[1]], [['BR']], [{}], [1]])('refuses %j at factory time with a TypeError', (value) => {
    for (const factory of [serveStatic, serveStaticFetch] as const) {
      let thrown: unknown;
      try {
        factory(root, { precompressed: value as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(/^precompressed option /);
    }
  });

  it.each([[true], [false], [[]], [['zstd']], [['gzip', 'br', 'zstd']], [undefined]])('accepts %j', (value) => {
    expect(typeof serveStatic(root, { precompressed: value as never })).toBe('function');
    expect(typeof serveStaticFetch(root, { precompressed: value as never })).toBe('function');
  });
});

describe('precompressed in Express 5 behind compression()', () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    const app = express();
    // threshold 0: compression would encode anything it is allowed to, so only its Content-Encoding check stops it.
    app.use(compression({ threshold: 0 }));
    app.use(serveStatic(root, { precompressed: true }));
    await new Promise<void>((done) => {
      server = app.listen(0, '127.0.0.1', () => done());
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('no address');
    origin = `http://127.0.0.1:${String(address.port)}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });

  it('sends each sidecar once-encoded: its exact bytes, decoding once to the file', async () => {
    for (const name of ['app.js', 'big.txt']) {
      for (const encoding of ['br', 'gzip'] as const) {
        const fetched = await fetchBytes(`${origin}/${name}`, { 'Accept-Encoding': encoding === 'br' ? 'br, gzip' : 'gzip' });
        expect(fetched.res.status).toBe(200);
        expect(fetched.res.headers.get('content-encoding')).toBe(encoding);
        expect(varyOf(fetched.res)).toContain('accept-encoding');
        const sidecar = bytesOf(sentFile(name, encoding));
        expect(sha256(fetched.body), `${name} ${encoding}`).toBe(sha256(sidecar));
        const decoded = encoding === 'br' ? brotliDecompressSync(fetched.body) : gunzipSync(fetched.body);
        expect(sha256(decoded), `${name} ${encoding}`).toBe(sha256(bytesOf(name)));
      }
    }
  });

  it('leaves compression to encode files without a sidecar (so the check above can fail)', async () => {
    const fetched = await fetchBytes(`${origin}/plain.txt`, { 'Accept-Encoding': 'gzip' });
    expect(fetched.res.status).toBe(200);
    expect(fetched.res.headers.get('content-encoding')).toBe('gzip');
    expect(gunzipSync(fetched.body).toString()).toBe(bytesOf('plain.txt').toString());
  });
});
