/**
 * AWS Lambda: an Express 5 app with the middleware mounted at `/assets`, a JSON API route and the app's own 404,
 * wrapped by the adapters people deploy it with and invoked in-process with API Gateway events built by hand
 * (REST API, HTTP API payload 2.0, and HTTP API payload 1.0 where the adapter reads only that one):
 *
 * - `@vendia/serverless-express` 4 and `serverless-http` 3 and 4 hand the app a fake socket whose `write()`
 *   returns `undefined` (v3 and vendia) or `true` (v4), and collect the body in memory;
 * - `aws-serverless-express` 3 proxies each event through a real `node:http` server on a Unix socket.
 *
 * Binary bodies must come back `isBase64Encoded: true` and decode to the file's bytes. serve-static 2.2.1 is
 * mounted at `/control` in the same app, on the same directory, as the reference for headers and bodies.
 * Every invocation races a timeout, so a body that never ends fails with a message instead of hanging the suite.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';
import awsServerlessExpress from 'aws-serverless-express';
import etag from 'etag';
import express from 'express';
import referenceServeStatic from 'serve-static';
import serverlessHttp from 'serverless-http';
import serverlessHttp3 from 'serverless-http3';
import { configure as serverlessExpress } from '@vendia/serverless-express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileThread, type FileThread } from '../src/file-thread.js';
import { serveStatic } from '../src/index.js';
import { FIXTURES, tempDir } from './helpers.js';

/** How long one invocation may take before it counts as hung (a real Lambda would run into its own timeout). */
const INVOCATION_TIMEOUT = 5_000;

/** Content types the adapters are told to base64-encode (the same list would go in API Gateway's binary media types). */
const BINARY_TYPES = ['image/*', 'font/*', 'application/octet-stream'];

const base = tempDir('brisk-static-lambda-');
const root = base.path;

/** The files served, with the Content-Type each must carry. Sizes straddle the 64 KiB one-hop limit of the file thread. */
const FILES = {
  'logo.png': { bytes: readFileSync(join(FIXTURES, 'logo.png')), type: 'image/png' },
  'font.woff2': { bytes: randomBytes(48 * 1024), type: 'font/woff2' },
  'data.bin': { bytes: randomBytes(300 * 1024), type: 'application/octet-stream' },
  'big.bin': { bytes: randomBytes(2 * 1024 * 1024), type: 'application/octet-stream' },
  'style.css': { bytes: Buffer.from('body { color: #333; }\n.logo { background: url(logo.png); }\n'), type: 'text/css; charset=utf-8' },
  // 100 KiB: over the one-hop limit, under the first read of the body pump.
  'app.js': { bytes: jsModule(100 * 1024), type: 'text/javascript; charset=utf-8' },
  // 400 KiB, a bundle's size: several reads of the body pump.
  'vendor.js': { bytes: jsModule(400 * 1024), type: 'text/javascript; charset=utf-8' },
  'notes.txt': { bytes: Buffer.from('Grüße aus Lambda — ☃ ✓\n'), type: 'text/plain; charset=utf-8' },
} as const;
type FileName = keyof typeof FILES;
const SUB_INDEX = Buffer.from('<!doctype html><title>sub</title><p>sub index</p>\n');

const BINARIES: readonly FileName[] = ['logo.png', 'font.woff2', 'data.bin', 'big.bin'];
const TEXTS: readonly FileName[] = ['style.css', 'app.js', 'vendor.js', 'notes.txt'];

/** An ES module of about `size` bytes, with non-ASCII text in it (a body decoded as anything but UTF-8 differs). */
function jsModule(size: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, length = 0; length < size; i++) {
    const line = `export const item${i} = 'grüße ${i}';\n`;
    lines.push(line);
    length += Buffer.byteLength(line);
  }
  return Buffer.from(lines.join(''));
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function statOf(name: string) {
  return statSync(join(root, name));
}

// ---------------------------------------------------------------------------------------------------------------
// The app

/** The app's own 404: proves a miss under `/assets` fell through the static middleware to the app. */
function appNotFound(req: express.Request, res: express.Response): void {
  res.status(404).type('text/plain').send(`app 404: ${req.originalUrl}`);
}

