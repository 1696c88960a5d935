/**
 * `canonicalPaths`: the pure rule (`canonicalPathname`), the redirect to the canonical form through both doors,
 * and why it exists: an Express route guard on `/admin` that `/x/../admin`, `//admin`, `/./admin` or
 * `/%61dmin` would walk past when the static middleware serves the whole tree after it. The fetch door sees the
 * request target after WHATWG URL parsing, which has already resolved dot segments (`/x/../admin` arrives as
 * `/admin`): a router in front of it sees the same parsed URL, so only the forms parsing leaves alone (`//`,
 * `%61`) are redirected there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../src/index.js';
import { canonicalPathname } from '../src/resolve.js';
import { describeDoors } from './doors.js';
import { finalHandler, listen, rawRequest, tempDir, type RawResponse, type TestServer } from './helpers.js';

describe('canonicalPathname', () => {
  it.each([
    ['/'],
    ['/admin/secret.html'],
    ['/users/'],
    ['/snow%20%E2%98%83/'],
    ['/percent%25.txt'],
    ['/a..b/c.'],
    ['/.hidden'],
    [''],
  ])('%s is canonical', (pathname) => {
    expect(canonicalPathname(pathname)).toEqual({ kind: 'canonical' });
  });

  it.each([
    ['//admin/secret.html', '/admin/secret.html'],
    ['/./admin/secret.html', '/admin/secret.html'],
    ['/x/../admin/secret.html', '/admin/secret.html'],
    ['/%61dmin/secret.html', '/admin/secret.html'],
    ['/%2e/admin', '/admin'],
    ['/x/%2E%2E/admin', '/admin'],
    ['/snow%20%e2%98%83/', '/snow%20%E2%98%83/'],
    ['/users/.', '/users/'],
    ['/users/..', '/'],
    ['/a//b///', '/a/b/'],
    ['/%7Euser', '/~user'],
  ])('%s → %s', (pathname, canonical) => {
    expect(canonicalPathname(pathname)).toEqual({ kind: 'redirect', pathname: canonical });
  });

  it.each([
    ['/..', 403],
    ['/x/../../etc/passwd', 403],
    ['/admin%2fsecret.html', 400],
    ['/admin%5Csecret.html', 400],
    ['/a\\b', 400],
    ['/%zz/', 400],
    ['/%', 400],
  ])('%s is refused with %i', (pathname, status) => {
    expect(canonicalPathname(pathname)).toEqual({ kind: 'refused', status });
  });
});

/** An Express app whose router guards /admin; the static middleware serves the whole tree after it. */
function guardedApp(root: string, canonicalPaths: boolean): express.Express {
  const app = express();
  app.use('/admin', (_req: Request, res: Response) => {
    res.status(401).type('text').send('login required');
  });
  app.use(serveStatic(root, { canonicalPaths }));
  app.use('/static', serveStatic(root, { canonicalPaths }));
  app.use((_req: Request, res: Response) => {
    res.status(404).type('text').send('no such page');
  });
  app.use((err: { status?: number; name?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).type('text').send(`error ${err.name}`);
  });
  return app;
}

const dir = tempDir();
const servers: { strict?: { server: Server; port: number }; lenient?: { server: Server; port: number } } = {};

async function start(app: express.Express): Promise<{ server: Server; port: number }> {
  const server = createServer(app);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return { server, port: address.port };
}

beforeAll(async () => {
  mkdirSync(join(dir.path, 'admin'));
  mkdirSync(join(dir.path, 'x'));
  writeFileSync(join(dir.path, 'admin', 'secret.html'), 'TOP SECRET\n');
  writeFileSync(join(dir.path, 'public.txt'), 'public\n');
  servers.strict = await start(guardedApp(dir.path, true));
  servers.lenient = await start(guardedApp(dir.path, false));
});
afterAll(async () => {
  for (const entry of Object.values(servers)) {
    entry.server.closeAllConnections();
    await new Promise((done) => entry.server.close(done));
  }
  dir.remove();
});

