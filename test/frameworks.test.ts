/**
 * The middleware inside real frameworks: Express 5, Express 4, Connect (shared suite, `describe.each`), and
 * plain `node:http`, where there is no `next` and the middleware answers misses itself.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import connect from 'connect';
import etag from 'etag';
import express from 'express';
import referenceServeStatic from 'serve-static';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../src/index.js';
import { FIXTURES, get, listen, tempDir } from './helpers.js';

// `express4` is an npm alias of express@4 without its own type declarations; its API used here (use, mount
// paths, error middleware) is the one typed by @types/express 5.
const express4 = createRequire(import.meta.url)('express4') as typeof express;

type Next = (err?: unknown) => void;
type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
interface Mount {
  readonly path?: string;
  readonly middleware: Middleware;
}

/** The last middleware of every app: a plain 404 that proves the request fell all the way through. */
function finalNotFound(_req: IncomingMessage, res: ServerResponse): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('final 404');
}

interface ErrorShape {
  status: number | undefined;
  name: string | undefined;
  code: string | undefined;
  expose: boolean | undefined;
}

function shapeOf(err: unknown): ErrorShape {
  const error = err as { status?: number; name?: string; code?: string; expose?: boolean };
  return { status: error.status, name: error.name, code: error.code, expose: error.expose };
}

/** An error middleware (arity 4) that records `err` and answers its status with its shape as JSON. */
function errorHandler(errors: unknown[]) {
  return (err: unknown, _req: IncomingMessage, res: ServerResponse, _next: Next): void => {
    errors.push(err);
    const shape = shapeOf(err);
    res.statusCode = shape.status ?? 500;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(shape));
  };
}

interface Framework {
  readonly name: string;
  /** The app: `mounts` in order, then `finalNotFound`, then an error handler that records into `errors`. */
  build(mounts: readonly Mount[], errors: unknown[]): RequestListener;
}

function expressFramework(name: string, factory: typeof express): Framework {
  return {
    name,
    build(mounts, errors) {
      const app = factory();
      app.disable('x-powered-by');
      for (const mount of mounts) {
        if (mount.path === undefined) app.use(mount.middleware);
        else app.use(mount.path, mount.middleware);
      }
      app.use(finalNotFound);
      app.use(errorHandler(errors));
      return app;
    },
  };
}

const FRAMEWORKS: readonly Framework[] = [
  expressFramework('Express 5', express),
  expressFramework('Express 4', express4),
  {
    name: 'Connect',
    build(mounts, errors) {
      const app = connect();
      for (const mount of mounts) {
        if (mount.path === undefined) app.use(mount.middleware);
        else app.use(mount.path, mount.middleware);
      }
      app.use(finalNotFound);
      app.use(errorHandler(errors));
      return app;
    },
  },
];

interface AppServer {
  readonly url: string;
  readonly errors: unknown[];
  close(): Promise<void>;
}

async function startApp(framework: Framework, mounts: readonly Mount[]): Promise<AppServer> {
  const errors: unknown[] = [];
  const server = await listen(framework.build(mounts, errors));
  return { url: server.url, errors, close: server.close };
}

const todo = statSync(join(FIXTURES, 'todo.txt'));
const TODO_BODY = '- groceries\n';
const USERS_INDEX = readFileSync(join(FIXTURES, 'users', 'index.html'), 'utf8');
const ROOT_INDEX = readFileSync(join(FIXTURES, 'index.html'), 'utf8');

/** The second directory: one file of its own, and a `todo.txt` that the first directory shadows. */
const second = tempDir('brisk-static-frameworks-');
const SECOND_BODY = 'from the second directory\n';
writeFileSync(join(second.path, 'second.txt'), SECOND_BODY);
writeFileSync(join(second.path, 'todo.txt'), 'shadowed\n');
afterAll(() => second.remove());

function expectTodo(res: Response): void {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(res.headers.get('content-length')).toBe(String(todo.size));
  expect(res.headers.get('etag')).toBe(etag(todo));
  expect(res.headers.get('last-modified')).toBe(todo.mtime.toUTCString());
  expect(res.headers.get('cache-control')).toBe('public, max-age=0');
  expect(res.headers.get('accept-ranges')).toBe('bytes');
}

async function expectFinal404(res: Response): Promise<void> {
  expect(res.status).toBe(404);
  expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(await res.text()).toBe('final 404');
}

async function expectRedirect(res: Response, location: string): Promise<void> {
  expect(res.status).toBe(301);
  expect(res.headers.get('location')).toBe(location);
  expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
  expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(await res.text()).toContain(`<pre>Redirecting to ${location}</pre>`);
}