function buildApp(): express.Express {
  const app = express();
  app.use('/assets', serveStatic(root));
  app.use('/control', referenceServeStatic(root));
  app.get('/api/greeting', (req, res) => {
    const name = typeof req.query['name'] === 'string' ? req.query['name'] : 'world';
    res.json({ hello: name, via: req.originalUrl });
  });
  app.use(appNotFound);
  return app;
}

// ---------------------------------------------------------------------------------------------------------------
// Events and the Lambda context

/** REST API (v1), HTTP API with payload format 1.0, HTTP API with payload format 2.0. */
type EventKind = 'rest' | 'http-1.0' | 'http-2.0';

interface Req {
  readonly method?: string;
  /** The path as the client sent it, without the query string. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  /** Client headers, in a browser's casing. */
  readonly headers?: Readonly<Record<string, string>>;
}

const API_ID = 'a1b2c3d4e5';
const DOMAIN = `${API_ID}.execute-api.eu-west-1.amazonaws.com`;
const SOURCE_IP = '203.0.113.7';
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

/** What a browser sends, plus what API Gateway adds in front of the function. */
function requestHeaders(req: Req): Record<string, string> {
  return {
    Accept: '*/*',
    'Accept-Encoding': 'gzip, deflate, br',
    'Accept-Language': 'en-GB,en;q=0.5',
    Host: DOMAIN,
    'User-Agent': USER_AGENT,
    'X-Amzn-Trace-Id': `Root=1-${Date.now().toString(16)}-${randomBytes(12).toString('hex')}`,
    'X-Forwarded-For': SOURCE_IP,
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...req.headers,
  };
}

/** The `dd/MMM/yyyy:HH:mm:ss +0000` time API Gateway puts in `requestContext`. */
function requestTime(date: Date): string {
  const month = date.toUTCString().slice(8, 11);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCDate())}/${month}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(
    date.getUTCMinutes(),
  )}:${two(date.getUTCSeconds())} +0000`;
}

/**
 * A REST API proxy event (`/{proxy+}` resource on stage `prod`), or with `httpApi` an HTTP API event in payload
 * format 1.0 (`$default` route and stage, lower-case header names, `version: '1.0'`).
 */
function restEvent(req: Req, httpApi: boolean): APIGatewayProxyEvent & { version?: string } {
  const method = req.method ?? 'GET';
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(requestHeaders(req))) headers[httpApi ? name.toLowerCase() : name] = value;
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]));
  const query = req.query !== undefined && Object.keys(req.query).length > 0 ? { ...req.query } : null;
  const multiQuery = query === null ? null : Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]));
  const now = new Date();
  const event: APIGatewayProxyEvent & { version?: string } = {
    resource: httpApi ? '$default' : '/{proxy+}',
    path: req.path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query,
    multiValueQueryStringParameters: multiQuery,
    pathParameters: httpApi ? null : { proxy: req.path.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: API_ID,
      authorizer: undefined,
      domainName: DOMAIN,
      domainPrefix: API_ID,
      extendedRequestId: randomBytes(8).toString('base64'),
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: SOURCE_IP,
        user: null,
        userAgent: USER_AGENT,
        userArn: null,
      },
      path: httpApi ? req.path : `/prod${req.path}`,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTime: requestTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: httpApi ? '$default' : 'x1y2z3',
      resourcePath: httpApi ? '$default' : '/{proxy+}',
      stage: httpApi ? '$default' : 'prod',
    },
    body: null,
    isBase64Encoded: false,
  };
  if (httpApi) event.version = '1.0';
  return event;
}

/** An HTTP API event in payload format 2.0 (`$default` route and stage). */
function httpApiEvent(req: Req): APIGatewayProxyEventV2 {
  const method = req.method ?? 'GET';
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(requestHeaders(req))) headers[name.toLowerCase()] = value;
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: req.path,
    rawQueryString: new URLSearchParams(req.query ?? {}).toString(),
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: API_ID,
      domainName: DOMAIN,
      domainPrefix: API_ID,
      http: { method, path: req.path, protocol: 'HTTP/1.1', sourceIp: SOURCE_IP, userAgent: USER_AGENT },
      requestId: randomBytes(8).toString('base64'),
      routeKey: '$default',
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (req.query !== undefined && Object.keys(req.query).length > 0) event.queryStringParameters = { ...req.query };
  return event;
}

function eventFor(kind: EventKind, req: Req): APIGatewayProxyEvent | APIGatewayProxyEventV2 {
  return kind === 'http-2.0' ? httpApiEvent(req) : restEvent(req, kind === 'http-1.0');
}

/** The one thing Lambda itself provides: the invocation context. */
function lambdaContext(): Context {
  const deadline = Date.now() + 30_000;
  const unused = (): void => {
    throw new Error('the adapters resolve a promise; the legacy context methods are not used');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'static-site',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:static-site',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/static-site',
    logStreamName: `2026/12/01/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unused,
    fail: unused,
    succeed: unused,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Adapters and answers

