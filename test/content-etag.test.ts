/**
 * `etag: 'content'` (issue 11, fleets), through real requests on both doors:
 * - the format: a strong ETag, `"` + base64url SHA-256 of the exact bytes + `"`, for an empty file, a file the
 *   file thread answers in one hop, and files streamed and hashed in chunks; the same on HEAD, GET and 206,
 *   with Last-Modified still sent;
 * - two origins holding copies of one tree (own inodes, modification times a day apart): the same ETags, each
 *   answering the other's validators (If-None-Match 304, If-Range 206, If-Match 200/412), against a control
 *   with the default weak ETags, which differ;
 * - versions: a same-size rewrite that restores the modification time, a rename-replacement, and the lookup
 *   cache seeing a new version after `revalidateAfter`;
 * - precompressed sidecars: each representation's ETag is the digest of its own bytes, 304 per representation;
 * - large files: while the first request for a 256 MiB file is digested, the event loop turns and other requests
 *   are answered; 20 concurrent first requests share one digest, get the same ETag, and each keeps its own async
 *   context;
 * - the bound on remembered digests: after more than 10,000 distinct files, the first is digested again, the same;
 * - option validation at factory time.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, serveStaticFetch } from '../src/index.js';
import { describeDoors, type Door } from './doors.js';
import { FIXTURES, finalHandler, get, listen, tempDir, type TestServer } from './helpers.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A content ETag: 32 digest bytes are 43 base64url characters, in quotes, never weak. */
const CONTENT_ETAG = /^"[A-Za-z0-9_-]{43}"$/;
/** serve-static's weak ETag: size and modification time in hex. */
const WEAK_ETAG = /^W\/"[0-9a-f]+-[0-9a-f]+"$/;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The ETag the issue specifies, computed here independently of src/digest.ts. */
function contentEtag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url')}"`;
}

async function bodyOf(response: Response): Promise<Buffer> {
  return Buffer.from(await response.arrayBuffer());
}

/**
 * A temp dir for the enclosing suite, made when the suite starts and removed when it ends (made at collection
 * time, a suite filtered out with `-t` would leave its directory behind).
 */
function suiteDir(prefix: string): { readonly path: string } {
  let dir: ReturnType<typeof tempDir> | undefined;
  beforeAll(() => {
    dir = tempDir(prefix);
  });
  // Registered first, so it runs after the suite's own afterAll hooks have closed its servers.
  afterAll(() => dir?.remove());
  return {
    get path(): string {
      if (dir === undefined) throw new Error('the suite directory exists only while the suite runs');
      return dir.path;
    },
  };
}

/** Writes `files` (paths relative to `root`) and gives every one the same modification time. */
function writeTree(root: string, files: Readonly<Record<string, Buffer>>, mtime: Date): void {
  for (const [name, bytes] of Object.entries(files)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    utimesSync(path, mtime, mtime);
  }
}

/**
 * A sparse file of `size` bytes with random bytes at both ends: cheap to create, yet reading and hashing it
 * costs what any file of that size costs.
 */
function writeLargeFile(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    writeSync(fd, randomBytes(64 * 1024), 0, 64 * 1024, 0);
    writeSync(fd, randomBytes(64 * 1024), 0, 64 * 1024, size - 64 * 1024);
  } finally {
    closeSync(fd);
  }
}

interface StreamedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `performance.now()` when the status line and headers arrived. */
  readonly headersAt: number;
  readonly length: number;
  /** The body's digest in the content-ETag format, hashed as it arrived (no buffering of large bodies). */
  readonly digest: string;
}

/** A GET whose body is hashed chunk by chunk as it arrives, so the client adds no long turn of its own. */
function streamedGet(url: string, headers: Record<string, string> = {}, onHeaders?: () => void): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const headersAt = performance.now();
      onHeaders?.();
      const hash = createHash('sha256');
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        length += chunk.length;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, headersAt, length, digest: `"${hash.digest('base64url')}"` }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The content ETag of a file, read and hashed in one synchronous turn (1 MiB reads, no whole-file buffer). */
function synchronousDigest(path: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(path, 'r');
  try {
    for (let bytesRead = readSync(fd, buffer); bytesRead > 0; bytesRead = readSync(fd, buffer)) hash.update(buffer.subarray(0, bytesRead));
  } finally {
    closeSync(fd);
  }
  return `"${hash.digest('base64url')}"`;
}

