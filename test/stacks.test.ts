/**
 * The middleware inside real stacks, each on a real server (or Fastify's `inject()`): Express 5 and 4 behind
 * `compression` and `morgan`, Connect, polka, h3's `fromNodeMiddleware`, Fastify 5 through `@fastify/middie`
 * and `@fastify/express` (listen, `inject()`, `http2: true`), Koa 3 and 2 through koa-connect, and the
 * `node:http2` compatibility API over h2c and TLS, with requests cancelled before and during the body.
 *
 * Files: 1 KB of text (answered by the file thread in one hop with its bytes), a 300 KiB binary and a 2 MiB
 * JavaScript file (both over 64 KiB: streamed by the body pump), an index.html in a subdirectory.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fastifyExpress from '@fastify/express';
import middie from '@fastify/middie';
import compression from 'compression';
import connect from 'connect';
import etag from 'etag';
import express from 'express';
import fastify, { type FastifyInstance } from 'fastify';
import { createApp, eventHandler, fromNodeMiddleware, setResponseHeader, setResponseStatus, toNodeListener } from 'h3';
import Koa from 'koa';
import koaConnect from 'koa-connect';
import morgan from 'morgan';
import polka from 'polka';
import referenceServeStatic from 'serve-static';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileThread, type FileThread } from '../src/file-thread.js';
import { serveStatic } from '../src/index.js';
import { get, listen, openDescriptorCount, settledDescriptorCount, tempDir } from './helpers.js';

// npm aliases of express@4 and koa@2 without their own declarations; the parts used here are typed alike.
const require = createRequire(import.meta.url);
const express4 = require('express4') as typeof express;
const Koa2 = require('koa2') as typeof Koa;

type Next = (err?: unknown) => void;
type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

const dir = tempDir('brisk-stacks-');
const root = dir.path;

interface Fixture {
  readonly url: string;
  readonly bytes: Buffer;
  readonly type: string;
  readonly etag: string;
}

function fixture(name: string, bytes: Buffer, type: string): Fixture {
  const path = join(root, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return { url: `/${name}`, bytes, type, etag: etag(statSync(path)) };
}

/** Text-like JavaScript, so that gzip has something to do (and a wrong byte anywhere shows). */
function javascript(size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = `export function handler${i}(event) { return { id: ${i}, name: 'item-${(i * 7919) % 10007}', ok: ${i % 3 === 0} }; }\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

function text(size: number): Buffer {
  const line = 'The quick brown fox jumps over the lazy dog, 0123456789.\n';
  return Buffer.from(line.repeat(Math.ceil(size / line.length))).subarray(0, size);
}

const SMALL = fixture('small.txt', text(1024), 'text/plain; charset=utf-8');
const BLOB = fixture('blob.bin', randomBytes(300 * 1024), 'application/octet-stream');
const BIG = fixture('big.js', javascript(2 * 1024 * 1024), 'text/javascript; charset=utf-8');
const INDEX = fixture(
  'sub/index.html',
  Buffer.from('<!DOCTYPE html>\n<title>sub</title>\n<p>the index of a subdirectory</p>\n'),
  'text/html; charset=utf-8',
);
const FILES = [SMALL, BLOB, BIG] as const;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function fileThread(): FileThread {
  const thread = startFileThread();
  if (thread === null) throw new Error('the file thread could not start');
  return thread;
}

beforeAll(async () => {
  expect(await startFileThread()?.ready).toBe(true);
});

afterAll(() => dir.remove());

// ---------------------------------------------------------------------------------------------------------
// Clients: every stack is asked through one of these, and answers the same shape.

interface Answer {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with `, `; no HTTP/2 pseudo-headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

interface RequestInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
}

type Fetch = (path: string, init?: RequestInit) => Promise<Answer>;

function flatHeaders(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return flat;
}

/** HTTP/1.1 over a real socket (exactly the headers given, no decompression). */
function http1(url: string): Fetch {
  return async (path, init = {}) => {
    const response = await get(url + path, { method: init.method ?? 'GET', headers: init.headers ?? {} });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[name] = value));
    return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
  };
}

/** One request on an HTTP/2 client session. */
function http2Request(session: http2.ClientHttp2Session, path: string, init: RequestInit = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': init.method ?? 'GET', ':path': path, ...init.headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: Record<string, string> = {};
    stream.on('response', (received) => {
      status = Number(received[':status']);
      headers = flatHeaders(received);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end();
  });
}

async function http2Session(url: string, options: http2.SecureClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url, options);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

function closeSession(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => session.close(() => resolve()));
}

/** Fastify's `inject()`: light-my-request's fake request and response, no socket. */
function injected(app: FastifyInstance): Fetch {
  return async (path, init = {}) => {
    const method = (init.method ?? 'GET') as 'GET' | 'HEAD';
    const response = await app.inject({ method, url: path, headers: init.headers ?? {} });
    return { status: response.statusCode, headers: flatHeaders(response.headers), body: response.rawPayload };
  };
}

// ---------------------------------------------------------------------------------------------------------
// The behaviour every stack must keep.

interface Served {
  readonly fetch: Fetch;
  close(): Promise<void>;
}

interface Miss {
  readonly status: number;
  /** What the stack's next handler (or its own 404) answers. */
  readonly body: string | RegExp;
}

function expectFile(answer: Answer, file: Fixture): void {
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toBe(file.type);
  expect(answer.headers['content-length']).toBe(String(file.bytes.length));
  expect(answer.headers['etag']).toBe(file.etag);
  expect(answer.headers['accept-ranges']).toBe('bytes');
  expect(answer.body.length).toBe(file.bytes.length);
  expect(sha256(answer.body)).toBe(sha256(file.bytes));
}

function describeServing(name: string, start: () => Promise<Served>, miss: Miss): void {
  describe(name, () => {
    let served: Served | undefined;
    const fetch: Fetch = (path, init) => {
      if (served === undefined) throw new Error(`${name} did not start`);
      return served.fetch(path, init);
    };
    beforeAll(async () => {
      served = await start();
    });
    afterAll(async () => {
      await served?.close();
    });

    it('serves 1 KB, 300 KiB and 2 MiB files byte-identical, and a subdirectory index, through the file thread', async () => {
      const answered = fileThread().answered;
      for (const file of FILES) expectFile(await fetch(file.url), file);
      const index = await fetch('/sub/');
      expect(index.status).toBe(200);
      expect(index.headers['content-type']).toBe(INDEX.type);
      expect(index.headers['etag']).toBe(INDEX.etag);
      expect(index.body.equals(INDEX.bytes)).toBe(true);
      expect(fileThread().answered - answered).toBeGreaterThanOrEqual(4);
    });

    it('answers If-None-Match with 304 and no body, for a small and a large file', async () => {
      for (const file of [SMALL, BIG]) {
        const answer = await fetch(file.url, { headers: { 'if-none-match': file.etag } });
        expect(answer.status).toBe(304);
        expect(answer.headers['etag']).toBe(file.etag);
        expect(answer.headers['content-type']).toBeUndefined();
        expect(answer.body.length).toBe(0);
      }
    });

    it('answers a Range with 206 and exactly those bytes, in a small file and across a large one', async () => {
      const small = await fetch(SMALL.url, { headers: { range: 'bytes=100-199' } });
      expect(small.status).toBe(206);
      expect(small.headers['content-range']).toBe(`bytes 100-199/${SMALL.bytes.length}`);
      expect(small.headers['content-length']).toBe('100');
      expect(small.body.equals(SMALL.bytes.subarray(100, 200))).toBe(true);

      // 700,000 bytes from the middle: more than one read of the pump.
      const large = await fetch(BIG.url, { headers: { range: 'bytes=1000000-1699999' } });
      expect(large.status).toBe(206);
      expect(large.headers['content-range']).toBe(`bytes 1000000-1699999/${BIG.bytes.length}`);
      expect(large.headers['content-length']).toBe('700000');
      expect(sha256(large.body)).toBe(sha256(BIG.bytes.subarray(1_000_000, 1_700_000)));
    });

    it('answers HEAD with the length and no body', async () => {
      const answer = await fetch(BIG.url, { method: 'HEAD' });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-length']).toBe(String(BIG.bytes.length));
      expect(answer.headers['etag']).toBe(BIG.etag);
      expect(answer.body.length).toBe(0);
    });

    it('lets a miss fall through to the next handler', async () => {
      const answer = await fetch('/missing.txt');
      expect(answer.status).toBe(miss.status);
      if (typeof miss.body === 'string') expect(answer.body.toString()).toBe(miss.body);
      else expect(answer.body.toString()).toMatch(miss.body);
      expect(answer.headers['etag']).toBeUndefined();
    });
  });
}

/** The next handler of the Connect-style stacks: a visible 404 that only a fall-through reaches. */
function nextNotFound(label: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const body = `${label}: next handler`;
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  };
}

// ---------------------------------------------------------------------------------------------------------
// 1. Express with compression and morgan in front.

const EXPRESSES = [
  { name: 'Express 5', factory: express },
  { name: 'Express 4', factory: express4 },
] as const;

describe.each(EXPRESSES)('$name with compression and morgan in front', ({ factory }) => {
  /** morgan's lines, `:method :url :status :res[content-length]`, as they are written. */
  const lines: string[] = [];
  let fetch: Fetch;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = factory();
    app.disable('x-powered-by');
    app.use(morgan(':method :url :status :res[content-length]', { stream: { write: (line) => void lines.push(line.trim()) } }));
    app.use(compression());
    app.use('/ours', serveStatic(root) as Middleware);
    app.use('/control', referenceServeStatic(root) as Middleware);
    app.use(nextNotFound('express'));
    const server = await listen(app);
    fetch = http1(server.url);
    close = server.close;
  });
  afterAll(() => close());

  /** The line morgan logged for the next request (it logs when the response finishes). */
  async function logged(path: string, init?: RequestInit): Promise<{ answer: Answer; line: string }> {
    const from = lines.length;
    const answer = await fetch(path, init);
    for (let i = 0; i < 100 && lines.length === from; i++) await new Promise((done) => setTimeout(done, 10));
    expect(lines.length).toBe(from + 1);
    return { answer, line: lines[from] as string };
  }

  describe.each(['ours', 'control'])('/%s (serve-static is the control)', (mount) => {
    it('gzips the 2 MiB JavaScript file to exactly its bytes, through the body pump', async () => {
      const answered = fileThread().answered;
      const answer = await fetch(`/${mount}${BIG.url}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-encoding']).toBe('gzip');
      expect(answer.headers['vary']).toBe('Accept-Encoding');
      expect(answer.headers['content-type']).toBe(BIG.type);
      expect(answer.headers['etag']).toBe(BIG.etag);
      expect(answer.headers['content-length']).toBeUndefined();
      expect(answer.body.length).toBeLessThan(BIG.bytes.length / 4);
      expect(sha256(gunzipSync(answer.body))).toBe(sha256(BIG.bytes));
      if (mount === 'ours') expect(fileThread().answered).toBeGreaterThan(answered);
    });

    it('gzips the 1 KB text file to exactly its bytes', async () => {
      const answer = await fetch(`/${mount}${SMALL.url}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-encoding']).toBe('gzip');
      expect(answer.headers['content-type']).toBe(SMALL.type);
      expect(gunzipSync(answer.body).equals(SMALL.bytes)).toBe(true);
    });

    it('gzips the 300 KiB binary (application/octet-stream is compressible to compression) to exactly its bytes', async () => {
      const answer = await fetch(`/${mount}${BLOB.url}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-encoding']).toBe('gzip');
      expect(answer.headers['content-type']).toBe(BLOB.type);
      expect(answer.headers['etag']).toBe(BLOB.etag);
      expect(sha256(gunzipSync(answer.body))).toBe(sha256(BLOB.bytes));
    });

    it('sends the 300 KiB binary as it is when the client takes no gzip', async () => {
      expectFile(await fetch(`/${mount}${BLOB.url}`), BLOB);
    });

    it('answers 304 through compression', async () => {
      const answer = await fetch(`/${mount}${BIG.url}`, { headers: { 'accept-encoding': 'gzip', 'if-none-match': BIG.etag } });
      expect(answer.status).toBe(304);
      expect(answer.headers['etag']).toBe(BIG.etag);
      expect(answer.body.length).toBe(0);
    });

    it('is logged by morgan with the status and Content-Length it sent: 200, 304, 206, 404', async () => {
      const notFound = Buffer.from('express: next handler');
      const cases: { path: string; init?: RequestInit; status: number; length: string; body: Buffer | 'gzip' }[] = [
        { path: BIG.url, status: 200, length: String(BIG.bytes.length), body: BIG.bytes },
        { path: BLOB.url, status: 200, length: String(BLOB.bytes.length), body: BLOB.bytes },
        { path: SMALL.url, status: 200, length: String(SMALL.bytes.length), body: SMALL.bytes },
        { path: BIG.url, init: { headers: { 'if-none-match': BIG.etag } }, status: 304, length: '-', body: Buffer.alloc(0) },
        { path: BIG.url, init: { headers: { range: 'bytes=0-99999' } }, status: 206, length: '100000', body: BIG.bytes.subarray(0, 100_000) },
        { path: SMALL.url, init: { headers: { range: 'bytes=0-9' } }, status: 206, length: '10', body: SMALL.bytes.subarray(0, 10) },
        { path: '/missing.txt', status: 404, length: String(notFound.length), body: notFound },
        // Compressed: chunked, so there is no Content-Length to log.
        { path: BIG.url, init: { headers: { 'accept-encoding': 'gzip' } }, status: 200, length: '-', body: 'gzip' },
      ];
      for (const { path, init, status, length, body } of cases) {
        const { answer, line } = await logged(`/${mount}${path}`, init);
        expect(answer.status).toBe(status);
        expect(answer.headers['content-length'] ?? '-').toBe(length);
        expect(line).toBe(`GET /${mount}${path} ${status} ${length}`);
        const received = body === 'gzip' ? gunzipSync(answer.body) : answer.body;
        expect(sha256(received)).toBe(sha256(body === 'gzip' ? BIG.bytes : body));
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2. Connect, polka, h3.

describeServing(
  'Connect',
  async () => {
    const app = connect();
    app.use(serveStatic(root));
    app.use(nextNotFound('connect'));
    const server = await listen(app);
    return { fetch: http1(server.url), close: server.close };
  },
  { status: 404, body: 'connect: next handler' },
);

describeServing(
  'polka 0.5',
  async () => {
    const app = polka({ onNoMatch: nextNotFound('polka') });
    app.use(serveStatic(root) as unknown as polka.Middleware);
    const server = await listen((req, res) => void app.handler(req as polka.Request, res));
    return { fetch: http1(server.url), close: server.close };
  },
  { status: 404, body: 'polka: next handler' },
);

describeServing(
  'h3 1.x via fromNodeMiddleware',
  async () => {
    const app = createApp();
    app.use(fromNodeMiddleware(serveStatic(root)));
    app.use(
      eventHandler((event) => {
        setResponseStatus(event, 404);
        setResponseHeader(event, 'Content-Type', 'text/plain; charset=utf-8');
        return 'h3: next handler';
      }),
    );
    const server = await listen(toNodeListener(app));
    return { fetch: http1(server.url), close: server.close };
  },
  { status: 404, body: 'h3: next handler' },
);

// ---------------------------------------------------------------------------------------------------------
// 3. Fastify 5 through @fastify/middie and @fastify/express: listen, inject(), http2.

const FASTIFY_404 = /^\{"message":"Route GET:\/missing\.txt not found","error":"Not Found","statusCode":404\}$/;

const FASTIFY_PLUGINS = [
  { name: '@fastify/middie', plugin: middie },
  { name: '@fastify/express', plugin: fastifyExpress },
] as const;

async function fastifyApp(plugin: (typeof FASTIFY_PLUGINS)[number]['plugin']): Promise<FastifyInstance> {
  const app = fastify();
  await app.register(plugin);
  app.use(serveStatic(root));
  return app;
}

for (const { name, plugin } of FASTIFY_PLUGINS) {
  describeServing(
    `Fastify 5 + ${name}, listening`,
    async () => {
      const app = await fastifyApp(plugin);
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { fetch: http1(url), close: () => app.close() };
    },
    { status: 404, body: FASTIFY_404 },
  );
}

describeServing(
  'Fastify 5 + @fastify/middie, inject()',
  async () => {
    const app = await fastifyApp(middie);
    await app.ready();
    return { fetch: injected(app), close: () => app.close() };
  },
  { status: 404, body: FASTIFY_404 },
);

/**
 * Under `inject()`, @fastify/express hands the request to Express, whose init swaps the response's prototype for
 * its own (`http.ServerResponse`'s), so light-my-request's `write`/`end` no longer see the body: every body is
 * lost, Fastify's own 404 included (fastify/fastify-express#54, open). Here ours must agree with serve-static in
 * the same app. The 300 KiB and 2 MiB files are left out: streaming them, `write()` returns false on a response
 * that has no socket and so never drains, and ours waits for 'drain' as serve-static's `stream.pipe` does:
 * neither answers.
 */
describe('Fastify 5 + @fastify/express, inject(): as serve-static, headers right, bodies lost upstream', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = fastify();
    await app.register(fastifyExpress);
    app.use('/ours', serveStatic(root));
    app.use('/control', referenceServeStatic(root));
    await app.ready();
  });
  afterAll(() => app.close());

  it('answers the 1 KB file, a 304 and a miss as serve-static does', async () => {
    const fetch = injected(app);
    for (const mount of ['/ours', '/control']) {
      const file = await fetch(mount + SMALL.url);
      expect(file.status).toBe(200);
      expect(file.headers['content-type']).toBe(SMALL.type);
      expect(file.headers['content-length']).toBe(String(SMALL.bytes.length));
      expect(file.headers['etag']).toBe(SMALL.etag);
      expect(file.body.length).toBe(0);

      const fresh = await fetch(mount + SMALL.url, { headers: { 'if-none-match': SMALL.etag } });
      expect(fresh.status).toBe(304);
      expect(fresh.headers['etag']).toBe(SMALL.etag);

      const missed = await fetch(`${mount}/missing.txt`);
      expect(missed.status).toBe(404);
      expect(missed.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(missed.body.length).toBe(0);
    }
  });
});

describeServing(
  'Fastify 5 with http2: true (h2c) + @fastify/middie',
  async () => {
    const app = fastify({ http2: true });
    await app.register(middie);
    app.use(serveStatic(root) as unknown as middie.Handler);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const session = await http2Session(url);
    return {
      fetch: (path, init) => http2Request(session, path, init),
      close: async () => {
        await closeSession(session);
        await app.close();
      },
    };
  },
  { status: 404, body: FASTIFY_404 },
);

// ---------------------------------------------------------------------------------------------------------
// 4. Koa 3 and Koa 2 through koa-connect.

const KOAS = [
  { name: 'Koa 3', Koa },
  { name: 'Koa 2', Koa: Koa2 },
] as const;

/**
 * The recipe (README): Koa starts every response at 404, and serve-static (like this package) keeps the status
 * it finds, setting only 206 and 304. So set the raw status to 200 before the middleware, and put Koa's 404
 * back when the request falls through. `ctx.status = 200` would not do: it marks the status explicit, so a
 * later `ctx.body = ...` stays a 404, and it fixes the status message ("304 OK"). koa-connect settles only when
 * `next` is called, never after a file was sent: the race with the response's 'close' lets the middleware
 * before this one (a logger awaiting `next()`) resume after a hit too.
 */
function koaStatic(middleware: Middleware): Koa.Middleware {
  const connected = koaConnect(middleware as Parameters<typeof koaConnect>[0]);
  return (ctx, next) => {
    ctx.res.statusCode = 200;
    const sent = new Promise<void>((resolve) => ctx.res.once('close', () => resolve()));
    const passed = connected(ctx, () => {
      ctx.res.statusCode = 404;
      return next();
    });
    return Promise.race([sent, passed]);
  };
}

/** Koa's next middleware: answers /api, marks everything else it saw and leaves Koa's own 404. */
const koaNext: Koa.Middleware = (ctx) => {
  if (ctx.path === '/api') ctx.body = { ok: true };
  else ctx.set('X-Reached', 'koa-next');
};

for (const { name, Koa: Application } of KOAS) {
  describeServing(
    `${name} through koa-connect, status 200 set first`,
    async () => {
      const app = new Application();
      app.use(koaStatic(serveStatic(root)));
      app.use(koaNext);
      const server = await listen(app.callback());
      return { fetch: http1(server.url), close: server.close };
    },
    { status: 404, body: 'Not Found' },
  );

  describe(`${name} through koa-connect: what the recipe is for`, () => {
    let url = '';
    let close: () => Promise<void>;
    /** What a logger before the static files saw after `await next()`: path, status, and Content-Length. */
    const logged: string[] = [];
    beforeAll(async () => {
      const app = new Application();
      app.use(async (ctx, next) => {
        await next();
        logged.push(`${ctx.path} ${ctx.status} ${ctx.res.getHeader('Content-Length') ?? '-'}`);
      });
      // Without the recipe: /naive/... to ours, /naive-control/... to serve-static, as plain koa-connect.
      app.use(koaConnect(mountedAt('/naive', serveStatic(root))));
      app.use(koaConnect(mountedAt('/naive-control', referenceServeStatic(root))));
      app.use(koaStatic(serveStatic(root)));
      app.use(koaNext);
      const server = await listen(app.callback());
      url = server.url;
      close = server.close;
    });
    afterAll(() => close());

    it("without it, a file comes back with Koa's 404 status, from serve-static too, and never as a 304", async () => {
      const fetch = http1(url);
      for (const prefix of ['/naive', '/naive-control']) {
        const answer = await fetch(prefix + SMALL.url);
        expect(answer.status).toBe(404);
        expect(answer.headers['etag']).toBe(SMALL.etag);
        expect(answer.body.equals(SMALL.bytes)).toBe(true);
        const conditional = await fetch(prefix + SMALL.url, { headers: { 'if-none-match': SMALL.etag } });
        expect(conditional.status).toBe(404);
        expect(conditional.body.equals(SMALL.bytes)).toBe(true);
      }
    });

    it("with it, a 304 has its own status message, a miss reaches Koa's next middleware, and later routes answer 200", async () => {
      expect(await statusLine(`${url}${BIG.url}`, { 'if-none-match': BIG.etag })).toBe('304 Not Modified');
      expect(await statusLine(`${url}${BIG.url}`, { range: 'bytes=0-9' })).toBe('206 Partial Content');

      const fetch = http1(url);
      const missed = await fetch('/missing.txt');
      expect(missed.status).toBe(404);
      expect(missed.headers['x-reached']).toBe('koa-next');
      expect(missed.body.toString()).toBe('Not Found');

      // The 404 put back is not sticky: a route after the static files answers with Koa's usual 200.
      const api = await fetch('/api');
      expect(api.status).toBe(200);
      expect(api.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(api.body.toString())).toEqual({ ok: true });
    });

    it('with it, middleware before the files resumes after hits as after misses, and sees the status sent', async () => {
      logged.length = 0;
      const fetch = http1(url);
      expectFile(await fetch(BIG.url), BIG);
      expect((await fetch(SMALL.url, { headers: { 'if-none-match': SMALL.etag } })).status).toBe(304);
      expect((await fetch(BLOB.url, { headers: { range: 'bytes=0-99999' } })).status).toBe(206);
      expect((await fetch('/missing.txt')).status).toBe(404);
      for (let i = 0; i < 100 && logged.length < 4; i++) await new Promise((done) => setTimeout(done, 10));
      expect(logged).toEqual([
        `${BIG.url} 200 ${BIG.bytes.length}`,
        `${SMALL.url} 304 -`,
        `${BLOB.url} 206 100000`,
        // Koa writes its own 404 body after the middleware chain has returned.
        '/missing.txt 404 -',
      ]);
    });
  });
}

/** A Connect middleware that hands paths under `prefix` (stripped) to `middleware` and passes the rest on. */
function mountedAt(prefix: string, middleware: Middleware): Parameters<typeof koaConnect>[0] {
  return (req, res, next) => {
    const url = req.url ?? '/';
    if (!url.startsWith(`${prefix}/`)) {
      next();
      return;
    }
    req.url = url.slice(prefix.length);
    middleware(req, res, next);
  };
}

/** The status line's code and message, as the client saw them. */
function statusLine(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(`${res.statusCode} ${res.statusMessage}`));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------------
// 5. node:http2's compatibility API, over h2c and TLS, and requests cancelled before and during the body.

interface Http2Stack {
  readonly name: string;
  /** A server whose every request goes to `handler`, and a connected client session. */
  start(handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void): Promise<{
    session: http2.ClientHttp2Session;
    close(): Promise<void>;
  }>;
}

const certificates = tempDir('brisk-stacks-tls-');
afterAll(() => certificates.remove());
let certificate: { key: Buffer; cert: Buffer } | undefined;

/** A self-signed certificate for localhost and 127.0.0.1, made once by openssl in a temp dir of its own. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  if (certificate === undefined) {
    const keyPath = join(certificates.path, 'key.pem');
    const certPath = join(certificates.path, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath],
      { stdio: 'ignore', timeout: 20_000 },
    );
    certificate = { key: readFileSync(keyPath), cert: readFileSync(certPath) };
  }
  return certificate;
}

async function listenHttp2(server: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return address.port;
}

function closeHttp2(server: http2.Http2Server | http2.Http2SecureServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const HTTP2_STACKS: readonly Http2Stack[] = [
  {
    name: 'node:http2 createServer (h2c)',
    async start(handler) {
      const server = http2.createServer(handler);
      const port = await listenHttp2(server);
      const session = await http2Session(`http://127.0.0.1:${port}`);
      return { session, close: async () => void (await closeSession(session), await closeHttp2(server)) };
    },
  },
  {
    name: 'node:http2 createSecureServer (TLS, self-signed)',
    async start(handler) {
      const { key, cert } = selfSigned();
      const server = http2.createSecureServer({ key, cert }, handler);
      const port = await listenHttp2(server);
      const session = await http2Session(`https://127.0.0.1:${port}`, { ca: cert });
      return { session, close: async () => void (await closeSession(session), await closeHttp2(server)) };
    },
  },
];

/** Our middleware on a compatibility-API server; a miss gets the handler's own 404. */
function http2Handler(counter: { requests: number }): (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void {
  const middleware = serveStatic(root) as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, next: Next) => void;
  return (req, res) => {
    counter.requests++;
    middleware(req, res, () => {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('http2: next handler');
    });
  };
}

for (const stack of HTTP2_STACKS) {
  describeServing(
    stack.name,
    async () => {
      const { session, close } = await stack.start(http2Handler({ requests: 0 }));
      return { fetch: (path, init) => http2Request(session, path, init), close };
    },
    { status: 404, body: 'http2: next handler' },
  );

  describe(`${stack.name}: cancelled requests give back their descriptors`, () => {
    const counter = { requests: 0 };
    let session: http2.ClientHttp2Session;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ session, close } = await stack.start(http2Handler(counter)));
      // Warm up: the session's sockets exist before any count is taken.
      expectFile(await http2Request(session, BIG.url), BIG);
    });
    afterAll(() => close());

    const BATCH = 20;

    /** Sends BATCH requests for the 2 MiB file, each cancelled by `cancel`; resolves when all are closed. */
    async function cancelledBatch(cancel: (stream: http2.ClientHttp2Stream) => void): Promise<{ responses: number; bytes: number }> {
      const seen = counter.requests;
      const answered = fileThread().answered;
      let responses = 0;
      let bytes = 0;
      const closed: Promise<void>[] = [];
      for (let i = 0; i < BATCH; i++) {
        const stream = session.request({ ':path': BIG.url });
        stream.on('response', () => responses++);
        stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
        stream.on('error', () => undefined);
        closed.push(new Promise((resolve) => stream.once('close', () => resolve())));
        cancel(stream);
      }
      await Promise.all(closed);
      // Every request reached the server and its lookup was answered (the descriptor exists, or existed).
      for (let i = 0; i < 100 && (counter.requests - seen < BATCH || fileThread().answered - answered < BATCH); i++) {
        await new Promise((done) => setTimeout(done, 10));
      }
      expect(counter.requests - seen).toBe(BATCH);
      expect(fileThread().answered - answered).toBeGreaterThanOrEqual(BATCH);
      return { responses, bytes };
    }

    it('(a) cancelled right after sending, before any response (before the file is open)', async () => {
      const baseline = await openDescriptorCount();
      const { responses, bytes } = await cancelledBatch((stream) => stream.close(http2.constants.NGHTTP2_CANCEL));
      expect(responses).toBe(0);
      expect(bytes).toBe(0);
      expect(await settledDescriptorCount(baseline)).toBeLessThanOrEqual(baseline);
      // And the server still serves the file whole.
      expectFile(await http2Request(session, BIG.url), BIG);
    });

    it('(b) cancelled after the first DATA chunk arrives', async () => {
      const baseline = await openDescriptorCount();
      const { responses, bytes } = await cancelledBatch((stream) =>
        stream.once('data', () => stream.close(http2.constants.NGHTTP2_CANCEL)),
      );
      expect(responses).toBe(BATCH);
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBeLessThan(BATCH * BIG.bytes.length);
      expect(await settledDescriptorCount(baseline)).toBeLessThanOrEqual(baseline);
      expectFile(await http2Request(session, BIG.url), BIG);
    });
  });
}
