/**
 * Faults from outside the request: the process out of descriptors (EMFILE, in a child process under a low
 * limit: a 503, never a crash, and serving resumes), and a file renamed over, deleted, truncated or grown
 * while a slow client downloads it (through both doors: the old bytes in full, or a cut connection, never a
 * complete response that contradicts its Content-Length; and no descriptor left open). Linux only, as the
 * rest of the suite: descriptors are counted in /proc/self/fd.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, realpathSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { get, openDescriptorCount, settledDescriptorCount, tempDir, type TestServer } from './helpers.js';

// A child process whose server is built by hand, so that each door can be reached under one descriptor
// limit: the Connect door three ways, and the fetch door behind @hono/node-server's listener.
describe('descriptor exhaustion (EMFILE) in a real server process', () => {
  const dir = tempDir();
  /** Low enough to exhaust in a moment, high enough for Node to start. */
  const LIMIT = 256;
  let child: ChildProcess;
  let url: string;
  const messages: { type: string; [key: string]: unknown }[] = [];
  const waiters = new Map<string, (message: { type: string; [key: string]: unknown }) => void>();

  /**
   * The child serves `root` five ways: `/next/…` (default options, final handler reports `next(err)` over
   * IPC), `/strict/…` (`fallthrough: false`), `/bare/…` (no `next`, as on plain node:http), and the fetch
   * door as `/fetch/…` (default options) and `/fetch-strict/…`, whose misses are reported over IPC as `next`
   * with `err: null`. On `exhaust` it opens /dev/null until EMFILE, then closes `spare` of them: one for the
   * connection it must accept, none left for the middleware's open(). On `release` it closes them all.
   * `@hono/node-server` is resolved from this checkout, the child's working directory.
   */
  const script = `
    import { closeSync, openSync } from 'node:fs';
    import { createServer } from 'node:http';
    import { getRequestListener } from '@hono/node-server';
    import serveStatic, { serveStaticFetch } from ${JSON.stringify(resolve('dist/index.js'))};
    const root = ${JSON.stringify(dir.path)};
    const doors = { next: serveStatic(root), strict: serveStatic(root, { fallthrough: false }), bare: serveStatic(root) };
    const fetchListener = (door, handler) => getRequestListener(async (request) => {
      const response = await handler(request);
      if (response !== undefined) return response;
      process.send({ type: 'next', door, err: null });
      return new Response('fell through', { status: 404 });
    });
    const fetchDoors = {
      fetch: fetchListener('fetch', serveStaticFetch(root)),
      'fetch-strict': fetchListener('fetch-strict', serveStaticFetch(root, { fallthrough: false })),
    };
    let held = [];
    const server = createServer((req, res) => {
      const [, door, ...rest] = req.url.split('/');
      req.url = '/' + rest.join('/');
      if (door === 'bare') return doors.bare(req, res);
      if (door in fetchDoors) return fetchDoors[door](req, res);
      doors[door](req, res, (err) => {
        process.send({ type: 'next', door, err: err ? { status: err.status, statusCode: err.statusCode, code: err.code, expose: err.expose } : null });
        res.statusCode = err ? err.status : 404;
        res.end(err ? err.status + ' ' + err.code : 'fell through');
      });
    });
    process.on('message', (message) => {
      if (message.type === 'exhaust') {
        let code;
        try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (error) { code = error.code; }
        for (let i = 0; i < message.spare; i++) closeSync(held.pop());
        process.send({ type: 'exhausted', code, held: held.length });
      } else if (message.type === 'release') {
        for (const fd of held) closeSync(fd);
        held = [];
        process.send({ type: 'released' });
      }
    });
    server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));`;

  function nextMessage(type: string): Promise<{ type: string; [key: string]: unknown }> {
    return new Promise((done) => waiters.set(type, done));
  }

  async function command(message: { type: string; spare?: number }, reply: string): Promise<{ [key: string]: unknown }> {
    const answer = nextMessage(reply);
    child.send(message);
    return answer;
  }

  beforeAll(async () => {
    writeFileSync(join(dir.path, 'file.txt'), 'still here\n');
    const node = [process.execPath, '--input-type=module', '-e', script];
    const argv =
      spawnSync('prlimit', ['--version']).status === 0
        ? ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, ...node]
        : ['bash', '-c', `ulimit -n ${LIMIT} && exec "$@"`, 'bash', ...node];
    child = spawn(argv[0] as string, argv.slice(1), { cwd: resolve('.'), stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (message: { type: string; [key: string]: unknown }) => {
      messages.push(message);
      const waiter = waiters.get(message.type);
      waiters.delete(message.type);
      waiter?.(message);
    });
    const { port } = await nextMessage('listening');
    url = `http://127.0.0.1:${String(port)}`;
  });
  afterAll(() => {
    child.kill();
    dir.remove();
  });

  it('runs under the low descriptor limit', async () => {
    const exhausted = await command({ type: 'exhaust', spare: 0 }, 'exhausted');
    expect(exhausted.code).toBe('EMFILE');
    expect(exhausted.held).toBeLessThan(LIMIT);
    await command({ type: 'release' }, 'released');
  });

  it.each([
    ['next', 'default options: a 5xx is next(err) even with fallthrough'],
    ['strict', 'fallthrough: false'],
  ])('/%s: open() failing with EMFILE is a 503 handed to next(err) (%s), and serving resumes', async (door) => {
    const warm = await get(`${url}/${door}/file.txt`);
    expect(warm.status).toBe(200);
    expect(await warm.text()).toBe('still here\n');

    expect((await command({ type: 'exhaust', spare: 1 }, 'exhausted')).code).toBe('EMFILE');
    const reported = nextMessage('next');
    const res = await get(`${url}/${door}/file.txt`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('503 EMFILE');
    expect(await reported).toEqual({
      type: 'next',
      door,
      err: { status: 503, statusCode: 503, code: 'EMFILE', expose: false },
    });

    await command({ type: 'release' }, 'released');
    const after = await get(`${url}/${door}/file.txt`);
    expect(after.status).toBe(200);
    expect(await after.text()).toBe('still here\n');
    expect(child.exitCode).toBeNull();
  });

  it('/bare: without next, the middleware answers the 503 itself, and serving resumes', async () => {
    expect((await command({ type: 'exhaust', spare: 1 }, 'exhausted')).code).toBe('EMFILE');
    const res = await get(`${url}/bare/file.txt`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    const body = await res.text();
    expect(body).toContain('<pre>Service Unavailable</pre>');
    expect(body).not.toContain(dir.path);

    await command({ type: 'release' }, 'released');
    const after = await get(`${url}/bare/file.txt`);
    expect(after.status).toBe(200);
    expect(await after.text()).toBe('still here\n');
    expect(child.exitCode).toBeNull();
    expect(messages.filter((message) => message.type === 'next' && message.door === 'bare')).toEqual([]);
  });

  it.each([
    ['fetch', 'default options: a 5xx is an error even with fallthrough'],
    ['fetch-strict', 'fallthrough: false'],
  ])('/%s: the fetch door answers open() failing with EMFILE with its own 503 page (%s), and serving resumes', async (door) => {
    const warm = await get(`${url}/${door}/file.txt`);
    expect(warm.status).toBe(200);
    expect(await warm.text()).toBe('still here\n');

    expect((await command({ type: 'exhaust', spare: 1 }, 'exhausted')).code).toBe('EMFILE');
    const res = await get(`${url}/${door}/file.txt`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    const body = await res.text();
    expect(body).toContain('<pre>Service Unavailable</pre>');
    expect(body).not.toContain('EMFILE');
    expect(body).not.toContain(dir.path);

    await command({ type: 'release' }, 'released');
    const after = await get(`${url}/${door}/file.txt`);
    expect(after.status).toBe(200);
    expect(await after.text()).toBe('still here\n');
    expect(child.exitCode).toBeNull();
    // The 503 is not a miss: nothing was passed on.
    expect(messages.filter((message) => message.type === 'next' && message.door === door)).toEqual([]);
  });
});

/** Larger than what the kernel's socket buffers hold, so a paused client really holds the server mid-file. */
const SIZE = 16 * 1024 * 1024;
const OLD = patterned(SIZE);

/** Bytes that differ from their neighbours and from any shifted copy of themselves (period 251, a prime). */
function patterned(size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buffer[i] = i % 251;
  return buffer;
}

interface Download {
  readonly status: number;
  readonly contentLength: number;
  readonly body: Buffer;
  /** The response ended normally (all of Content-Length arrived). */
  readonly complete: boolean;
  readonly error?: string;
}

/**
 * Downloads `url` slowly: after the first chunk the response is paused, `meanwhile` runs (the server is then
 * blocked on backpressure, part-way through the file), and reading resumes.
 */
function slowDownload(url: string, meanwhile: () => Promise<void>): Promise<Download> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let contentLength = -1;
    let settled = false;
    const finish = (complete: boolean, error?: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      done({ status, contentLength, body: Buffer.concat(chunks), complete, ...(error ? { error: error.code ?? error.message } : {}) });
    };
    const req = request(url, { agent: false }, (res) => {
      status = res.statusCode ?? 0;
      contentLength = Number(res.headers['content-length']);
      res.once('data', () => {
        res.pause();
        meanwhile().then(() => res.resume(), fail);
      });
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => finish(true));
      res.on('error', (error) => finish(false, error));
      res.on('close', () => finish(res.complete));
    });
    req.on('error', (error) => finish(false, error));
    req.end();
  });
}