/**
 * A 5 ms interval that records when it ticked and the longest gap between ticks: how long the event loop was
 * held by one turn (plus the interval itself).
 */
function heartbeat(): { stop(): { startedAt: number; ticks: number[]; worst: number } } {
  const startedAt = performance.now();
  const ticks: number[] = [];
  let last = startedAt;
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    ticks.push(now);
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return { startedAt, ticks, worst: Math.max(worst, performance.now() - last) };
    },
  };
}

/**
 * Serves `root` with `etag: 'content'` through `door`, each request running in an `AsyncLocalStorage` store
 * named by its `X-Request-Id`, and a `setHeaders` hook that reports the store it sees in `X-Seen-Request-Id`:
 * what an application's request-scoped logging or tracing would see. `door.serve` cannot wrap the listener,
 * so this builds the same two servers as test/doors.ts with the store around them.
 */
async function serveWithContext(door: Door, root: string, storage: AsyncLocalStorage<string>): Promise<TestServer> {
  const seen = (): string => storage.getStore() ?? 'none';
  const nexts: (unknown | null)[] = [];
  if (door.name === 'node') {
    const middleware = serveStatic(root, { etag: 'content', setHeaders: (res) => res.setHeader('X-Seen-Request-Id', seen()) });
    const server = await listen((req, res) =>
      storage.run(String(req.headers['x-request-id']), () => middleware(req, res, (err) => finalHandler(nexts, req, res, err))),
    );
    return { ...server, nexts };
  }
  const handler = serveStaticFetch(root, { etag: 'content', setHeaders: (headers) => headers.set('X-Seen-Request-Id', seen()) });
  const listener = getRequestListener((incoming) =>
    storage.run(incoming.headers.get('x-request-id') ?? 'none', async () => {
      const response = await handler(incoming);
      if (response !== undefined) return response;
      nexts.push(null);
      return new Response('fell through', { status: 404 });
    }),
  );
  return { ...(await listen(listener)), nexts };
}

