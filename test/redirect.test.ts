import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryLocation } from '../src/policy.js';
import { FIXTURES, get, rawRequest, serve, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await serve(FIXTURES);
});
afterAll(() => server.close());

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

describe('trailing-slash redirect', () => {
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
    expect(slashes.status).toBe(301);
    expect(slashes.headers.location).toBe('/evil.example/../');
    expect(new URL(slashes.headers.location!, 'http://site.test').origin).toBe('http://site.test');
    // A backslash is refused before any redirect is considered (serve-static answers `/\evil.example/../`).
    const backslash = await rawRequest(server.port, '/\\evil.example/..');
    expect(backslash.status).toBe(404);
    expect(backslash.headers.location).toBeUndefined();
    expect(backslash.body.toString()).toBe('fell through');
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
    const off = await serve(FIXTURES, { redirect: false });
    try {
      const res = await get(`${off.url}/users`);
      expect(res.status).toBe(404);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toBe('fell through');
    } finally {
      await off.close();
    }
  });

  it('redirects the root of a mount: /static to /static/', async () => {
    const { listen } = await import('./helpers.js');
    const { serveStatic } = await import('../src/index.js');
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
