/**
 * `fallthrough`, through both doors: with it (the default) a miss or a refusal before a file is chosen goes to
 * the next handler (`next()`, or `undefined` from the fetch door), without it it is an error (`next(err)` in
 * the Connect door, serve-static's HTML error page from the fetch door), and a method other than GET/HEAD is a
 * 405 with `Allow`. Raw-socket targets such as `/../todo.txt` reach the Connect door as written; the fetch door
 * sees them after WHATWG URL parsing has removed the dot segments, which the assertions say where it matters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { FIXTURES, get, rawRequest, type TestServer } from './helpers.js';

function lastNext(server: TestServer): { name?: string; status?: number; code?: string; expose?: boolean } | null {
  return server.nexts.at(-1) as never;
}

/** serve-static's error page, as the fetch door answers an error itself: the status text, never a path. */
function expectErrorPage(headers: { get(name: string): string | null }, body: string, text: string): void {
  expect(headers.get('content-type')).toBe('text/html; charset=UTF-8');
  expect(headers.get('content-security-policy')).toBe("default-src 'none'");
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(body).toContain(`<pre>${text}</pre>`);
  expect(body).not.toContain(FIXTURES);
}

/** The raw-response flavour of the same check (raw headers are lower-cased). */
function rawHeaders(headers: Readonly<Record<string, string>>): { get(name: string): string | null } {
  return { get: (name) => headers[name] ?? null };
}

describeDoors('fallthrough: true (default)', (door) => {
  let through: TestServer;
  beforeAll(async () => {
    through = await door.serve(FIXTURES);
  });
  afterAll(async () => {
    await through.close();
  });

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])('passes %s to the next middleware', async (method) => {
    const res = await get(`${through.url}/todo.txt`, { method });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
    expect(lastNext(through)).toBeNull();
  });

  it.each([
    ['/missing.txt', 'missing file'],
    ['/%', 'malformed encoding'],
    ['/todo.txt%00', 'NUL byte'],
    ['/todo.txt/', 'file with trailing slash'],
    ['/.hidden', 'ignored dotfile'],
  ])('calls next() for %s (%s)', async (path) => {
    const before = through.nexts.length;
    const res = await rawRequest(through.port, path);
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('fell through');
    expect(lastNext(through)).toBeNull();
    expect(through.nexts.length).toBe(before + 1);
  });

  it('calls next() for /../todo.txt (traversal) in the Connect door; the fetch door sees /todo.txt', async () => {
    const before = through.nexts.length;
    const res = await rawRequest(through.port, '/../todo.txt');
    if (door.name === 'node') {
      expect(res.status).toBe(404);
      expect(res.body.toString()).toBe('fell through');
      expect(lastNext(through)).toBeNull();
      expect(through.nexts.length).toBe(before + 1);
    } else {
      // The URL parser resolved `/..` against the root before the door saw it: the file inside root.
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('- groceries\n');
      expect(through.nexts.length).toBe(before);
    }
  });

  it('calls next() for a name too long for the file system', async () => {
    const res = await get(`${through.url}/${'a'.repeat(5000)}`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
    expect(lastNext(through)).toBeNull();
  });
});

describeDoors('fallthrough: false', (door) => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await door.serve(FIXTURES, { fallthrough: false });
  });
  afterAll(async () => {
    await strict.close();
  });

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('answers %s with 405 and Allow: GET, HEAD', async (method) => {
    const res = await get(`${strict.url}/todo.txt`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(res.headers.get('content-length')).toBe('0');
    expect(await res.text()).toBe('');
  });

  it('refuses a missing file with a 404 (in the Connect door, next(err) keeping the fs error code)', async () => {
    const res = await get(`${strict.url}/missing.txt`);
    expect(res.status).toBe(404);
    if (door.name === 'node') {
      expect(await res.text()).toMatch(/^Error: ENOENT: no such file or directory, open '.*missing\.txt'$/);
      expect(lastNext(strict)).toMatchObject({ status: 404, code: 'ENOENT', expose: false });
    } else {
      // The fs error's message names a server path: the page shows only the status text.
      expectErrorPage(res.headers, await res.text(), 'Not Found');
      expect(strict.nexts).toEqual([]);
    }
  });

  it('refuses ENAMETOOLONG with a 404 (in the Connect door, next(err) with its code and message)', async () => {
    const res = await get(`${strict.url}/${'a'.repeat(5000)}`);
    expect(res.status).toBe(404);
    if (door.name === 'node') {
      expect(await res.text()).toMatch(/^Error: ENAMETOOLONG: name too long/);
      expect(lastNext(strict)).toMatchObject({ status: 404, code: 'ENAMETOOLONG' });
    } else {
      expectErrorPage(res.headers, await res.text(), 'Not Found');
      expect(strict.nexts).toEqual([]);
    }
  });

  it.each([
    ['/%', 400, 'BadRequestError: Bad Request', 'Bad Request'],
    ['/todo.txt%00', 400, 'BadRequestError: Bad Request', 'Bad Request'],
    ['/.hidden', 404, 'NotFoundError: Not Found', 'Not Found'],
    ['/pets/', 404, 'Error: ENOENT', 'Not Found'],
  ])('refuses %s with %i (next(err) in the Connect door)', async (path, status, body, text) => {
    const res = await rawRequest(strict.port, path);
    expect(res.status).toBe(status);
    if (door.name === 'node') {
      expect(res.body.toString().startsWith(body)).toBe(true);
      expect(lastNext(strict)).toMatchObject({ status });
    } else {
      expectErrorPage(rawHeaders(res.headers), res.body.toString(), text);
      expect(strict.nexts).toEqual([]);
    }
  });

  it.each(['/../todo.txt', '/%2e%2e/todo.txt'])('refuses %s with 403 in the Connect door; the fetch door sees /todo.txt', async (path) => {
    const res = await rawRequest(strict.port, path);
    if (door.name === 'node') {
      expect(res.status).toBe(403);
      expect(res.body.toString().startsWith('ForbiddenError: Forbidden')).toBe(true);
      expect(lastNext(strict)).toMatchObject({ status: 403 });
    } else {
      // WHATWG URL parsing treats `..` and `%2e%2e` alike as a dot segment and drops it at the root.
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe('12');
      expect(res.body.toString()).toBe('- groceries\n');
      expect(strict.nexts).toEqual([]);
    }
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

// The Connect door's own case: called as a plain `node:http` listener, with no `next` to hand anything to.
// The fetch door always answers errors itself, which the 'fallthrough: false' suite above checks.
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