describe.each(FRAMEWORKS)('$name', (framework) => {
  describe('one directory', () => {
    let app: AppServer;
    beforeAll(async () => {
      app = await startApp(framework, [{ middleware: serveStatic(FIXTURES) }]);
    });
    afterAll(() => app.close());

    it('serves a file with its headers and body', async () => {
      const res = await get(`${app.url}/todo.txt`);
      expectTodo(res);
      expect(await res.text()).toBe(TODO_BODY);
    });

    it('answers HEAD with the headers and no body', async () => {
      const res = await get(`${app.url}/todo.txt`, { method: 'HEAD' });
      expectTodo(res);
      expect(await res.text()).toBe('');
    });

    it('serves the index of the root', async () => {
      const res = await get(`${app.url}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toBe(ROOT_INDEX);
    });
  });

  describe('several directories in sequence', () => {
    let app: AppServer;
    beforeAll(async () => {
      app = await startApp(framework, [{ middleware: serveStatic(FIXTURES) }, { middleware: serveStatic(second.path) }]);
    });
    afterAll(() => app.close());

    it('serves from the first directory that has the file', async () => {
      const res = await get(`${app.url}/todo.txt`);
      expectTodo(res);
      expect(await res.text()).toBe(TODO_BODY);
    });

    it('falls through a miss in the first to the second', async () => {
      const res = await get(`${app.url}/second.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(SECOND_BODY)));
      expect(await res.text()).toBe(SECOND_BODY);
    });

    it('reaches the final 404 handler on a miss in both, without an error', async () => {
      await expectFinal404(await get(`${app.url}/nope.txt`));
      expect(app.errors).toEqual([]);
    });

    it('lets other methods through both to the final handler', async () => {
      await expectFinal404(await get(`${app.url}/todo.txt`, { method: 'POST' }));
      expect(app.errors).toEqual([]);
    });
  });

  describe("mounted under '/static'", () => {
    let app: AppServer;
    beforeAll(async () => {
      app = await startApp(framework, [{ path: '/static', middleware: serveStatic(FIXTURES) }]);
    });
    afterAll(() => app.close());

    it('serves /static/todo.txt', async () => {
      const res = await get(`${app.url}/static/todo.txt`);
      expectTodo(res);
      expect(await res.text()).toBe(TODO_BODY);
    });

    it('redirects /static to /static/', async () => {
      await expectRedirect(await get(`${app.url}/static`), '/static/');
    });

    it('serves the index at /static/', async () => {
      const res = await get(`${app.url}/static/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toBe(ROOT_INDEX);
    });

    it('redirects /static/users?x=1 to /static/users/?x=1, keeping the query', async () => {
      await expectRedirect(await get(`${app.url}/static/users?x=1`), '/static/users/?x=1');
    });

    it('serves the directory index after the redirect', async () => {
      const res = await get(`${app.url}/static/users/?x=1`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toBe(USERS_INDEX);
    });

    it('does not serve outside the prefix', async () => {
      await expectFinal404(await get(`${app.url}/todo.txt`));
    });
  });

  describe('fallthrough: false', () => {
    let ours: AppServer;
    let reference: AppServer;
    beforeAll(async () => {
      ours = await startApp(framework, [{ middleware: serveStatic(FIXTURES, { fallthrough: false }) }]);
      reference = await startApp(framework, [{ middleware: referenceServeStatic(FIXTURES, { fallthrough: false }) }]);
    });
    afterAll(() => Promise.all([ours.close(), reference.close()]));

    it.each([
      ['/nope.txt', { status: 404, name: 'Error', code: 'ENOENT', expose: false }],
      ['/users/tobi.txt/x', { status: 404, name: 'Error', code: 'ENOTDIR', expose: false }],
      ['/docs/', { status: 404, name: 'Error', code: 'ENOENT', expose: false }],
      ['/.hidden', { status: 404, name: 'NotFoundError', code: undefined, expose: true }],
    ])('hands a miss of %s to the error handler as serve-static does', async (path, expected) => {
      const before = { ours: ours.errors.length, reference: reference.errors.length };
      const res = await get(`${ours.url}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual(JSON.parse(JSON.stringify(expected)));
      expect(ours.errors.length).toBe(before.ours + 1);
      expect(shapeOf(ours.errors.at(-1))).toEqual(expected);

      const ref = await get(`${reference.url}${path}`);
      expect(ref.status).toBe(404);
      expect(reference.errors.length).toBe(before.reference + 1);
      expect(shapeOf(ours.errors.at(-1))).toEqual(shapeOf(reference.errors.at(-1)));
    });

    it('answers POST with 405 and Allow: GET, HEAD, as serve-static does', async () => {
      const before = ours.errors.length;
      for (const url of [ours.url, reference.url]) {
        const res = await get(`${url}/todo.txt`, { method: 'POST' });
        expect(res.status).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
        expect(res.headers.get('content-length')).toBe('0');
        expect(await res.text()).toBe('');
      }
      expect(ours.errors.length).toBe(before);
    });

    it('still serves files', async () => {
      const res = await get(`${ours.url}/todo.txt`);
      expectTodo(res);
      expect(await res.text()).toBe(TODO_BODY);
    });
  });
});

describe('plain node:http (no next)', () => {
  let server: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    const middleware = serveStatic(FIXTURES);
    server = await listen((req, res) => middleware(req, res));
  });
  afterAll(() => server.close());

  function expectErrorPage(res: Response, status: number): void {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  }

  it('serves a hit', async () => {
    const res = await get(`${server.url}/todo.txt`);
    expectTodo(res);
    expect(await res.text()).toBe(TODO_BODY);
  });

  it('answers a missing file with its own 404 page, without naming the server path', async () => {
    const res = await get(`${server.url}/nope.txt`);
    expectErrorPage(res, 404);
    const body = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(body).toMatch(/^<!DOCTYPE html>\n[\s\S]*<title>Error<\/title>[\s\S]*<pre>Not Found<\/pre>/);
    expect(body).not.toContain(FIXTURES);
    expect(body).not.toContain('ENOENT');
  });

  it('answers an ignored dotfile with a 404 "Not Found" page', async () => {
    const res = await get(`${server.url}/.hidden`);
    expectErrorPage(res, 404);
    expect(await res.text()).toContain('<pre>Not Found</pre>');
  });

  it('answers HEAD of a missing file with 404 and no body', async () => {
    const res = await get(`${server.url}/nope.txt`, { method: 'HEAD' });
    expectErrorPage(res, 404);
    expect(await res.text()).toBe('');
  });

  it('answers POST with 405 and Allow: GET, HEAD', async () => {
    const res = await get(`${server.url}/todo.txt`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(res.headers.get('content-length')).toBe('0');
    expect(await res.text()).toBe('');
  });

  it('redirects a directory without its slash', async () => {
    await expectRedirect(await get(`${server.url}/users?x=1`), '/users/?x=1');
  });
});
