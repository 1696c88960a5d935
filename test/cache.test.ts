/**
 * The `cache` option: `LookupCache`'s own bounds (entries, bytes, age), checked directly, and through both
 * doors the promise that a cache changes nothing a client can see: the same statuses, headers and bytes as
 * without it, a changed, created or deleted file seen after at most `revalidateAfter`, large files streamed
 * fresh from disk, ranges of cached files, and a fresh error for each remembered miss.
 */
import { readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import etag from 'etag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LookupCache } from '../src/cache.js';
import { describeDoors } from './doors.js';
import { FIXTURES, get, rawRequest, tempDir, type TestServer } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Size and mtime encoded in a weak ETag (`W/"<size hex>-<mtime ms hex>"`): what the headers claim. */
function claimedSize(tag: string | null): number {
  const match = /^W\/"([0-9a-f]+)-[0-9a-f]+"$/.exec(tag ?? '');
  if (match === null) throw new Error(`unexpected ETag ${tag}`);
  return parseInt(match[1]!, 16);
}

describe('LookupCache', () => {
  const limits = { maxEntries: 3, maxBytes: 10_000, maxFileSize: 1000, revalidateAfter: 100 };

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new LookupCache(limits);
    cache.set('/a', { kind: 'directory' }, 0);
    cache.set('/b', { kind: 'directory' }, 0);
    cache.set('/c', { kind: 'directory' }, 0);
    expect(cache.get('/a', 1)).toEqual({ kind: 'directory' });
    cache.set('/d', { kind: 'directory' }, 1);
    expect(cache.size.entries).toBe(3);
    expect(cache.get('/b', 2)).toBeUndefined();
    expect(cache.get('/a', 2)).toEqual({ kind: 'directory' });
    expect(cache.get('/d', 2)).toEqual({ kind: 'directory' });
  });

  it('keeps the bytes held under maxBytes', () => {
    const cache = new LookupCache({ ...limits, maxEntries: 100, maxBytes: 5000 });
    const facts = { path: '/x', original: '/x', stat: statSync(join(FIXTURES, 'todo.txt')), encoding: undefined, vary: false, etag: undefined, lastModified: undefined, type: 'x' };
    for (let i = 0; i < 10; i++) cache.set(`/f${i}`, { kind: 'memory', facts, body: Buffer.alloc(1000) }, 0);
    expect(cache.size.bytes).toBeLessThanOrEqual(5000);
    expect(cache.size.entries).toBeGreaterThan(0);
    expect(cache.get('/f9', 1)).toMatchObject({ kind: 'memory' });
    expect(cache.get('/f0', 1)).toBeUndefined();
  });

  it('drops an entry once revalidateAfter has passed', () => {
    const cache = new LookupCache(limits);
    cache.set('/a', { kind: 'directory' }, 1000);
    expect(cache.get('/a', 1099)).toEqual({ kind: 'directory' });
    expect(cache.get('/a', 1100)).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('does not hold an entry larger than maxBytes', () => {
    const cache = new LookupCache({ ...limits, maxBytes: 500 });
    const facts = { path: '/x', original: '/x', stat: statSync(join(FIXTURES, 'todo.txt')), encoding: undefined, vary: false, etag: undefined, lastModified: undefined, type: 'x' };
    cache.set('/big', { kind: 'memory', facts, body: Buffer.alloc(1000) }, 0);
    expect(cache.get('/big', 1)).toBeUndefined();
  });
});

describeDoors('cache option: validation', (door) => {
  it.each([
    [{ cache: 'yes' }, 'cache option must be a boolean or an object'],
    [{ cache: { maxEntries: -1 } }, 'cache.maxEntries must be a non-negative integer'],
    [{ cache: { maxBytes: 1.5 } }, 'cache.maxBytes must be a non-negative integer'],
    [{ cache: { maxFileSize: '1mb' } }, 'cache.maxFileSize must be a non-negative integer'],
    [{ cache: { revalidateAfter: 'soon' } }, 'cache.revalidateAfter must be a number of milliseconds (>= 0) or an ms string'],
  ])('rejects %j', async (options, message) => {
    await expect(door.serve(FIXTURES, options as never)).rejects.toThrow(new TypeError(message));
  });
});

describeDoors('cache on: same answers as without', (door) => {
  let plain: TestServer;
  let cached: TestServer;
  beforeAll(async () => {
    plain = await door.serve(FIXTURES, { extensions: ['html'] });
    cached = await door.serve(FIXTURES, { extensions: ['html'], cache: true });
  });
  afterAll(async () => {
    await plain.close();
    await cached.close();
  });

  const todo = statSync(join(FIXTURES, 'todo.txt'));
  const cases: [string, Record<string, string>][] = [
    ['/todo.txt', {}],
    ['/', {}],
    ['/users', {}],
    ['/users/', {}],
    ['/about', {}],
    ['/missing.txt', {}],
    ['/.hidden', {}],
    ['/binary.bin', {}],
    ['/nums.txt', { Range: 'bytes=2-4' }],
    ['/nums.txt', { Range: 'bytes=20-' }],
    ['/todo.txt', { 'If-None-Match': etag(todo) }],
    ['/todo.txt', { 'If-Match': '"nope"' }],
    ['/empty.txt', {}],
  ];

  it.each(cases)('GET %s %j, twice', async (path, headers) => {
    for (let round = 0; round < 2; round++) {
      const [a, b] = await Promise.all([rawRequest(plain.port, path, { headers }), rawRequest(cached.port, path, { headers })]);
      expect(b.status).toBe(a.status);
      for (const name of ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'content-range', 'location']) {
        expect([name, b.headers[name]]).toEqual([name, a.headers[name]]);
      }
      expect(b.body.equals(a.body)).toBe(true);
    }
  });

  it('answers HEAD from memory without a body', async () => {
    await get(`${cached.url}/todo.txt`);
    const res = await get(`${cached.url}/todo.txt`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('12');
    expect(await res.text()).toBe('');
  });
});

describeDoors('cache on: bounded staleness', (door) => {
  const dir = tempDir();
  let server: TestServer;
  const REVALIDATE = 150;
  beforeAll(async () => {
    server = await door.serve(dir.path, { cache: { revalidateAfter: REVALIDATE, maxFileSize: 64 * 1024 } });
  });
  afterAll(async () => {
    await server.close();
    dir.remove();
  });

  async function fetchChecked(path: string): Promise<{ status: number; body: string; tag: string | null }> {
    const res = await get(`${server.url}${path}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 200) {
      // Never bytes that disagree with the headers sent with them.
      expect(Number(res.headers.get('content-length'))).toBe(body.length);
      expect(claimedSize(res.headers.get('etag'))).toBe(body.length);
    }
    return { status: res.status, body: body.toString(), tag: res.headers.get('etag') };
  }

  it('serves a changed file fresh after at most revalidateAfter', async () => {
    const file = join(dir.path, 'page.txt');
    writeFileSync(file, 'version one\n');
    expect((await fetchChecked('/page.txt')).body).toBe('version one\n');
    writeFileSync(file, 'version two, longer\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const during = await fetchChecked('/page.txt');
    expect(['version one\n', 'version two, longer\n']).toContain(during.body);
    await sleep(REVALIDATE + 50);
    const after = await fetchChecked('/page.txt');
    expect(after.body).toBe('version two, longer\n');
    expect(after.tag).toBe(etag(statSync(file)));
  });

  it('sees a file created after a remembered miss, and a deletion, after the interval', async () => {
    expect((await fetchChecked('/late.txt')).status).toBe(404);
    writeFileSync(join(dir.path, 'late.txt'), 'here now\n');
    await sleep(REVALIDATE + 50);
    expect(await fetchChecked('/late.txt')).toMatchObject({ status: 200, body: 'here now\n' });
    rmSync(join(dir.path, 'late.txt'));
    await sleep(REVALIDATE + 50);
    expect((await fetchChecked('/late.txt')).status).toBe(404);
  });

  it('streams a file above maxFileSize from disk, fresh on every request', async () => {
    const file = join(dir.path, 'large.bin');
    const first = Buffer.alloc(100 * 1024, 1);
    writeFileSync(file, first);
    const a = await get(`${server.url}/large.bin`);
    expect(a.status).toBe(200);
    expect(Buffer.from(await a.arrayBuffer()).equals(first)).toBe(true);
    const second = Buffer.alloc(90 * 1024, 2);
    writeFileSync(`${file}.new`, second);
    renameSync(`${file}.new`, file);
    const b = await get(`${server.url}/large.bin`);
    expect(b.status).toBe(200);
    expect(b.headers.get('content-length')).toBe(String(second.length));
    expect(Buffer.from(await b.arrayBuffer()).equals(second)).toBe(true);
  });

  it('serves a range of a cached file', async () => {
    writeFileSync(join(dir.path, 'digits.txt'), '0123456789');
    expect((await fetchChecked('/digits.txt')).status).toBe(200);
    const res = await get(`${server.url}/digits.txt`, { headers: { Range: 'bytes=3-5' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 3-5/10');
    expect(await res.text()).toBe('345');
  });

  it('rebuilds a fresh error object for each remembered miss', async () => {
    const strict = await door.serve(dir.path, { cache: true, fallthrough: false });
    try {
      const first = await get(`${strict.url}/gone.txt`);
      expect(first.status).toBe(404);
      const firstBody = await first.text();
      const res = await get(`${strict.url}/gone.txt`);
      expect(res.status).toBe(404);
      if (door.name === 'node') {
        expect(await res.text()).toMatch(/^Error: ENOENT/);
        const [firstError, secondError] = strict.nexts.slice(-2) as { code: string }[];
        expect(firstError).not.toBe(secondError);
        expect(secondError).toMatchObject({ code: 'ENOENT', status: 404, expose: false });
      } else {
        // No error object leaves the fetch door: the remembered miss is answered with the same page as the
        // first, which shows the status text and not the fs message (it names a server path).
        expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
        const body = await res.text();
        expect(body).toContain('<pre>Not Found</pre>');
        expect(body).not.toContain(dir.path);
        expect(body).toBe(firstBody);
        expect(strict.nexts).toEqual([]);
      }
    } finally {
      await strict.close();
    }
  });
});

describeDoors('cache on: file contents are what the fixtures hold', (door) => {
  it('serves the binary fixture byte for byte from memory', async () => {
    const server = await door.serve(FIXTURES, { cache: true });
    try {
      const expected = readFileSync(join(FIXTURES, 'binary.bin'));
      for (let i = 0; i < 2; i++) {
        const res = await get(`${server.url}/binary.bin`);
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
      }
    } finally {
      await server.close();
    }
  });
});
