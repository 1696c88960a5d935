/**
 * The trailing-slash redirect: the `directoryLocation` table (once); over HTTP through both doors, the 301 with
 * its safe HTML body, the query string kept, Locations that stay on this origin, encoding and escaping, and
 * `redirect: false`; and, on the Connect door alone, the root of a mount.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../src/index.js';
import { directoryLocation } from '../src/policy.js';
import { describeDoors } from './doors.js';
import { FIXTURES, get, listen, rawRequest, type TestServer } from './helpers.js';

describe('directoryLocation', () => {
  it.each([
    ['/users', null, '/users/'],
    ['/users', '?name=john', '/users/?name=john'],
    ['//users', null, '/users/'],
    ['///evil.com', null, '/evil.com/'],
    ['/\\evil.com', null, '/evil.com/'],
    ['/\\/\\evil.com/..', null, '/evil.com/../'],
    ['/snow ☃', null, '/snow%20%E2%98%83/'],
    ['/a<b>', '?q=<script>', '/a%3Cb%3E/?q=%3Cscript%3E'],
    ['/', null, '/'],
  ])('%s + %s → %s', (pathname, search, location) => {
    expect(directoryLocation(pathname, search)).toBe(location);
  });
});

describeDoors('trailing-slash redirect', (door) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await door.serve(FIXTURES);
  });
  afterAll(() => server.close());

  it('redirects a directory to its trailing-slash form with a safe HTML body', async () => {
    const res = await get(`${server.url}/users`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/users/');
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(body).toContain('<pre>Redirecting to /users/</pre>');
  });

  it('keeps the query string', async () => {
    const res = await get(`${server.url}/users?name=john`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/users/?name=john');
    expect(await res.text()).toContain('Redirecting to /users/?name=john');
  });

  it('collapses leading slashes so the Location stays on this origin', async () => {
    const res = await rawRequest(server.port, '//users');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/users/');
  });

  it('never answers a Location beginning with // or /\\', async () => {
    const slashes = await rawRequest(server.port, '//evil.example/..');
    if (door.name === 'node') {
      expect(slashes.status).toBe(301);
      expect(slashes.headers.location).toBe('/evil.example/../');
      expect(new URL(slashes.headers.location!, 'http://site.test').origin).toBe('http://site.test');
    } else {
      // WHATWG parsing resolves the dot-segment before the fetch door sees the URL: `//` is the root with a
      // trailing slash, so its index is served and there is no Location at all.
      expect(slashes.status).toBe(200);
      expect(slashes.headers.location).toBeUndefined();
      expect(slashes.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(slashes.body.equals(readFileSync(join(FIXTURES, 'index.html')))).toBe(true);
    }
    // A backslash is refused before any redirect is considered (serve-static answers `/\evil.example/../`).
    const nextsBefore = server.nexts.length;
    const backslash = await rawRequest(server.port, '/\\evil.example/..');
    if (door.name === 'node') {
      expect(backslash.status).toBe(404);
      expect(backslash.headers.location).toBeUndefined();
      expect(backslash.body.toString()).toBe('fell through');
    } else {
      // @hono/node-server refuses a backslash in the path with an empty 400 before any handler runs (had it
      // passed, WHATWG parsing would have made it `//`, the case above).
      expect(backslash.status).toBe(400);
      expect(backslash.headers.location).toBeUndefined();
      expect(backslash.body.length).toBe(0);
      expect(server.nexts.length).toBe(nextsBefore);
    }
  });

  it('encodes the Location and escapes markup in the body', async () => {
    const res = await get(`${server.url}/snow%20%E2%98%83`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/snow%20%E2%98%83/');
    const attack = await rawRequest(server.port, '/users?<script>alert(1)</script>');
    expect(attack.status).toBe(301);
    expect(attack.headers.location).toBe('/users/?%3Cscript%3Ealert(1)%3C/script%3E');
    expect(attack.body.toString()).not.toContain('<script>');
  });

  it('falls through instead with redirect: false', async () => {
    const off = await door.serve(FIXTURES, { redirect: false });
    try {
      const res = await get(`${off.url}/users`);
      expect(res.status).toBe(404);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toBe('fell through');
    } finally {
      await off.close();
    }
  });
});

// Connect door only: mounting under a prefix (`app.use('/static', ...)`) is Connect's and Express's; a fetch
// handler has no mount, its caller strips nothing from the URL.
describe('trailing-slash redirect under a mount (Connect door)', () => {
  it('redirects the root of a mount: /static to /static/', async () => {
    const middleware = serveStatic(FIXTURES);
    // What Connect and Express do under `app.use('/static', ...)`: strip the prefix into req.url.
    const mounted = await listen((req, res) => {
      const rest = (req.url ?? '').slice('/static'.length);
      Object.assign(req, { originalUrl: req.url, url: rest.startsWith('/') ? rest : `/${rest}` });
      middleware(req, res);
    });
    try {
      const res = await get(`${mounted.url}/static?x=1`);
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe('/static/?x=1');
      const index = await get(`${mounted.url}/static/`);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    } finally {
      await mounted.close();
    }
  });
});
