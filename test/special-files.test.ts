import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, openSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, openDescriptorCount, serve, settledDescriptorCount, tempDir, type TestServer } from './helpers.js';

const dir = tempDir();
let server: TestServer;
let strict: TestServer;
let unixServer: NetServer;
const BIG_SIZE = 20 * 1024 * 1024;

beforeAll(async () => {
  writeFileSync(join(dir.path, 'plain.txt'), 'plain\n');
  execFileSync('mkfifo', [join(dir.path, 'pipe')]);
  symlinkSync('/dev/zero', join(dir.path, 'zero'));
  symlinkSync('loop-b', join(dir.path, 'loop-a'));
  symlinkSync('loop-a', join(dir.path, 'loop-b'));
  const big = openSync(join(dir.path, 'big.bin'), 'w');
  closeSync(big);
  truncateSync(join(dir.path, 'big.bin'), BIG_SIZE);
  unixServer = createNetServer();
  await new Promise<void>((done) => unixServer.listen(join(dir.path, 'socket'), done));
  server = await serve(dir.path);
  strict = await serve(dir.path, { fallthrough: false });
});
afterAll(async () => {
  await server.close();
  await strict.close();
  await new Promise<void>((done) => unixServer.close(() => done()));
  dir.remove();
});

describe('only regular files are served', () => {
  it.each(['pipe', 'socket', 'zero'])('%s is a miss: next() by default, 404 NotFoundError without fallthrough', async (name) => {
    const res = await get(`${server.url}/${name}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
    const hard = await get(`${strict.url}/${name}`);
    expect(hard.status).toBe(404);
    expect(await hard.text()).toBe('NotFoundError: Not Found');
  });

  it('a request for a FIFO does not hold up a concurrent request', async () => {
    const fifoRequests = Array.from({ length: 8 }, () => get(`${server.url}/pipe`));
    const started = Date.now();
    const normal = await get(`${server.url}/plain.txt`);
    expect(normal.status).toBe(200);
    expect(await normal.text()).toBe('plain\n');
    for (const res of await Promise.all(fifoRequests)) expect(res.status).toBe(404);
    // Generous bound: a blocked open would park the thread pool until a writer appears (forever).
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a symlink loop is a 404 keeping the ELOOP code', async () => {
    const res = await get(`${server.url}/loop-a`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
    const hard = await get(`${strict.url}/loop-a`);
    expect(hard.status).toBe(404);
    expect(await hard.text()).toMatch(/^Error: ELOOP/);
    expect(strict.nexts.at(-1)).toMatchObject({ status: 404, code: 'ELOOP' });
  });
});

describe('descriptors', () => {
  it('closes the descriptor of every download the client aborts after the headers', async () => {
    const before = await openDescriptorCount();
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((done, fail) => {
        const req = request(`${server.url}/big.bin`, { agent: false }, (res) => {
          expect(res.statusCode).toBe(200);
          expect(res.headers['content-length']).toBe(String(BIG_SIZE));
          res.once('data', () => {
            req.destroy();
            done();
          });
        });
        req.on('error', (error) => {
          if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') fail(error);
        });
        req.end();
      });
    }
    expect(await settledDescriptorCount(before)).toBeLessThanOrEqual(before);
  });

  it('closes descriptors after HEAD, 304, 412 and 416 answers', async () => {
    const before = await openDescriptorCount();
    for (let i = 0; i < 20; i++) {
      expect((await get(`${server.url}/plain.txt`, { method: 'HEAD' })).status).toBe(200);
      expect((await get(`${server.url}/plain.txt`, { headers: { 'If-None-Match': '*' } })).status).toBe(304);
      expect((await get(`${server.url}/plain.txt`, { headers: { 'If-Match': '"x"' } })).status).toBe(412);
      expect((await get(`${server.url}/plain.txt`, { headers: { Range: 'bytes=99-' } })).status).toBe(416);
    }
    expect(await settledDescriptorCount(before)).toBeLessThanOrEqual(before);
  });

  it('cuts the connection when the file shrinks during the download', async () => {
    const path = join(dir.path, 'shrinking.bin');
    truncateSync(openAndClose(path), BIG_SIZE);
    const outcome = await new Promise<{ received: number; error?: string }>((done) => {
      let received = 0;
      const req = request(`${server.url}/shrinking.bin`, { agent: false }, (res) => {
        expect(res.headers['content-length']).toBe(String(BIG_SIZE));
        res.once('data', () => truncateSync(path, 1024));
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('end', () => done({ received }));
        res.on('error', (error) => done({ received, error: (error as NodeJS.ErrnoException).code ?? error.message }));
      });
      req.on('error', (error) => done({ received, error: (error as NodeJS.ErrnoException).code ?? error.message }));
      req.end();
    });
    expect(outcome.received).toBeLessThan(BIG_SIZE);
    expect(outcome.error).toBeDefined();
  });
});

function openAndClose(path: string): string {
  closeSync(openSync(path, 'w'));
  return path;
}

describe('permissions', () => {
  it('answers 403 for a file the process may not read (EACCES), and never serves another candidate instead', async () => {
    const secret = join(dir.path, 'no-access.txt');
    writeFileSync(secret, 'nope\n');
    chmodSync(secret, 0o000);
    // `/draft` with extensions ['txt', 'html']: draft.txt exists but is unreadable, draft.html is readable.
    // Moving on to draft.html would serve a different file than the one the URL names first.
    writeFileSync(join(dir.path, 'draft.txt'), 'the real draft\n');
    chmodSync(join(dir.path, 'draft.txt'), 0o000);
    writeFileSync(join(dir.path, 'draft.html'), '<p>an older draft</p>\n');
    const options = { fallthrough: false, extensions: ['txt', 'html'] };

    // root reads anything (CAP_DAC_OVERRIDE), so under root the server runs in a child process stripped of
    // that capability by setpriv: still uid 0, so it can load this checkout wherever it lies, but a mode-000
    // file is now refused.
    const uid = process.getuid?.() ?? -1;
    let base: string;
    let stop: () => Promise<void>;
    if (uid !== 0) {
      const local = await serve(dir.path, options);
      base = local.url;
      stop = () => local.close();
    } else {
      const script = `
        import http from 'node:http';
        import serveStatic from ${JSON.stringify(resolve('dist/index.js'))};
        const mw = serveStatic(${JSON.stringify(dir.path)}, ${JSON.stringify(options)});
        const server = http.createServer((req, res) => mw(req, res, (err) => {
          res.statusCode = err ? err.status : 404;
          res.end(err ? err.name + ':' + err.code : 'fell through');
        }));
        server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)));`;
      const dropped = '-dac_override,-dac_read_search';
      const child = spawn('setpriv', [
        `--bounding-set=${dropped}`,
        `--inh-caps=${dropped}`,
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ]);
      const port = await new Promise<string>((done, fail) => {
        child.stdout.once('data', (data: Buffer) => done(data.toString().trim()));
        child.stderr.on('data', (data: Buffer) => fail(new Error(data.toString())));
      });
      base = `http://127.0.0.1:${port}`;
      stop = async () => {
        child.kill();
      };
    }
    try {
      const res = await get(`${base}/no-access.txt`);
      expect(res.status).toBe(403);
      expect(await res.text()).toMatch(/^Error: ?:?EACCES/);
      const draft = await get(`${base}/draft`);
      expect(draft.status).toBe(403);
      expect(await draft.text()).not.toContain('older draft');
      const ok = await get(`${base}/plain.txt`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('plain\n');
    } finally {
      await stop();
    }
  });
});
