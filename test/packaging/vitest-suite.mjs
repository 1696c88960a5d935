// A vitest suite as an ES module project writes one: `import` by name, a node:http server. Run by vitest from
// test/packaging.test.ts against the packed package.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import serveStatic, { serveStatic as named } from 'brisk-static';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
const publicDir = join(here, 'public');
const hello = readFileSync(join(publicDir, 'hello.txt'), 'utf8');
const big = readFileSync(join(publicDir, 'big.bin'));
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** GET over node:http with exactly the given headers; resolves with status, headers and the body's bytes. */
function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

it('the default and named imports are the factory, and require() in the same process gives the same one', () => {
  expect(typeof serveStatic).toBe('function');
  expect(named).toBe(serveStatic);
  expect(require('brisk-static')).toBe(serveStatic);
  expect(require.resolve('brisk-static')).toBe(join(here, 'node_modules', 'brisk-static', 'dist', 'index.cjs'));
});

describe('on node:http', () => {
  const files = serveStatic(publicDir);
  const server = createServer((req, res) =>
    files(req, res, () => {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('app 404');
    }),
  );
  let port = 0;

  beforeAll(async () => {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
    // The file thread starts 100 ms after the first request; the tests below then go through it.
    expect((await get(port, '/hello.txt')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('200 with the file, its type and length', async () => {
    const res = await get(port, '/hello.txt');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(hello)));
    expect(res.body.toString('utf8')).toBe(hello);
  });

  it('304 for a matching If-None-Match', async () => {
    const first = await get(port, '/hello.txt');
    const res = await get(port, '/hello.txt', { 'If-None-Match': first.headers['etag'] });
    expect(res.status).toBe(304);
    expect(res.headers['etag']).toBe(first.headers['etag']);
    expect(res.body.length).toBe(0);
  });

  it('a miss falls through to next()', async () => {
    const res = await get(port, '/missing.txt');
    expect(res.status).toBe(404);
    expect(res.body.toString('utf8')).toBe('app 404');
  });

  it('a file over 64 KiB arrives byte-identical', async () => {
    const res = await get(port, '/big.bin');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(big.length));
    expect(sha256(res.body)).toBe(sha256(big));
  });
});
