import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, get, rawRequest, serve, type TestServer } from './helpers.js';

let through: TestServer;
let strict: TestServer;
beforeAll(async () => {
  through = await serve(FIXTURES);
  strict = await serve(FIXTURES, { fallthrough: false });
});
afterAll(async () => {
  await through.close();
  await strict.close();
});

function lastNext(server: TestServer): { name?: string; status?: number; code?: string; expose?: boolean } | null {
  return server.nexts.at(-1) as never;
}

describe('fallthrough: true (default)', () => {
  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])('passes %s to the next middleware', async (method) => {
    const res = await get(`${through.url}/todo.txt`, { method });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
    expect(lastNext(through)).toBeNull();
  });

  it.each([
    ['/missing.txt', 'missing file'],
    ['/%', 'malformed encoding'],
    ['/../todo.txt', 'traversal'],
    ['/todo.txt%00', 'NUL byte'],
    ['/todo.txt/', 'file with trailing slash'],
    ['/.hidden', 'ignored dotfile'],
  ])('calls next() for %s (%s)', async (path) => {
    const res = await rawRequest(through.port, path);
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('fell through');
    expect(lastNext(through)).toBeNull();
  });

  it('calls next() for a name too long for the file system', async () => {
    const res = await get(`${through.url}/${'a'.repeat(5000)}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });
});

describe('fallthrough: false', () => {
  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('answers %s with 405 and Allow: GET, HEAD', async (method) => {
    const res = await get(`${strict.url}/todo.txt`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(res.headers.get('content-length')).toBe('0');
    expect(await res.text()).toBe('');
  });

  it('hands a missing file to next(err) as a 404 that keeps the fs error code', async () => {
    const res = await get(`${strict.url}/missing.txt`);
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/^Error: ENOENT: no such file or directory, open '.*missing\.txt'$/);
    expect(lastNext(strict)).toMatchObject({ status: 404, code: 'ENOENT', expose: false });
  });

  it('hands ENAMETOOLONG on as a 404 with its code and message', async () => {
    const res = await get(`${strict.url}/${'a'.repeat(5000)}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/^Error: ENAMETOOLONG: name too long/);
    expect(lastNext(strict)).toMatchObject({ status: 404, code: 'ENAMETOOLONG' });
  });

  it.each([
    ['/%', 400, 'BadRequestError: Bad Request'],
    ['/todo.txt%00', 400, 'BadRequestError: Bad Request'],
    ['/../todo.txt', 403, 'ForbiddenError: Forbidden'],
    ['/%2e%2e/todo.txt', 403, 'ForbiddenError: Forbidden'],
    ['/.hidden', 404, 'NotFoundError: Not Found'],
    ['/pets/', 404, 'Error: ENOENT'],
  ])('hands %s to next(err) as %i', async (path, status, body) => {
    const res = await rawRequest(strict.port, path);
    expect(res.status).toBe(status);
    expect(res.body.toString().startsWith(body)).toBe(true);
    expect(lastNext(strict)).toMatchObject({ status });
  });

  it('still serves files and redirects directories', async () => {
    const res = await get(`${strict.url}/todo.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('- groceries\n');
    const dir = await get(`${strict.url}/users`);
    expect(dir.status).toBe(301);
    expect(dir.headers.get('location')).toBe('/users/');
  });
});

describe('without next (plain node:http)', () => {
  it('answers misses and refusals itself', async () => {
    const { listen } = await import('./helpers.js');
    const { serveStatic } = await import('../src/index.js');
    const middleware = serveStatic(FIXTURES);
    const bare = await listen((req, res) => middleware(req, res));
    try {
      const hit = await get(`${bare.url}/todo.txt`);
      expect(hit.status).toBe(200);
      expect(await hit.text()).toBe('- groceries\n');
      const miss = await get(`${bare.url}/missing.txt`);
      expect(miss.status).toBe(404);
      expect(miss.headers.get('content-type')).toBe('text/html; charset=UTF-8');
      expect(await miss.text()).toContain('<pre>Not Found</pre>');
      const post = await get(`${bare.url}/todo.txt`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      const traversal = await rawRequest(bare.port, '/../../etc/passwd');
      expect(traversal.status).toBe(403);
      expect(traversal.body.toString()).toContain('<pre>Forbidden</pre>');
      const range = await get(`${bare.url}/nums.txt`, { headers: { Range: 'bytes=50-60' } });
      expect(range.status).toBe(416);
      expect(range.headers.get('content-range')).toBe('bytes */9');
      expect(range.headers.get('etag')).toBeNull();
    } finally {
      await bare.close();
    }
  });
});