type Invoke = (event: APIGatewayProxyEvent | APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

interface Adapter {
  readonly name: string;
  /** The event shapes this adapter reads. */
  readonly kinds: readonly EventKind[];
  /** Whether text responses come back base64 too (the adapter was told to encode everything). */
  readonly textBase64: boolean;
  readonly wrap: (app: express.Express) => { invoke: Invoke; close?: () => Promise<void> };
}

const ADAPTERS: readonly Adapter[] = [
  {
    name: '@vendia/serverless-express 4',
    kinds: ['rest', 'http-2.0'],
    textBase64: false,
    wrap(app) {
      const handler = serverlessExpress({ app, binarySettings: { contentTypes: BINARY_TYPES } });
      return { invoke: (event, context) => handler(event, context, () => undefined) as Promise<unknown> };
    },
  },
  {
    name: 'aws-serverless-express 3',
    // It reads `httpMethod`, `path`, `headers` and `queryStringParameters`: payload format 1.0 only.
    kinds: ['rest', 'http-1.0'],
    textBase64: false,
    wrap(app) {
      const server: Server = awsServerlessExpress.createServer(app, undefined, BINARY_TYPES);
      return {
        invoke: (event, context) =>
          awsServerlessExpress.proxy(server, event as APIGatewayProxyEvent, context, 'PROMISE').promise,
        close: () =>
          new Promise<void>((done) => {
            if (!server.listening) return done();
            server.closeAllConnections();
            server.close(() => done());
          }),
      };
    },
  },
  {
    name: 'serverless-http 4',
    kinds: ['rest', 'http-2.0'],
    textBase64: false,
    wrap(app) {
      const handler = serverlessHttp(app, { binary: BINARY_TYPES });
      return { invoke: (event, context) => handler(event, context) };
    },
  },
  {
    name: 'serverless-http 3',
    kinds: ['rest', 'http-2.0'],
    // `binary: true` base64-encodes every response, text included.
    textBase64: true,
    wrap(app) {
      const handler = serverlessHttp3(app, { binary: true });
      return { invoke: (event, context) => handler(event, context) };
    },
  },
];

interface Answer {
  readonly status: number;
  /** Lower-case names; multi-value headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly base64: boolean;
  /** The body as the client receives it, once API Gateway has decoded a base64 body. */
  readonly body: Buffer;
}

function answerOf(raw: unknown): Answer {
  const result = raw as {
    statusCode?: unknown;
    body?: unknown;
    isBase64Encoded?: unknown;
    headers?: Record<string, unknown>;
    multiValueHeaders?: Record<string, unknown[]>;
  };
  expect(typeof result.statusCode, 'statusCode of the Lambda result').toBe('number');
  expect(typeof result.body, 'body of the Lambda result').toBe('string');
  const base64 = result.isBase64Encoded === true;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
  // API Gateway merges `multiValueHeaders` over `headers`.
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    headers[name.toLowerCase()] = values.map(String).join(', ');
  }
  return {
    status: result.statusCode as number,
    headers,
    base64,
    body: Buffer.from(result.body as string, base64 ? 'base64' : 'utf8'),
  };
}

function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label}: no Lambda result within ${ms} ms (the invocation hangs; a real one would run into the function's timeout)`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------------------------

let app: express.Express;
let thread: FileThread;
const wrapped = new Map<string, { invoke: Invoke; close?: () => Promise<void> }>();

beforeAll(async () => {
  for (const [name, file] of Object.entries(FILES)) writeFileSync(join(root, name), file.bytes);
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'index.html'), SUB_INDEX);
  const started = startFileThread();
  if (started === null) throw new Error('the file thread could not start here');
  expect(await started.ready).toBe(true);
  thread = started;
  app = buildApp();
  // A cold start: one invocation each, one at a time, as Lambda sends them. aws-serverless-express starts its
  // server on the first one, and calls `listen` again for every invocation that arrives before it listens.
  for (const adapter of ADAPTERS) {
    wrapped.set(adapter.name, adapter.wrap(app));
    const first = await invoker(adapter, 'rest')({ path: '/api/greeting' });
    expect(first.status, `${adapter.name}: first invocation`).toBe(200);
  }
});