const BYPASSES = ['/x/../admin/secret.html', '//admin/secret.html', '/./admin/secret.html', '/%61dmin/secret.html'];

/** serve-static's error page, as the fetch door answers an error itself. */
function expectErrorPage(res: RawResponse, text: string): void {
  expect(res.headers['content-type']).toBe('text/html; charset=UTF-8');
  expect(res.headers['content-security-policy']).toBe("default-src 'none'");
  expect(res.body.toString()).toContain(`<pre>${text}</pre>`);
  expect(res.body.toString()).not.toContain(dir.path);
}

describeDoors('canonicalPaths: true, the redirect itself', (door) => {
  let lenient: TestServer;
  let strict: TestServer;
  beforeAll(async () => {
    lenient = await door.serve(dir.path, { canonicalPaths: true });
    strict = await door.serve(dir.path, { canonicalPaths: true, fallthrough: false });
  });
  afterAll(async () => {
    await lenient.close();
    await strict.close();
  });

  it('serves a canonical path as usual', async () => {
    const res = await rawRequest(lenient.port, '/admin/secret.html');
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.body.toString()).toBe('TOP SECRET\n');
  });

  it.each(['//admin/secret.html', '/%61dmin/secret.html'])('redirects %s to /admin/secret.html', async (path) => {
    const res = await rawRequest(lenient.port, path);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/admin/secret.html');
    expect(res.body.toString()).toContain('<pre>Redirecting to /admin/secret.html</pre>');
    expect(res.body.toString()).not.toContain('TOP SECRET');
  });

  it.each(['/x/../admin/secret.html', '/./admin/secret.html'])('redirects %s to /admin/secret.html (the fetch door sees it parsed)', async (path) => {
    const res = await rawRequest(lenient.port, path);
    if (door.name === 'node') {
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe('/admin/secret.html');
      expect(res.body.toString()).not.toContain('TOP SECRET');
    } else {
      // Already `/admin/secret.html` when the door (and any router before it) sees it: canonical, served.
      expect(res.status).toBe(200);
      expect(res.headers.location).toBeUndefined();
      expect(res.body.toString()).toBe('TOP SECRET\n');
    }
  });

  it('keeps the query and the fragment', async () => {
    const res = await rawRequest(lenient.port, '//public.txt?v=1#top');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/public.txt?v=1#top');
    const followed = await rawRequest(lenient.port, '/public.txt?v=1');
    expect(followed.status).toBe(200);
    expect(followed.body.toString()).toBe('public\n');
  });

  it('refuses an encoded slash (it has no canonical form): next() by default, a 400 without fallthrough', async () => {
    const res = await rawRequest(lenient.port, '/admin%2fsecret.html');
    expect(res.status).toBe(404);
    expect(res.headers.location).toBeUndefined();
    expect(res.body.toString()).toBe('fell through');
    const hard = await rawRequest(strict.port, '/admin%2fsecret.html');
    expect(hard.status).toBe(400);
    expect(hard.headers.location).toBeUndefined();
    if (door.name === 'node') expect(hard.body.toString()).toBe('BadRequestError: Bad Request');
    else expectErrorPage(hard, 'Bad Request');
  });

  it('refuses a path that climbs above root rather than redirect it', async () => {
    const res = await rawRequest(strict.port, '/x/../../admin/secret.html');
    expect(res.headers.location).toBeUndefined();
    if (door.name === 'node') {
      expect(res.status).toBe(403);
      expect(res.body.toString()).toBe('ForbiddenError: Forbidden');
    } else {
      // WHATWG parsing stops `..` at the root: the door is asked for /admin/secret.html, canonical and served.
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('TOP SECRET\n');
    }
  });
});

