/**
 * What is not a regular file is never served, through both doors: a FIFO (which would block an open), a
 * socket, a device behind a link, a symlink loop; descriptors are closed after aborted downloads and after
 * HEAD/304/412/416 answers; a file that shrinks mid-download cuts the connection; and a file the process may
 * not read (EACCES) is a 403 that never falls back to another candidate, checked in a process that has
 * really lost the right to read it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, openSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { get, openDescriptorCount, settledDescriptorCount, tempDir, type TestServer } from './helpers.js';

const dir = tempDir();
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
});
afterAll(async () => {
  await new Promise<void>((done) => unixServer.close(() => done()));
  dir.remove();
});

/** serve-static's error page, as the fetch door answers an error itself: the status text, never a path. */
async function expectErrorPage(res: Response, text: string): Promise<void> {
  expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
  expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
  const body = await res.text();
  expect(body).toContain(`<pre>${text}</pre>`);
  expect(body).not.toContain(dir.path);
}

describeDoors('special files and descriptors', (door) => {
  let server: TestServer;
  let strict: TestServer;
  beforeAll(async () => {
    server = await door.serve(dir.path);
    strict = await door.serve(dir.path, { fallthrough: false });
  });
  afterAll(async () => {
    await server.close();
    await strict.close();
  });

  describe('only regular files are served', () => {
    it.each(['pipe', 'socket', 'zero'])('%s is a miss: next() by default, 404 NotFoundError without fallthrough', async (name) => {
      const res = await get(`${server.url}/${name}`);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('fell through');
      const hard = await get(`${strict.url}/${name}`);
      expect(hard.status).toBe(404);
      if (door.name === 'node') expect(await hard.text()).toBe('NotFoundError: Not Found');
      else await expectErrorPage(hard, 'Not Found');
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
      if (door.name === 'node') {
        expect(await hard.text()).toMatch(/^Error: ELOOP/);
        expect(strict.nexts.at(-1)).toMatchObject({ status: 404, code: 'ELOOP' });
      } else {
        // The code stays on the error inside the door; the page shows only the status text.
        await expectErrorPage(hard, 'Not Found');
        expect(strict.nexts).toEqual([]);
      }
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
});

function openAndClose(path: string): string {
  closeSync(openSync(path, 'w'));
  return path;
}

describeDoors('permissions', (door) => {
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
    // file is now refused. The child builds the door's server by hand: the Connect door on node:http with a
    // final handler that prints the error's name and code, or the fetch door behind @hono/node-server's
    // listener (resolved from this checkout, the child's working directory), which answers errors itself.
    const uid = process.getuid?.() ?? -1;
    let base: string;
    let stop: () => Promise<void>;
    if (uid !== 0) {
      const local = await door.serve(dir.path, options);
      base = local.url;
      stop = () => local.close();
    } else {
      const dist = JSON.stringify(resolve('dist/index.js'));
      const listener =
        door.name === 'node'
          ? `
        import serveStatic from ${dist};
        const mw = serveStatic(${JSON.stringify(dir.path)}, ${JSON.stringify(options)});
        const listener = (req, res) => mw(req, res, (err) => {
          res.statusCode = err ? err.status : 404;
          res.end(err ? err.name + ':' + err.code : 'fell through');
        });`
          : `
        import { serveStaticFetch } from ${dist};
        import { getRequestListener } from '@hono/node-server';
        const handler = serveStaticFetch(${JSON.stringify(dir.path)}, ${JSON.stringify(options)});
        const listener = getRequestListener(async (request) => (await handler(request)) ?? new Response('fell through', { status: 404 }));`;
      const script = `
        import http from 'node:http';
        ${listener}
        const server = http.createServer(listener);
        server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)));`;
      const dropped = '-dac_override,-dac_read_search';
      const child = spawn(
        'setpriv',
        [`--bounding-set=${dropped}`, `--inh-caps=${dropped}`, process.execPath, '--input-type=module', '-e', script],
        { cwd: resolve('.') },
      );
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
      if (door.name === 'node') expect(await res.text()).toMatch(/^Error: ?:?EACCES/);
      else await expectErrorPage(res, 'Forbidden');
      const draft = await get(`${base}/draft`);
      expect(draft.status).toBe(403);
      const draftBody = await draft.text();
      expect(draftBody).not.toContain('older draft');
      if (door.name === 'node') expect(draftBody).toMatch(/^Error: ?:?EACCES/);
      else expect(draftBody).toContain('<pre>Forbidden</pre>');
      const ok = await get(`${base}/plain.txt`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('plain\n');
    } finally {
      await stop();
    }
  });
});