describeDoors('etag: content', (door) => {
  describe('format', () => {
    const dir = suiteDir('brisk-static-content-etag-');
    const files: Record<string, Buffer> = {
      'empty.txt': Buffer.alloc(0),
      // Below the one-hop limit: the file thread answers with the bytes, digested in hand.
      'one-kib.bin': randomBytes(1024),
      // Above it: streamed from a descriptor and digested in two reads (256 KiB chunks).
      'three-hundred-kib.bin': randomBytes(300 * 1024),
      'eight-mib.bin': randomBytes(8 * 1024 * 1024),
    };
    let server: TestServer;

    beforeAll(async () => {
      writeTree(dir.path, files, new Date(Date.now() - DAY_MS));
      server = await door.serve(dir.path, { etag: 'content' });
    });
    afterAll(async () => {
      await server.close();
    });

    it.each(Object.keys(files))('%s: "<base64url sha256>", strong, the same on HEAD (first), GET and 206', async (name) => {
      const bytes = files[name] as Buffer;
      const expected = contentEtag(bytes);
      const lastModified = statSync(join(dir.path, name)).mtime.toUTCString();
      expect(expected).toMatch(CONTENT_ETAG);

      // HEAD first: the lookup finds the file by stat alone and must open it to digest it.
      const head = await get(`${server.url}/${name}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('etag')).toBe(expected);
      expect(head.headers.get('last-modified')).toBe(lastModified);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect((await bodyOf(head)).length).toBe(0);

      const full = await get(`${server.url}/${name}`);
      expect(full.status).toBe(200);
      expect(full.headers.get('etag')).toBe(expected);
      expect(full.headers.get('last-modified')).toBe(lastModified);
      expect(full.headers.get('content-length')).toBe(String(bytes.length));
      expect((await bodyOf(full)).equals(bytes)).toBe(true);

      // An empty file has no byte range to send; every other one answers a range with the same validator.
      if (bytes.length === 0) return;
      const partial = await get(`${server.url}/${name}`, { headers: { Range: 'bytes=10-109' } });
      expect(partial.status).toBe(206);
      expect(partial.headers.get('etag')).toBe(expected);
      expect(partial.headers.get('last-modified')).toBe(lastModified);
      expect(partial.headers.get('content-range')).toBe(`bytes 10-109/${String(bytes.length)}`);
      expect((await bodyOf(partial)).equals(bytes.subarray(10, 110))).toBe(true);
    });

    it('GET first, then a conditional GET with that ETag is a 304 with the same ETag', async () => {
      const name = 'late.txt';
      const bytes = Buffer.from('requested by GET first\n');
      writeTree(dir.path, { [name]: bytes }, new Date(Date.now() - DAY_MS));
      const first = await get(`${server.url}/${name}`);
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe(contentEtag(bytes));
      expect((await bodyOf(first)).equals(bytes)).toBe(true);

      const again = await get(`${server.url}/${name}`, { headers: { 'If-None-Match': contentEtag(bytes) } });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(contentEtag(bytes));
      expect(again.headers.get('content-length')).toBeNull();
      expect((await bodyOf(again)).length).toBe(0);
    });
  });

  describe('two origins holding copies of one tree', () => {
    const dir = suiteDir('brisk-static-origins-');
    const tree: Record<string, Buffer> = {
      'index.html': Buffer.from('<!doctype html><title>fleet</title><script type="module" src="/assets/app.js"></script>\n'),
      'assets/app.js': Buffer.from(`export const build = 'one commit';\n${'// padding\n'.repeat(2000)}`),
      'media/clip.bin': randomBytes(2 * 1024 * 1024),
    };
    let rootA: string;
    let rootB: string;
    // Deployed from one commit, a day apart: a checkout or an image build gives each copy its own times.
    const mtimeA = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * DAY_MS);
    const mtimeB = new Date(mtimeA.getTime() + DAY_MS);
    let a: TestServer;
    let b: TestServer;
    let weakA: TestServer;
    let weakB: TestServer;

    beforeAll(async () => {
      rootA = join(dir.path, 'a');
      rootB = join(dir.path, 'b');
      writeTree(rootA, tree, mtimeA);
      writeTree(rootB, tree, mtimeB);
      [a, b, weakA, weakB] = await Promise.all([
        door.serve(rootA, { etag: 'content' }),
        door.serve(rootB, { etag: 'content' }),
        door.serve(rootA),
        door.serve(rootB),
      ]);
    });
    afterAll(async () => {
      await Promise.all([a, b, weakA, weakB].map((server) => server?.close()));
    });

    it('the copies are distinct files: own inodes, modification times a day apart, the same bytes', () => {
      for (const name of Object.keys(tree)) {
        const statA = statSync(join(rootA, name));
        const statB = statSync(join(rootB, name));
        expect(statA.ino, name).not.toBe(statB.ino);
        expect(statB.mtimeMs - statA.mtimeMs, name).toBe(DAY_MS);
        expect(readFileSync(join(rootA, name)).equals(readFileSync(join(rootB, name))), name).toBe(true);
      }
    });

    it.each(Object.keys(tree))('%s: the same strong ETag from both, each with its own Last-Modified', async (name) => {
      const bytes = tree[name] as Buffer;
      const [fromA, fromB] = await Promise.all([get(`${a.url}/${name}`), get(`${b.url}/${name}`)]);
      for (const response of [fromA, fromB]) {
        expect(response.status).toBe(200);
        expect(response.headers.get('etag')).toBe(contentEtag(bytes));
        expect((await bodyOf(response)).equals(bytes)).toBe(true);
      }
      expect(fromA.headers.get('last-modified')).toBe(mtimeA.toUTCString());
      expect(fromB.headers.get('last-modified')).toBe(mtimeB.toUTCString());
    });

    it("each answers the other's validators with 304 (If-None-Match wins over an older or newer If-Modified-Since)", async () => {
      // A file each origin has never digested: on the second origin, the conditional request is its first.
      const name = `conditional-first-${door.name}.css`;
      const bytes = Buffer.from(`body { color: ${door.name === 'node' ? 'teal' : 'navy'}; }\n`);
      writeTree(rootA, { [name]: bytes }, mtimeA);
      writeTree(rootB, { [name]: bytes }, mtimeB);
      for (const file of [...Object.keys(tree), name]) {
        for (const [from, to, toMtime] of [
          [a, b, mtimeB],
          [b, a, mtimeA],
        ] as const) {
          const first = await get(`${from.url}/${file}`);
          expect(first.status, file).toBe(200);
          const etag = first.headers.get('etag') as string;
          const lastModified = first.headers.get('last-modified') as string;
          // A cache revalidates with both validators it holds, as nginx does.
          const revalidated = await get(`${to.url}/${file}`, { headers: { 'If-None-Match': etag, 'If-Modified-Since': lastModified } });
          expect(revalidated.status, file).toBe(304);
          expect(revalidated.headers.get('etag'), file).toBe(etag);
          expect(revalidated.headers.get('last-modified'), file).toBe(toMtime.toUTCString());
          expect((await bodyOf(revalidated)).length, file).toBe(0);
        }
      }
    });

    it.each(['assets/app.js', 'media/clip.bin'])("%s: If-Range with the other origin's ETag resumes with 206", async (name) => {
      const bytes = tree[name] as Buffer;
      const etag = (await get(`${a.url}/${name}`)).headers.get('etag') as string;
      const resumed = await get(`${b.url}/${name}`, { headers: { Range: 'bytes=0-99', 'If-Range': etag } });
      expect(resumed.status).toBe(206);
      expect(resumed.headers.get('etag')).toBe(etag);
      expect(resumed.headers.get('content-range')).toBe(`bytes 0-99/${String(bytes.length)}`);
      expect((await bodyOf(resumed)).equals(bytes.subarray(0, 100))).toBe(true);

      // A validator of other bytes: the whole file, as RFC 9110 section 13.1.5 requires.
      const stale = await get(`${b.url}/${name}`, { headers: { Range: 'bytes=0-99', 'If-Range': contentEtag(Buffer.from('old')) } });
      expect(stale.status).toBe(200);
      expect(stale.headers.get('content-range')).toBeNull();
      expect((await bodyOf(stale)).equals(bytes)).toBe(true);
    });

    it("If-Match with the other origin's ETag is a 200; with another ETag a 412", async () => {
      const name = 'assets/app.js';
      const bytes = tree[name] as Buffer;
      const etag = (await get(`${b.url}/${name}`)).headers.get('etag') as string;
      const matched = await get(`${a.url}/${name}`, { headers: { 'If-Match': etag } });
      expect(matched.status).toBe(200);
      expect(matched.headers.get('etag')).toBe(etag);
      expect((await bodyOf(matched)).equals(bytes)).toBe(true);

      const before = a.nexts.length;
      const failed = await get(`${a.url}/${name}`, { headers: { 'If-Match': contentEtag(Buffer.from('other bytes')) } });
      expect(failed.status).toBe(412);
      expect(await failed.text()).toContain('Precondition Failed');
      if (door.name === 'node') expect((a.nexts.slice(before)[0] as { status?: number } | undefined)?.status).toBe(412);
    });

    it("control, etag: true: weak ETags that differ, so neither origin honours the other's validators", async () => {
      for (const name of Object.keys(tree)) {
        const bytes = tree[name] as Buffer;
        const fromA = await get(`${weakA.url}/${name}`);
        const fromB = await get(`${weakB.url}/${name}`);
        const etagA = fromA.headers.get('etag') as string;
        expect(etagA, name).toMatch(WEAK_ETAG);
        expect(fromB.headers.get('etag'), name).toMatch(WEAK_ETAG);
        expect(fromB.headers.get('etag'), name).not.toBe(etagA);
        await bodyOf(fromB);

        const revalidated = await get(`${weakB.url}/${name}`, {
          headers: { 'If-None-Match': etagA, 'If-Modified-Since': fromA.headers.get('last-modified') as string },
        });
        expect(revalidated.status, name).toBe(200);
        expect((await bodyOf(revalidated)).equals(bytes), name).toBe(true);

        const resumed = await get(`${weakB.url}/${name}`, { headers: { Range: 'bytes=0-99', 'If-Range': etagA } });
        expect(resumed.status, name).toBe(200);
        expect((await bodyOf(resumed)).equals(bytes), name).toBe(true);

        const matched = await get(`${weakB.url}/${name}`, { headers: { 'If-Match': etagA } });
        expect(matched.status, name).toBe(412);
        await bodyOf(matched);
        expect((await bodyOf(fromA)).equals(bytes), name).toBe(true);
      }
    });
  });

  describe('a new version of a file gets a new ETag', () => {
    const dir = suiteDir('brisk-static-versions-');
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY_MS);
    let content: TestServer;
    let weak: TestServer;

    beforeAll(async () => {
      [content, weak] = await Promise.all([door.serve(dir.path, { etag: 'content' }), door.serve(dir.path)]);
    });
    afterAll(async () => {
      await Promise.all([content?.close(), weak?.close()]);
    });

    it('a rewrite of the same size that restores the modification time (only the change time moves)', async () => {
      const path = join(dir.path, 'config.json');
      const v1 = Buffer.from('{"api":"https://one.example"}\n');
      const v2 = Buffer.from('{"api":"https://two.example"}\n');
      expect(v2.length).toBe(v1.length);
      writeTree(dir.path, { 'config.json': v1 }, mtime);
      const first = await get(`${content.url}/config.json`);
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe(contentEtag(v1));
      expect((await bodyOf(first)).equals(v1)).toBe(true);
      const weakFirst = await get(`${weak.url}/config.json`);
      await bodyOf(weakFirst);
      const before = statSync(path);

      // File times come from a coarse clock (a kernel tick, a few ms): without a pause, a rewrite this quick
      // could keep even the change time, and nothing in stat would tell the versions apart.
      await sleep(30);
      writeFileSync(path, v2);
      utimesSync(path, mtime, mtime);
      const after = statSync(path);
      expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
      expect(after.ctimeMs).not.toBe(before.ctimeMs);

      const second = await get(`${content.url}/config.json`);
      expect(second.status).toBe(200);
      expect(second.headers.get('etag')).toBe(contentEtag(v2));
      expect(second.headers.get('last-modified')).toBe(first.headers.get('last-modified'));
      expect((await bodyOf(second)).equals(v2)).toBe(true);
      // A cache holding v1 revalidates and gets v2.
      const revalidated = await get(`${content.url}/config.json`, { headers: { 'If-None-Match': contentEtag(v1) } });
      expect(revalidated.status).toBe(200);
      expect(revalidated.headers.get('etag')).toBe(contentEtag(v2));
      expect((await bodyOf(revalidated)).equals(v2)).toBe(true);

      // The default weak ETag cannot see it: a cache holding v1 would be told it is still current.
      const weakSecond = await get(`${weak.url}/config.json`, { headers: { 'If-None-Match': weakFirst.headers.get('etag') as string } });
      expect(weakSecond.status).toBe(304);
      expect(weakSecond.headers.get('etag')).toBe(weakFirst.headers.get('etag'));
    });

    it('a replacement renamed into place with the same size and modification time (a new inode)', async () => {
      const path = join(dir.path, 'bundle.bin');
      const v1 = randomBytes(300 * 1024);
      const v2 = randomBytes(300 * 1024);
      writeTree(dir.path, { 'bundle.bin': v1 }, mtime);
      const first = await get(`${content.url}/bundle.bin`);
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe(contentEtag(v1));
      expect((await bodyOf(first)).equals(v1)).toBe(true);
      const before = statSync(path);

      writeTree(dir.path, { 'bundle.bin.next': v2 }, mtime);
      renameSync(join(dir.path, 'bundle.bin.next'), path);
      const after = statSync(path);
      expect(after.ino).not.toBe(before.ino);
      expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);

      const second = await get(`${content.url}/bundle.bin`, { headers: { 'If-None-Match': contentEtag(v1) } });
      expect(second.status).toBe(200);
      expect(second.headers.get('etag')).toBe(contentEtag(v2));
      expect((await bodyOf(second)).equals(v2)).toBe(true);
      const weakSecond = await get(`${weak.url}/bundle.bin`);
      expect(weakSecond.headers.get('etag')).toBe(`W/"${after.size.toString(16)}-${after.mtimeMs.toString(16)}"`);
      expect((await bodyOf(weakSecond)).equals(v2)).toBe(true);
    });

    it('with the lookup cache, the new version and its ETag arrive together after revalidateAfter', async () => {
      const revalidateAfter = 300;
      const cached = await door.serve(dir.path, { etag: 'content', cache: { revalidateAfter } });
      try {
        const path = join(dir.path, 'shell.html');
        const v1 = Buffer.from('<!doctype html><title>release 1</title>\n');
        const v2 = Buffer.from('<!doctype html><title>release 2</title>\n');
        writeTree(dir.path, { 'shell.html': v1 }, mtime);
        const first = await get(`${cached.url}/shell.html`);
        expect(first.status).toBe(200);
        expect(first.headers.get('etag')).toBe(contentEtag(v1));
        expect((await bodyOf(first)).equals(v1)).toBe(true);

        await sleep(30);
        writeFileSync(path, v2);
        utimesSync(path, mtime, mtime);
        const changedAt = Date.now();
        // Within revalidateAfter either version may be served, but never one version's bytes with the other's ETag.
        const soon = await get(`${cached.url}/shell.html`);
        const soonBody = await bodyOf(soon);
        expect(soon.status).toBe(200);
        expect(soon.headers.get('etag')).toBe(contentEtag(soonBody));
        expect([v1, v2].some((version) => version.equals(soonBody))).toBe(true);

        await sleep(Math.max(0, changedAt + revalidateAfter + 100 - Date.now()));
        const later = await get(`${cached.url}/shell.html`, { headers: { 'If-None-Match': contentEtag(v1) } });
        expect(later.status).toBe(200);
        expect(later.headers.get('etag')).toBe(contentEtag(v2));
        expect((await bodyOf(later)).equals(v2)).toBe(true);
        const again = await get(`${cached.url}/shell.html`, { headers: { 'If-None-Match': contentEtag(v2) } });
        expect(again.status).toBe(304);
        expect(again.headers.get('etag')).toBe(contentEtag(v2));
      } finally {
        await cached.close();
      }
    });
  });

  describe('precompressed sidecars', () => {
    const dir = suiteDir('brisk-static-content-sidecars-');
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY_MS);
    const script = Buffer.from(`export const answer = 42;\n${'console.log("a line of a bundle");\n'.repeat(600)}`);
    // Random bytes barely compress: the .gz is above the one-hop limit and is streamed and hashed in chunks.
    const blob = randomBytes(300 * 1024);
    const files: Record<string, Buffer> = {
      'app.js': script,
      'app.js.br': brotliCompressSync(script),
      'app.js.gz': gzipSync(script),
      'blob.bin': blob,
      'blob.bin.gz': gzipSync(blob),
    };
    let server: TestServer;

    beforeAll(async () => {
      writeTree(dir.path, files, mtime);
      server = await door.serve(dir.path, { etag: 'content', precompressed: true });
    });
    afterAll(async () => {
      await server.close();
    });

    it('each representation has the digest of its own bytes as its ETag (HEAD first), and a 304 of its own', async () => {
      const cases = [
        { path: 'app.js', acceptEncoding: 'br', encoding: 'br', bytes: files['app.js.br'] as Buffer },
        { path: 'app.js', acceptEncoding: 'gzip', encoding: 'gzip', bytes: files['app.js.gz'] as Buffer },
        { path: 'app.js', acceptEncoding: 'identity', encoding: null, bytes: script },
        { path: 'blob.bin', acceptEncoding: 'gzip, br', encoding: 'gzip', bytes: files['blob.bin.gz'] as Buffer },
        { path: 'blob.bin', acceptEncoding: 'identity', encoding: null, bytes: blob },
      ];
      expect(new Set(cases.map(({ bytes }) => contentEtag(bytes))).size).toBe(cases.length);
      for (const { path, acceptEncoding, encoding, bytes } of cases) {
        const label = `${path} ${acceptEncoding}`;
        const expected = contentEtag(bytes);
        const head = await get(`${server.url}/${path}`, { method: 'HEAD', headers: { 'Accept-Encoding': acceptEncoding } });
        expect(head.status, label).toBe(200);
        expect(head.headers.get('etag'), label).toBe(expected);
        expect(head.headers.get('content-encoding'), label).toBe(encoding);

        const response = await get(`${server.url}/${path}`, { headers: { 'Accept-Encoding': acceptEncoding } });
        expect(response.status, label).toBe(200);
        expect(response.headers.get('etag'), label).toBe(expected);
        expect(response.headers.get('content-encoding'), label).toBe(encoding);
        expect(response.headers.get('vary'), label).toBe('Accept-Encoding');
        expect((await bodyOf(response)).equals(bytes), label).toBe(true);

        const notModified = await get(`${server.url}/${path}`, { headers: { 'Accept-Encoding': acceptEncoding, 'If-None-Match': expected } });
        expect(notModified.status, label).toBe(304);
        expect(notModified.headers.get('etag'), label).toBe(expected);
        expect(notModified.headers.get('vary'), label).toBe('Accept-Encoding');
        expect((await bodyOf(notModified)).length, label).toBe(0);
      }
    });

    it("another representation's ETag is not a match: the full representation asked for", async () => {
      const identityEtag = contentEtag(script);
      const brEtag = contentEtag(files['app.js.br'] as Buffer);
      const br = await get(`${server.url}/app.js`, { headers: { 'Accept-Encoding': 'br', 'If-None-Match': identityEtag } });
      expect(br.status).toBe(200);
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(br.headers.get('etag')).toBe(brEtag);
      expect((await bodyOf(br)).equals(files['app.js.br'] as Buffer)).toBe(true);

      const identity = await get(`${server.url}/app.js`, { headers: { 'If-None-Match': brEtag } });
      expect(identity.status).toBe(200);
      expect(identity.headers.get('content-encoding')).toBeNull();
      expect(identity.headers.get('etag')).toBe(identityEtag);
      expect((await bodyOf(identity)).equals(script)).toBe(true);
    });
  });

  describe('large files', () => {
    const dir = suiteDir('brisk-static-large-');
    let server: TestServer;

    beforeAll(async () => {
      server = await door.serve(dir.path, { etag: 'content' });
    });
    afterAll(async () => {
      await server.close();
    });

    it('while a 256 MiB file is digested for its first request, the event loop turns and other requests are answered', { timeout: 30_000 }, async () => {
      const path = join(dir.path, 'disk-image.bin');
      const size = 256 * 1024 * 1024;
      writeLargeFile(path, size);
      const small = Buffer.from('a small file answered meanwhile\n');
      writeFileSync(join(dir.path, 'small.txt'), small);

      // The ETag goes out in the headers, so until they arrive the server is digesting the file.
      const during = heartbeat();
      let digesting = true;
      const large = streamedGet(`${server.url}/disk-image.bin`, {}, () => (digesting = false));
      void large.catch(() => (digesting = false));
      let answeredMeanwhile = 0;
      while (digesting) {
        const response = await get(`${server.url}/small.txt`);
        expect(response.status).toBe(200);
        expect((await bodyOf(response)).equals(small)).toBe(true);
        if (digesting) answeredMeanwhile++;
      }
      const first = await large;
      const turns = during.stop();

      // The yardstick, measured here with the same heartbeat: one synchronous digest of the same file. On the
      // shared 2-core machine this was written on, a synchronous SHA-256 took about 90 ms for 64 MiB and
      // 185-550 ms for 256 MiB (with other processes' load); a 256 KiB chunk costs well under 1 ms. Those other
      // processes also deschedule this one for 20-110 ms now and then, so no fixed bound on one turn is both
      // far below a synchronous digest and safe from that noise: the longest turn is held to below the
      // measured synchronous stall, and what a synchronous digest could never allow is asserted as counts.
      const blocking = heartbeat();
      await sleep(20);
      const expected = synchronousDigest(path);
      await sleep(20);
      const syncWorst = blocking.stop().worst;

      expect(first.status).toBe(200);
      expect(first.headers.etag).toBe(expected);
      expect(first.length).toBe(size);
      expect(first.digest).toBe(expected);
      const digestMs = first.headersAt - turns.startedAt;
      const ticksWhileDigesting = turns.ticks.filter((at) => at < first.headersAt).length;
      const report = `digest ${digestMs.toFixed(0)} ms, ${String(ticksWhileDigesting)} ticks, ${String(answeredMeanwhile)} requests answered meanwhile, longest turn ${turns.worst.toFixed(1)} ms, synchronous digest ${syncWorst.toFixed(1)} ms`;
      // A digest done in one turn would leave no tick and no other request inside it.
      // The yardstick must be a real stall (several heartbeat periods) on any machine, fast ones included.
      expect(syncWorst, report).toBeGreaterThan(25);
      expect(ticksWhileDigesting, report).toBeGreaterThanOrEqual(Math.min(20, digestMs / 5 / 4));
      expect(answeredMeanwhile, report).toBeGreaterThanOrEqual(5);
      expect(turns.worst, report).toBeLessThan(syncWorst);
    });

    it('20 concurrent first requests get the same ETag, and each keeps its own request context', { timeout: 30_000 }, async () => {
      const path = join(dir.path, 'release.tar');
      const size = 16 * 1024 * 1024;
      writeLargeFile(path, size);
      const expected = synchronousDigest(path);
      const storage = new AsyncLocalStorage<string>();
      const contextual = await serveWithContext(door, dir.path, storage);
      try {
        const ids = Array.from({ length: 20 }, (_, i) => `request-${String(i)}`);
        const responses = await Promise.all(ids.map((id) => streamedGet(`${contextual.url}/release.tar`, { 'X-Request-Id': id })));
        for (const [i, response] of responses.entries()) {
          expect(response.status, ids[i]).toBe(200);
          expect(response.headers.etag, ids[i]).toBe(expected);
          expect(response.length, ids[i]).toBe(size);
          expect(response.digest, ids[i]).toBe(expected);
        }
        // Requests that waited for another's digest must still run their hooks in their own context.
        expect(responses.map((response) => response.headers['x-seen-request-id'])).toEqual(ids);
      } finally {
        await contextual.close();
      }
    });
  });

  describe('remembered digests are bounded', () => {
    const dir = suiteDir('brisk-static-many-');
    /** More versions than the 10,000 remembered: the first file's digest has been forgotten by the end. */
    const COUNT = 10_050;
    const nameOf = (i: number): string => `f${String(i).padStart(5, '0')}.txt`;
    const bytesOf = (i: number): Buffer => Buffer.from(`file ${String(i)}\n`);
    let server: TestServer;

    beforeAll(async () => {
      mkdirSync(join(dir.path, 'many'));
      for (let i = 0; i < COUNT; i++) writeFileSync(join(dir.path, 'many', nameOf(i)), bytesOf(i));
      server = await door.serve(join(dir.path, 'many'), { etag: 'content' });
    });
    afterAll(async () => {
      await server.close();
    });

    it(`after ${String(COUNT)} distinct files, the first file is digested again, to the same ETag`, { timeout: 40_000 }, async () => {
      const first = await get(`${server.url}/${nameOf(0)}`);
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe(contentEtag(bytesOf(0)));
      expect((await bodyOf(first)).equals(bytesOf(0))).toBe(true);

      // Keep-alive connections (fetch), 16 at a time: a new connection per request would triple the time.
      const wrong: string[] = [];
      let next = 1;
      const worker = async (): Promise<void> => {
        while (next < COUNT) {
          const i = next++;
          const response = await fetch(`${server.url}/${nameOf(i)}`);
          const body = await bodyOf(response);
          if (response.status !== 200 || response.headers.get('etag') !== contentEtag(bytesOf(i)) || !body.equals(bytesOf(i))) {
            wrong.push(`${nameOf(i)}: ${String(response.status)} ${String(response.headers.get('etag'))}`);
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      expect(wrong).toEqual([]);

      const head = await get(`${server.url}/${nameOf(0)}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('etag')).toBe(contentEtag(bytesOf(0)));
      const again = await get(`${server.url}/${nameOf(0)}`);
      expect(again.status).toBe(200);
      expect(again.headers.get('etag')).toBe(contentEtag(bytesOf(0)));
      expect((await bodyOf(again)).equals(bytesOf(0))).toBe(true);
      const notModified = await get(`${server.url}/${nameOf(1)}`, { headers: { 'If-None-Match': contentEtag(bytesOf(1)) } });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.get('etag')).toBe(contentEtag(bytesOf(1)));
    });
  });
});