/** Descriptors of this process open on `path` (Linux names them in /proc/self/fd). */
async function descriptorsOn(path: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      if ((await readlink(`/proc/self/fd/${fd}`)) === path) count++;
    } catch {
      // closed since the listing
    }
  }
  return count;
}

const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

describeDoors('a file changing during a slow download', (door) => {
  describe.each([
    ['default options', {}],
    ['cache: true', { cache: true }],
  ] as const)('%s', (_label, options) => {
    const dir = tempDir();
    const root = realpathSync(dir.path);
    let server: TestServer;
    let before: number;
    let serial = 0;

    beforeAll(async () => {
      writeFileSync(join(root, 'small.txt'), 'small\n');
      server = await door.serve(root, options);
    });
    afterAll(async () => {
      await server.close();
      dir.remove();
    });

    /**
     * A fresh file per test, then the slow download with `change` applied part-way: asserted to happen while
     * the server still has the file open, i.e. before it has read the last byte.
     */
    async function downloadWhile(change: (path: string) => void): Promise<{ download: Download; path: string; name: string }> {
      const name = `file-${String(++serial)}.bin`;
      const path = join(root, name);
      writeFileSync(path, OLD);
      before = await openDescriptorCount();
      let heldAtChange = 0;
      const download = await slowDownload(`${server.url}/${name}`, async () => {
        await pause(30);
        heldAtChange = await descriptorsOn(path);
        change(path);
        await pause(30);
      });
      expect(heldAtChange).toBe(1);
      expect(download.status).toBe(200);
      expect(download.contentLength).toBe(SIZE);
      return { download, path, name };
    }

    /** The process survived and released every descriptor it used for the download. */
    async function expectHealthy(): Promise<void> {
      const res = await get(`${server.url}/small.txt`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('small\n');
      expect(await settledDescriptorCount(before)).toBeLessThanOrEqual(before);
    }

    it('replaced by an atomic rename: the download completes with the old content', async () => {
      const replacement = Buffer.alloc(SIZE / 2, 'new content\n');
      const { download, name } = await downloadWhile((path) => {
        const staged = join(root, `.staged-${String(serial)}`);
        writeFileSync(staged, replacement);
        renameSync(staged, path);
      });
      expect(download.complete).toBe(true);
      expect(download.error).toBeUndefined();
      expect(download.body.length).toBe(SIZE);
      expect(download.body.equals(OLD)).toBe(true);

      const fresh = await get(`${server.url}/${name}`);
      expect(fresh.status).toBe(200);
      expect(fresh.headers.get('content-length')).toBe(String(replacement.length));
      expect(Buffer.from(await fresh.arrayBuffer()).equals(replacement)).toBe(true);
      await expectHealthy();
    });

    it('deleted: the download completes with the old content', async () => {
      const { download, name } = await downloadWhile((path) => unlinkSync(path));
      expect(download.complete).toBe(true);
      expect(download.body.length).toBe(SIZE);
      expect(download.body.equals(OLD)).toBe(true);

      const gone = await get(`${server.url}/${name}`);
      expect(gone.status).toBe(404);
      expect(await gone.text()).toBe('fell through');
      await expectHealthy();
    });

    it('truncated in place: the connection is cut, never a complete response shorter than Content-Length', async () => {
      const { download, name } = await downloadWhile((path) => truncateSync(path, 64 * 1024));
      expect(download.complete).toBe(false);
      expect(download.error).toBeDefined();
      expect(download.body.length).toBeGreaterThan(0);
      expect(download.body.length).toBeLessThan(SIZE);
      // What did arrive is the file as it was, from the start.
      expect(download.body.equals(OLD.subarray(0, download.body.length))).toBe(true);

      const now = await get(`${server.url}/${name}`);
      expect(now.status).toBe(200);
      expect(now.headers.get('content-length')).toBe(String(64 * 1024));
      expect(Buffer.from(await now.arrayBuffer()).equals(OLD.subarray(0, 64 * 1024))).toBe(true);
      await expectHealthy();
    });

    it('growing: exactly Content-Length bytes are sent, the old length', async () => {
      const { download } = await downloadWhile((path) => appendFileSync(path, Buffer.alloc(4 * 1024 * 1024, 'more\n')));
      expect(download.complete).toBe(true);
      expect(download.body.length).toBe(SIZE);
      expect(download.body.equals(OLD)).toBe(true);
      await expectHealthy();
    });
  });
});