afterAll(async () => {
  for (const { close } of wrapped.values()) await close?.();
  base.remove();
});

function invoker(adapter: Adapter, kind: EventKind): (req: Req) => Promise<Answer> {
  return async (req) => {
    const target = wrapped.get(adapter.name);
    if (target === undefined) throw new Error(`${adapter.name} is not set up`);
    const query = req.query === undefined ? '' : `?${new URLSearchParams(req.query).toString()}`;
    const label = `${adapter.name}, ${kind} event, ${req.method ?? 'GET'} ${req.path}${query}`;
    return answerOf(await within(target.invoke(eventFor(kind, req), lambdaContext()), INVOCATION_TIMEOUT, label));
  };
}

/** The headers a static file's 200 carries, as both middlewares set them. */
function expectFileHeaders(answer: Answer, name: FileName, label: string): void {
  const stat = statOf(name);
  expect(answer.headers['content-type'], `${label} Content-Type`).toBe(FILES[name].type);
  expect(answer.headers['content-length'], `${label} Content-Length`).toBe(String(stat.size));
  expect(answer.headers['etag'], `${label} ETag`).toBe(etag(stat));
  expect(answer.headers['last-modified'], `${label} Last-Modified`).toBe(stat.mtime.toUTCString());
  expect(answer.headers['cache-control'], `${label} Cache-Control`).toBe('public, max-age=0');
  expect(answer.headers['accept-ranges'], `${label} Accept-Ranges`).toBe('bytes');
}

const SAME_AS_CONTROL = ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges'];

function headersNamed(answer: Answer, names: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(names.map((name) => [name, answer.headers[name]]));
}