// The suites below are about Express's router and mounting (`app.use('/static', ...)`) and `req.url`
// rewriting: the Connect door's own setting.
describe('a route guard on /admin with canonicalPaths: true', () => {
  it('guards the plain path', async () => {
    const res = await rawRequest(servers.strict!.port, '/admin/secret.html');
    expect(res.status).toBe(401);
    expect(res.body.toString()).toBe('login required');
  });

  it.each(BYPASSES)('%s is redirected to /admin/secret.html, which the guard then answers', async (path) => {
    const res = await rawRequest(servers.strict!.port, path);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/admin/secret.html');
    expect(res.body.toString()).not.toContain('TOP SECRET');
    const followed = await rawRequest(servers.strict!.port, res.headers.location!);
    expect(followed.status).toBe(401);
    expect(followed.body.toString()).toBe('login required');
  });

  it('refuses an encoded slash (it has no canonical form)', async () => {
    const res = await rawRequest(servers.strict!.port, '/admin%2fsecret.html');
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('no such page');
  });

  it('rewrites only the part below a mount prefix, keeping the query', async () => {
    const res = await rawRequest(servers.strict!.port, '/static/x/../public.txt?v=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/static/public.txt?v=1');
    const followed = await rawRequest(servers.strict!.port, '/static/public.txt?v=1');
    expect(followed.status).toBe(200);
    expect(followed.body.toString()).toBe('public\n');
  });

  it('sends a path that climbs out of a mount back through the router', async () => {
    // The root-mounted instance sees it first and redirects; the guard then answers.
    const res = await rawRequest(servers.strict!.port, '/static/../admin/secret.html');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/admin/secret.html');
  });

  it('refuses a path that climbs above its own mount', async () => {
    const app = express();
    app.use('/static', serveStatic(dir.path, { canonicalPaths: true, fallthrough: false }));
    app.use((err: { status?: number; name?: string }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.status ?? 500).type('text').send(`error ${err.name}`);
    });
    const mounted = await start(app);
    try {
      const res = await rawRequest(mounted.port, '/static/../admin/secret.html');
      expect(res.status).toBe(403);
      expect(res.body.toString()).toBe('error ForbiddenError');
    } finally {
      mounted.server.closeAllConnections();
      await new Promise((done) => mounted.server.close(done));
    }
  });

  it('serves canonical paths as usual', async () => {
    const res = await rawRequest(servers.strict!.port, '/public.txt');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('public\n');
  });
});

describe('canonicalPaths when the application rewrote req.url', () => {
  it.each([
    [true, 404, 'fell through'],
    [false, 400, 'BadRequestError: Bad Request'],
  ])('refuses a non-canonical rewrite it cannot redirect (fallthrough: %s)', async (fallthrough, status, body) => {
    const middleware = serveStatic(dir.path, { canonicalPaths: true, fallthrough });
    const nexts: unknown[] = [];
    const app = await listen((req, res) => {
      // An SPA-style rewrite: the client asked for /page, the app serves /x/../public.txt instead.
      Object.assign(req, { originalUrl: req.url, url: '/x/../public.txt' });
      middleware(req, res, (err) => finalHandler(nexts, req, res, err));
    });
    try {
      const res = await rawRequest(app.port, '/page');
      expect(res.status).toBe(status);
      expect(res.headers.location).toBeUndefined();
      expect(res.body.toString()).toBe(body);
    } finally {
      await app.close();
    }
  });
});

describe('the same app with canonicalPaths off (serve-static behaviour)', () => {
  it.each(['/x/../admin/secret.html', '/./admin/secret.html', '/%61dmin/secret.html'])(
    '%s reaches the file past the guard (why the strict mode exists)',
    async (path) => {
      const res = await rawRequest(servers.lenient!.port, path);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('TOP SECRET\n');
    },
  );

  it('//admin/secret.html is served too', async () => {
    const res = await rawRequest(servers.lenient!.port, '//admin/secret.html');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('TOP SECRET\n');
  });

  it('an encoded slash is refused by default all the same', async () => {
    const res = await rawRequest(servers.lenient!.port, '/admin%2fsecret.html');
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('no such page');
  });
});