describe('etag option validation', () => {
  const factories = [
    ['serveStatic', (options: object) => serveStatic('.', options)],
    ['serveStaticFetch', (options: object) => serveStaticFetch('.', options)],
  ] as const;

  it.each(factories)("%s: 'strong' and 'Content' are a TypeError at factory time", (_, factory) => {
    for (const value of ['strong', 'Content']) {
      expect(() => factory({ etag: value }), value).toThrow(TypeError);
      expect(() => factory({ etag: value }), value).toThrow(/etag/);
    }
  });

  it.each(factories)("%s: 'content' is accepted", (_, factory) => {
    expect(typeof factory({ etag: 'content' })).toBe('function');
  });

  it("an empty string turns ETags off, as serve-static reads it", async () => {
    const fetched = await serveStaticFetch(FIXTURES, { etag: '' as never })(new Request('http://localhost/todo.txt'));
    expect(fetched?.status).toBe(200);
    expect(fetched?.headers.get('etag')).toBeNull();
    expect(fetched?.headers.get('last-modified')).not.toBeNull();
    expect(await fetched?.text()).toBe(readFileSync(join(FIXTURES, 'todo.txt'), 'utf8'));
  });

  it('the types name the accepted string', () => {
    // @ts-expect-error only 'content' is a valid string
    expect(() => serveStatic('.', { etag: 'strong' })).toThrow(TypeError);
    // @ts-expect-error only 'content' is a valid string
    expect(() => serveStaticFetch('.', { etag: 'Content' })).toThrow(TypeError);
  });
});