for (const adapter of ADAPTERS) {
  for (const kind of adapter.kinds) {
    // Concurrent: on code where bodies hang, the timeouts of one adapter's tests run out together.
    describe.concurrent(`${adapter.name}, ${kind} event`, () => {
      const call = invoker(adapter, kind);

      it('serves a PNG, a font, a 300 KiB and a 2 MiB file base64-encoded and byte-identical, with the headers serve-static sends', async () => {
        const before = thread.answered;
        const answers = await Promise.all(
          BINARIES.map(async (name) => {
            const [ours, control] = await Promise.all([call({ path: `/assets/${name}` }), call({ path: `/control/${name}` })]);
            return { name, ours, control };
          }),
        );
        for (const { name, ours, control } of answers) {
          expect(ours.status, name).toBe(200);
          expect(ours.base64, `${name} isBase64Encoded`).toBe(true);
          expect(ours.body.length, `${name} decoded length`).toBe(FILES[name].bytes.length);
          expect(sha256(ours.body), `${name} sha256`).toBe(sha256(FILES[name].bytes));
          expectFileHeaders(ours, name, name);
          expect(control.status, `${name} (serve-static)`).toBe(200);
          expect(sha256(control.body), `${name} sha256 (serve-static)`).toBe(sha256(FILES[name].bytes));
          expect(headersNamed(ours, SAME_AS_CONTROL), `${name}: same headers as serve-static`).toEqual(
            headersNamed(control, SAME_AS_CONTROL),
          );
        }
        expect(thread.answered, 'lookups answered by the file thread').toBeGreaterThan(before);
      });

      it('serves text, CSS and JS files of 100 and 400 KiB with their charset, byte-identical', async () => {
        for (const name of TEXTS) {
          const answer = await call({ path: `/assets/${name}` });
          expect(answer.status, name).toBe(200);
          expect(answer.base64, `${name} isBase64Encoded`).toBe(adapter.textBase64);
          expect(answer.body.equals(FILES[name].bytes), `${name} body`).toBe(true);
          expectFileHeaders(answer, name, name);
        }
      });

      it('answers 304 to If-None-Match with the ETag of an earlier response', async () => {
        const first = await call({ path: '/assets/logo.png' });
        expect(first.status).toBe(200);
        const tag = first.headers['etag'];
        expect(tag).toBe(etag(statOf('logo.png')));
        const again = await call({ path: '/assets/logo.png', headers: { 'If-None-Match': tag as string } });
        expect(again.status).toBe(304);
        expect(again.body.length).toBe(0);
        expect(again.headers['etag']).toBe(tag);

        const head = await call({ method: 'HEAD', path: '/assets/big.bin' });
        expect(head.status).toBe(200);
        const bigTag = head.headers['etag'];
        expect(bigTag).toBe(etag(statOf('big.bin')));
        const revalidated = await call({ path: '/assets/big.bin', headers: { 'If-None-Match': bigTag as string } });
        expect(revalidated.status).toBe(304);
        expect(revalidated.body.length).toBe(0);
        expect(revalidated.headers['etag']).toBe(bigTag);

        // A stale tag gets the whole file.
        const stale = await call({ path: '/assets/logo.png', headers: { 'If-None-Match': 'W/"1-0"' } });
        expect(stale.status).toBe(200);
        expect(sha256(stale.body)).toBe(sha256(FILES['logo.png'].bytes));
      });

      it('answers 206 with Content-Range for Range requests on the 300 KiB and 2 MiB files', async () => {
        const bytes = FILES['data.bin'].bytes;
        const head = await call({ path: '/assets/data.bin', headers: { Range: 'bytes=0-99' } });
        expect(head.status).toBe(206);
        expect(head.base64).toBe(true);
        expect(head.headers['content-range']).toBe(`bytes 0-99/${bytes.length}`);
        expect(head.headers['content-length']).toBe('100');
        expect(head.headers['content-type']).toBe('application/octet-stream');
        expect(head.body.equals(bytes.subarray(0, 100))).toBe(true);

        // A slice of about 1 MB from the middle of the 2 MiB file: several reads of the body pump.
        const big = FILES['big.bin'].bytes;
        const middle = await call({ path: '/assets/big.bin', headers: { Range: 'bytes=100000-1099999' } });
        expect(middle.status).toBe(206);
        expect(middle.base64).toBe(true);
        expect(middle.headers['content-range']).toBe(`bytes 100000-1099999/${big.length}`);
        expect(middle.headers['content-length']).toBe('1000000');
        expect(sha256(middle.body)).toBe(sha256(big.subarray(100000, 1100000)));
      });

      it('answers HEAD with the headers of a GET and no body', async () => {
        for (const name of ['logo.png', 'big.bin', 'style.css'] as const) {
          const [ours, control] = await Promise.all([
            call({ method: 'HEAD', path: `/assets/${name}` }),
            call({ method: 'HEAD', path: `/control/${name}` }),
          ]);
          expect(ours.status, name).toBe(200);
          expect(ours.body.length, `${name} body`).toBe(0);
          expectFileHeaders(ours, name, `HEAD ${name}`);
          expect(control.status, `${name} (serve-static)`).toBe(200);
          expect(headersNamed(ours, SAME_AS_CONTROL), `HEAD ${name}: same headers as serve-static`).toEqual(
            headersNamed(control, SAME_AS_CONTROL),
          );
        }
      });

      it('redirects a directory without its slash to the mount-prefixed path, query kept', async () => {
        const answer = await call({ path: '/assets/sub' });
        expect(answer.status).toBe(301);
        expect(answer.headers['location']).toBe('/assets/sub/');
        // serve-static's casing of the charset, kept.
        expect(answer.headers['content-type']).toBe('text/html; charset=UTF-8');
        expect(answer.body.toString()).toContain('Redirecting to /assets/sub/');

        const withQuery = await call({ path: '/assets/sub', query: { v: '2' } });
        expect(withQuery.status).toBe(301);
        expect(withQuery.headers['location']).toBe('/assets/sub/?v=2');

        const control = await call({ path: '/control/sub' });
        expect(control.status).toBe(301);
        expect(control.headers['location']).toBe('/control/sub/');
        expect(control.headers['content-type']).toBe(answer.headers['content-type']);

        const index = await call({ path: '/assets/sub/' });
        expect(index.status).toBe(200);
        expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(index.body.equals(SUB_INDEX)).toBe(true);
      });

      it("sends a miss to the app's own 404 handler, and the API route still answers", async () => {
        const miss = await call({ path: '/assets/nope.txt' });
        expect(miss.status).toBe(404);
        expect(miss.headers['content-type']).toBe('text/plain; charset=utf-8');
        expect(miss.body.toString()).toBe('app 404: /assets/nope.txt');

        const api = await call({ path: '/api/greeting', query: { name: 'lambda' } });
        expect(api.status).toBe(200);
        expect(api.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(api.base64).toBe(adapter.textBase64);
        expect(JSON.parse(api.body.toString())).toEqual({ hello: 'lambda', via: '/api/greeting?name=lambda' });
      });
    });
  }
}

describe('aws-serverless-express 3 and HTTP API payload format 2.0', () => {
  it('does not read a 2.0 event: every request reaches the app as GET / (so HTTP APIs need payload format 1.0)', async () => {
    const adapter = ADAPTERS.find((candidate) => candidate.name === 'aws-serverless-express 3');
    if (adapter === undefined) throw new Error('aws-serverless-express is not in the list');
    const answer = await invoker(adapter, 'http-2.0')({ path: '/assets/logo.png' });
    expect(answer.status).toBe(404);
    expect(answer.body.toString()).toBe('app 404: /');
  });
});

/**
 * The README's "Deploying to AWS Lambda" recipe, as written there: hashed assets cached for a year and
 * immutable, HTML revalidated on every request, every response base64-encoded (API Gateway REST with binary
 * media type `*\/*`; HTTP APIs decode base64 bodies by themselves).
 */
describe('the README recipe: cache headers for a CDN in front', () => {
  const site = tempDir('brisk-static-lambda-site-');
  const asset = Buffer.concat([Buffer.from('// app.3f9a1c.js\n'), jsModule(400 * 1024)]);
  const page = Buffer.from('<!doctype html><title>site</title><script src="/assets/app.3f9a1c.js"></script>\n');
  let recipe: { name: string; invoke: Invoke; kind: EventKind }[] = [];

  beforeAll(() => {
    mkdirSync(join(site.path, 'assets'));
    writeFileSync(join(site.path, 'assets', 'app.3f9a1c.js'), asset);
    writeFileSync(join(site.path, 'index.html'), page);

    const siteApp = express();
    siteApp.use('/assets', serveStatic(join(site.path, 'assets'), { immutable: true, maxAge: '1y' }));
    siteApp.use(
      serveStatic(site.path, {
        setHeaders(res, path) {
          if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
        },
      }),
    );
    siteApp.use(appNotFound);

    const vendia = serverlessExpress({ app: siteApp, binarySettings: { isBinary: () => true } });
    const sls = serverlessHttp(siteApp, { binary: true });
    recipe = [
      { name: '@vendia/serverless-express 4', kind: 'rest', invoke: (e, c) => vendia(e, c, () => undefined) as Promise<unknown> },
      { name: '@vendia/serverless-express 4', kind: 'http-2.0', invoke: (e, c) => vendia(e, c, () => undefined) as Promise<unknown> },
      { name: 'serverless-http 4', kind: 'rest', invoke: (e, c) => sls(e, c) },
      { name: 'serverless-http 4', kind: 'http-2.0', invoke: (e, c) => sls(e, c) },
    ];
  });

  afterAll(() => site.remove());

  it('hashed assets: a year and immutable; HTML: no-cache, revalidated with a 304', async () => {
    for (const { name, kind, invoke } of recipe) {
      const call = async (req: Req): Promise<Answer> =>
        answerOf(await within(invoke(eventFor(kind, req), lambdaContext()), INVOCATION_TIMEOUT, `${name}, ${kind}, ${req.path}`));
      const label = `${name}, ${kind}`;

      const js = await call({ path: '/assets/app.3f9a1c.js' });
      expect(js.status, label).toBe(200);
      expect(js.base64, label).toBe(true);
      expect(js.headers['cache-control'], label).toBe('public, max-age=31536000, immutable');
      expect(js.headers['content-type'], label).toBe('text/javascript; charset=utf-8');
      expect(sha256(js.body), label).toBe(sha256(asset));

      const html = await call({ path: '/' });
      expect(html.status, label).toBe(200);
      expect(html.headers['cache-control'], label).toBe('no-cache');
      expect(html.headers['content-type'], label).toBe('text/html; charset=utf-8');
      expect(html.body.equals(page), label).toBe(true);

      const revalidated = await call({ path: '/', headers: { 'If-None-Match': html.headers['etag'] as string } });
      expect(revalidated.status, label).toBe(304);
      expect(revalidated.body.length, label).toBe(0);
    }
  });
});
