/**
 * The Node contracts a fast path must keep (STYLE.md section 9): what users had with the plain path (libuv,
 * `stream.pipe`, serve-static) still holds while the file thread and the body pump answer.
 *
 * - request context: `AsyncLocalStorage` (and cls-rtracer on it) sees each request's own store after a hit or
 *   a miss, with 200 requests in flight;
 * - fake timers (vitest's and @sinonjs/fake-timers) installed after the module is loaded do not stop requests,
 *   neither while faked nor after the real timers are back;
 * - a server streaming large files writes nothing to stderr;
 * - a server inside a worker thread that is terminated leaves every descriptor of its process alone;
 * - pipelined requests on a connection that goes away release their descriptors;
 * - stalled readers: backpressure holds, the bytes are intact after a stall, and a stalled client that goes
 *   away releases its descriptor.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import rTracer from 'cls-rtracer';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import referenceServeStatic from 'serve-static';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFileThread, type FileThread } from '../src/file-thread.js';
import { serveStatic } from '../src/index.js';
import { finalHandler, get, listen, settledDescriptorCount, tempDir } from './helpers.js';

// Captured before any test fakes them: every bound on waiting below is in real time.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

const KIB = 1024;
const MIB = 1024 * KIB;

const dir = tempDir('brisk-contracts-');
const root = dir.path;
/** Answered by the file thread in one hop, with the bytes. */
const SMALL = randomBytes(1000);
/** Over the one-read limit (64 KiB): the thread hands a descriptor over and the body pump streams it. */
const MEDIUM = randomBytes(300 * KIB);
const BIG = randomBytes(3 * MIB);
/**
 * The stalled-reader tests need a body larger than what the kernel buffers for a paused loopback connection
 * (about 4.3 MB here: the client's receive buffer plus the server's send buffer). With 3 MiB the whole body
 * sits in socket buffers and the server never sees backpressure at all.
 */
const STALL = randomBytes(16 * MIB);
const FILES: Record<string, Buffer> = { 'small.bin': SMALL, 'medium.bin': MEDIUM, 'big.bin': BIG, 'stall.bin': STALL };

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((done) => realSetTimeout(done, ms));

/** Rejects if `promise` has not settled within `ms` of real time (timers faked or not). */
function within<T>(ms: number, label: string, promise: Promise<T>): Promise<T> {
  return new Promise<T>((done, fail) => {
    const timer = realSetTimeout(() => fail(new Error(`${label}: no answer within ${String(ms)} ms`)), ms);
    promise.then(
      (value) => {
        realClearTimeout(timer);
        done(value);
      },
      (error: unknown) => {
        realClearTimeout(timer);
        fail(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Starts an http.Server for `listener` (an Express app or a request listener) on 127.0.0.1, port 0. */
async function listenOn(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return {
    server,
    url: `http://127.0.0.1:${String(address.port)}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** The shared file thread of this module instance, started and answering. */
async function runningThread(): Promise<FileThread> {
  const thread = startFileThread();
  if (thread === null) throw new Error('the file thread cannot start here');
  expect(await thread.ready).toBe(true);
  return thread;
}

/** One GET of a hit, asserted, and proof that the thread answered it. */
async function warm(thread: FileThread, url: string): Promise<void> {
  const before = thread.answered;
  const response = await get(`${url}/small.bin`);
  expect(response.status).toBe(200);
  expect(Buffer.from(await response.arrayBuffer()).equals(SMALL)).toBe(true);
  expect(thread.answered).toBeGreaterThan(before);
}

beforeAll(() => {
  for (const [name, bytes] of Object.entries(FILES)) writeFileSync(join(root, name), bytes);
});

afterAll(() => dir.remove());

describe('request context (AsyncLocalStorage) after hits and misses, 200 requests in flight', () => {
  interface Seen {
    setHeaders?: string | undefined;
    finish?: string | undefined;
    route?: string | undefined;
  }

  /** A request of the mix: what it asks for and what must come back. */
  interface Planned {
    readonly id: string;
    readonly path: string;
    readonly body?: Buffer;
    readonly ours: boolean;
  }

  /** 200 requests to our middleware (small and large hits, misses), 40 to serve-static as the control. */
  function plan(prefix: string): Planned[] {
    const planned: Planned[] = [];
    for (let i = 0; i < 200; i++) {
      const id = `${prefix}-${String(i)}`;
      const kind = i % 5;
      if (kind === 0) planned.push({ id, path: '/small.bin', body: SMALL, ours: true });
      else if (kind === 1) planned.push({ id, path: i % 25 === 1 ? '/big.bin' : '/medium.bin', body: i % 25 === 1 ? BIG : MEDIUM, ours: true });
      else planned.push({ id, path: `/api/item-${String(i)}`, ours: true });
    }
    for (let i = 0; i < 40; i++) {
      const id = `${prefix}-control-${String(i)}`;
      const kind = i % 4;
      if (kind === 0) planned.push({ id, path: '/control/small.bin', body: SMALL, ours: false });
      else if (kind === 1) planned.push({ id, path: '/control/medium.bin', body: MEDIUM, ours: false });
      else planned.push({ id, path: `/control/api/item-${String(i)}`, ours: false });
    }
    return planned;
  }

  /**
   * Sends every planned request at once with its id in `header`, checks each answer, and returns the ids whose
   * server-side observations (setHeaders, 'finish', the route after a miss) saw another store, by place.
   */
  async function runMix(url: string, header: string, planned: Planned[], seen: Map<string, Seen>): Promise<Record<string, string[]>> {
    const answers = await Promise.all(
      planned.map(async (item) => {
        const response = await get(`${url}${item.path}`, { headers: { [header]: item.id } });
        return { item, response, body: Buffer.from(await response.arrayBuffer()) };
      }),
    );
    // 'finish' fires after the last byte is handed to the socket, a moment before or after the client has it.
    for (let i = 0; i < 50 && planned.some((item) => item.body !== undefined && seen.get(item.id)?.finish === undefined); i++) await sleep(20);

    const wrong: Record<string, string[]> = { 'ours: route after a miss': [], 'ours: setHeaders': [], "ours: 'finish'": [], control: [] };
    for (const { item, response, body } of answers) {
      const observed = seen.get(item.id) ?? {};
      if (item.body !== undefined) {
        expect([item.path, response.status]).toEqual([item.path, 200]);
        expect(response.headers.get('content-type')).toBe('application/octet-stream');
        expect(Number(response.headers.get('content-length'))).toBe(item.body.length);
        expect(body.equals(item.body)).toBe(true);
        expect(response.headers.get('x-seen-in-set-headers')).toBe(observed.setHeaders ?? 'none');
        if (observed.setHeaders !== item.id) (item.ours ? wrong['ours: setHeaders'] : wrong.control)?.push(`${item.id} saw ${String(observed.setHeaders)}`);
        if (observed.finish !== item.id) (item.ours ? wrong["ours: 'finish'"] : wrong.control)?.push(`${item.id} saw ${String(observed.finish)}`);
      } else {
        // The route answers with the store it saw: the client checks it too.
        expect([item.path, response.status]).toEqual([item.path, 200]);
        const json = JSON.parse(body.toString('utf8')) as { header: string; seen: string | null };
        expect(json.header).toBe(item.id);
        expect(json.seen).toBe(observed.route ?? null);
        if (observed.route !== item.id) (item.ours ? wrong['ours: route after a miss'] : wrong.control)?.push(`${item.id} saw ${String(observed.route)}`);
      }
    }
    return wrong;
  }

  /** Only the first few offenders of each kind, with the counts: readable when it fails. */
  function summary(wrong: Record<string, string[]>): Record<string, { count: number; first: string[] }> {
    return Object.fromEntries(Object.entries(wrong).map(([place, ids]) => [place, { count: ids.length, first: ids.slice(0, 3) }]));
  }
  const NONE = { count: 0, first: [] };
  const ALL_RIGHT = { 'ours: route after a miss': NONE, 'ours: setHeaders': NONE, "ours: 'finish'": NONE, control: NONE };

  /**
   * The app of both context tests: `enter` puts the request's id (from `header`) into context, then every
   * place that runs later in the request (setHeaders, 'finish', the route after a miss) records what
   * `currentId` says there, in ours and in serve-static mounted beside it.
   */
  function contextApp(header: string, enter: RequestHandler, currentId: () => string | undefined, seen: Map<string, Seen>): Express {
    const record = (req: IncomingMessage, place: keyof Seen): void => {
      const id = req.headers[header.toLowerCase()];
      if (typeof id !== 'string') return;
      const entry = seen.get(id) ?? {};
      entry[place] = currentId();
      seen.set(id, entry);
    };
    const setHeaders = (res: ServerResponse): void => {
      record(res.req, 'setHeaders');
      res.setHeader('X-Seen-In-Set-Headers', currentId() ?? 'none');
    };
    const route = (req: Request, res: Response): void => {
      record(req, 'route');
      res.json({ header: req.get(header), seen: currentId() ?? null });
    };
    const app = express();
    app.use(enter);
    app.use((req: Request, res: Response, next: NextFunction) => {
      res.on('finish', () => record(req, 'finish'));
      next();
    });
    app.use('/control', referenceServeStatic(root, { setHeaders }));
    app.get('/control/api/:name', route);
    app.use(serveStatic(root, { setHeaders }));
    app.get('/api/:name', route);
    return app;
  }

  /** Runs the planned mix through `app` once the thread answers, and expects every place to have seen its own id. */
  async function expectOwnContexts(app: Express, header: string, planned: Planned[], seen: Map<string, Seen>): Promise<void> {
    const thread = await runningThread();
    const server = await listenOn(app);
    try {
      await warm(thread, server.url);
      const before = thread.answered;
      const wrong = await runMix(server.url, header, planned, seen);
      // The thread answered a good share of them (past its 128 slots the rest go through libuv).
      expect(thread.answered - before).toBeGreaterThanOrEqual(60);
      expect(summary(wrong)).toEqual(ALL_RIGHT);
    } finally {
      await server.close();
    }
  }

  it('an Express 5 app: a first middleware runs next() inside als.run({ id }) with the id from a request header', async () => {
    const als = new AsyncLocalStorage<{ id: string }>();
    const seen = new Map<string, Seen>();
    const enter: RequestHandler = (req, _res, next) => als.run({ id: req.get('x-test-id') ?? 'none' }, next);
    const app = contextApp('x-test-id', enter, () => als.getStore()?.id, seen);
    await expectOwnContexts(app, 'x-test-id', plan('als'), seen);
  });

  it('cls-rtracer: rTracer.id() after the middleware is the X-Request-Id of the request (useHeader)', async () => {
    const seen = new Map<string, Seen>();
    const tracerId = (): string | undefined => {
      const id = rTracer.id();
      return typeof id === 'string' ? id : undefined;
    };
    const app = contextApp('X-Request-Id', rTracer.expressMiddleware({ useHeader: true }), tracerId, seen);
    await expectOwnContexts(app, 'X-Request-Id', plan('tracer'), seen);
  });
});

describe('the server writes nothing to stderr while it streams large files (a child node process)', () => {
  it('20 downloads over 64 KiB and a few small ones, byte-identical; stderr stays empty', async () => {
    const script = `
      import { createServer } from 'node:http';
      import serveStatic from ${JSON.stringify(resolve('dist/index.js'))};
      const middleware = serveStatic(${JSON.stringify(root)});
      const server = createServer((req, res) => middleware(req, res));
      process.on('message', (message) => {
        if (message === 'stop') {
          server.closeAllConnections();
          server.close(() => process.disconnect());
        }
      });
      server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (stderr += text));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      const url = await within(10_000, 'child listening', childPort(child));
      // Warm the thread: it starts 100 ms after the first request.
      const first = await get(`${url}/small.bin`);
      expect(first.status).toBe(200);
      expect(Buffer.from(await first.arrayBuffer()).equals(SMALL)).toBe(true);
      await sleep(300);

      // One after another, as a page's assets often are: each descriptor number is then reused by the next.
      for (let i = 0; i < 20; i++) {
        const [name, bytes] = i % 4 === 3 ? ['big.bin', BIG] : ['medium.bin', MEDIUM];
        const response = await within(10_000, `download ${String(i)}`, get(`${url}/${name}`));
        expect(response.status).toBe(200);
        expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
        expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(bytes));
      }
      for (let i = 0; i < 5; i++) {
        const response = await get(`${url}/small.bin`);
        expect(response.status).toBe(200);
        expect(Buffer.from(await response.arrayBuffer()).equals(SMALL)).toBe(true);
      }
      // A warning from the file thread reaches stderr a moment later (it waits for the thread's event loop).
      await sleep(1000);
      child.send('stop');
      expect(await within(10_000, 'child exit', exited)).toBe(0);
      expect(stderr).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

/** The port a child reports over IPC as `{ port }`, as a URL. */
function childPort(child: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    child.once('message', (message: { port: number }) => done(`http://127.0.0.1:${String(message.port)}`));
    child.once('exit', (code) => fail(new Error(`child exited with ${String(code)} before listening`)));
  });
}

describe('a server inside a worker thread, terminated, leaves the other descriptors of its process open', () => {
  it('20 descriptors the process opened after 20 large downloads are all still valid after worker.terminate()', async () => {
    const held = Array.from({ length: 20 }, (_, i) => join(root, `held-${String(i)}.txt`));
    held.forEach((path, i) => writeFileSync(path, `held file ${String(i)}\n`.repeat(10 + i)));
    // The worker's code: an http server with the middleware, its port posted to the parent.
    const workerCode = `
      const { parentPort } = require('node:worker_threads');
      const { createServer } = require('node:http');
      import(${JSON.stringify(`file://${resolve('dist/index.js')}`)}).then(({ default: serveStatic }) => {
        const middleware = serveStatic(${JSON.stringify(root)});
        const server = createServer((req, res) => middleware(req, res));
        server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
      });`;
    // The child's main thread owns the worker, opens the files on command, then terminates the worker and
    // checks its descriptors: fstat, then the bytes.
    const script = `
      import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
      import { Worker } from 'node:worker_threads';
      const held = ${JSON.stringify(held)};
      // execArgv: [] so that the worker's code runs as CommonJS, not under this process's --input-type=module.
      const worker = new Worker(${JSON.stringify(workerCode)}, { eval: true, execArgv: [] });
      worker.once('error', (error) => { console.error(error); process.exit(1); });
      worker.once('message', (port) => process.send({ port }));
      const check = (fds) => fds.map((fd, i) => {
        try {
          const expected = readFileSync(held[i]);
          const stat = fstatSync(fd);
          const bytes = Buffer.alloc(expected.length);
          const read = readSync(fd, bytes, 0, bytes.length, 0);
          return stat.size === expected.length && read === expected.length && bytes.equals(expected) ? 'ok' : 'fd ' + fd + ': other bytes';
        } catch (error) {
          return 'fd ' + fd + ': ' + error.code;
        }
      });
      let fds = [];
      process.on('message', async (message) => {
        if (message === 'open') {
          fds = held.map((path) => openSync(path, 'r'));
          process.send({ opened: fds, before: check(fds) });
        } else if (message === 'terminate') {
          await worker.terminate();
          await new Promise((done) => setTimeout(done, 200));
          const after = check(fds);
          for (const fd of fds) { try { closeSync(fd); } catch {} }
          process.send({ after });
          process.disconnect();
        }
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (stderr += text));
    const messages: Record<string, unknown>[] = [];
    const waiters: ((message: Record<string, unknown>) => void)[] = [];
    child.on('message', (message: Record<string, unknown>) => {
      const waiter = waiters.shift();
      if (waiter === undefined) messages.push(message);
      else waiter(message);
    });
    const exited = new Promise<never>((_, fail) =>
      child.once('exit', (code) => fail(new Error(`the child exited (${String(code)}); its stderr: ${stderr}`))),
    );
    exited.catch(() => undefined);
    const nextMessage = (): Promise<Record<string, unknown>> => {
      const queued = messages.shift();
      return queued !== undefined ? Promise.resolve(queued) : Promise.race([new Promise<Record<string, unknown>>((done) => waiters.push(done)), exited]);
    };
    try {
      const { port } = (await within(10_000, 'worker listening', nextMessage())) as { port: number };
      const url = `http://127.0.0.1:${String(port)}`;
      const first = await get(`${url}/small.bin`);
      expect(first.status).toBe(200);
      expect(Buffer.from(await first.arrayBuffer()).equals(SMALL)).toBe(true);
      await sleep(300);

      // Four rounds of five at once: several descriptor numbers in use on the file thread, each reused.
      for (let round = 0; round < 4; round++) {
        await Promise.all(
          Array.from({ length: 5 }, async (_, i) => {
            const [name, bytes] = i === 4 ? ['big.bin', BIG] : ['medium.bin', MEDIUM];
            const response = await within(10_000, `download ${String(round)}.${String(i)}`, get(`${url}/${name}`));
            expect(response.status).toBe(200);
            expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
            expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(bytes));
          }),
        );
      }

      child.send('open');
      const opened = (await within(10_000, 'open', nextMessage())) as { opened: number[]; before: string[] };
      expect(opened.opened).toHaveLength(20);
      expect(opened.before).toEqual(Array.from({ length: 20 }, () => 'ok'));

      child.send('terminate');
      const { after } = (await within(10_000, 'terminate', nextMessage())) as { after: string[] };
      expect(after, `the child's stderr: ${stderr}`).toEqual(Array.from({ length: 20 }, () => 'ok'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

/** A plain node:http server with our middleware that keeps every response it was given. */
async function descriptorServer(): Promise<{ url: string; port: number; responses: ServerResponse[]; close: () => Promise<void> }> {
  const middleware = serveStatic(root);
  const responses: ServerResponse[] = [];
  const nexts: (unknown | null)[] = [];
  const server = await listen((req, res) => {
    responses.push(res);
    middleware(req, res, (err) => finalHandler(nexts, req, res, err));
  });
  return { ...server, responses };
}

/** Resolves with what `socket` received once it holds at least `bytes`, or on its end. */
function receive(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= bytes) finish();
    };
    const finish = (): void => {
      socket.removeListener('data', onData);
      socket.removeListener('end', finish);
      socket.removeListener('error', fail);
      done(Buffer.concat(chunks));
    };
    socket.on('data', onData);
    socket.once('end', finish);
    socket.once('error', fail);
  });
}

/** Splits a raw HTTP/1.1 response into its status, headers and the body bytes after them. */
function splitResponse(data: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  const end = data.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: data.subarray(end + 4) };
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => done(socket));
    socket.once('error', fail);
  });
}

const getBig = (path: string, connection: 'keep-alive' | 'close'): string =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: ${connection}\r\n\r\n`;

describe('pipelined requests on a connection that goes away release their descriptors', () => {
  it('5 connections, each 5 pipelined GETs of a 3 MiB file, destroyed after the first KB: descriptors back to baseline', async () => {
    const thread = await runningThread();
    const server = await descriptorServer();
    try {
      await warm(thread, server.url);
      const baseline = await settledDescriptorCount(0);
      for (let connection = 0; connection < 5; connection++) {
        const socket = await openSocket(server.port);
        socket.write(Array.from({ length: 5 }, () => getBig('/big.bin', 'keep-alive')).join(''), 'latin1');
        const head = await within(10_000, `connection ${String(connection)}`, receive(socket, 8 * KIB));
        socket.destroy();
        const { status, headers, body } = splitResponse(head);
        expect(status).toBe(200);
        expect(headers['content-length']).toBe(String(BIG.length));
        expect(body.length).toBeGreaterThan(0);
        expect(body.equals(BIG.subarray(0, body.length))).toBe(true);
      }
      await sleep(1000);
      const count = await settledDescriptorCount(baseline);
      expect({ count, leaked: Math.max(0, count - baseline) }).toEqual({ count: baseline, leaked: 0 });

      // The server still answers, whole.
      const after = await get(`${server.url}/big.bin`);
      expect(after.status).toBe(200);
      expect(sha256(Buffer.from(await after.arrayBuffer()))).toBe(sha256(BIG));
    } finally {
      await server.close();
    }
  });
});

describe('stalled readers (a 16 MiB file: more than the kernel buffers for a paused connection)', () => {
  /** Starts a download on a raw socket and stops reading at its first bytes; resolves with those bytes. */
  async function stalledDownload(port: number): Promise<{ socket: Socket; first: Buffer }> {
    const socket = await openSocket(port);
    socket.write(getBig('/stall.bin', 'close'), 'latin1');
    const first = await new Promise<Buffer>((done, fail) => {
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        done(chunk);
      });
      socket.once('error', fail);
    });
    return { socket, first };
  }

  /** Every response to a stall download is still being sent (the stall is real) and holds at most 1 MiB. */
  function expectStalled(responses: ServerResponse[]): void {
    const stalled = responses.filter((res) => res.req.url === '/stall.bin');
    expect(stalled).toHaveLength(20);
    for (const res of stalled) {
      expect(res.writableFinished).toBe(false);
      expect(res.writableLength).toBeLessThanOrEqual(MIB);
    }
  }

  it('20 clients stop reading for 1 s, then read it all: every body is byte-identical', async () => {
    const thread = await runningThread();
    const server = await descriptorServer();
    try {
      await warm(thread, server.url);
      const downloads = await Promise.all(Array.from({ length: 20 }, () => stalledDownload(server.port)));
      await sleep(1000);
      expectStalled(server.responses);
      const whole = await within(
        30_000,
        'resumed downloads',
        Promise.all(
          downloads.map(async ({ socket, first }) => {
            const rest = receive(socket, Number.POSITIVE_INFINITY);
            socket.resume();
            return Buffer.concat([first, await rest]);
          }),
        ),
      );
      for (const data of whole) {
        const { status, headers, body } = splitResponse(data);
        expect(status).toBe(200);
        expect(headers['content-length']).toBe(String(STALL.length));
        expect(body.length).toBe(STALL.length);
        expect(sha256(body)).toBe(sha256(STALL));
      }
    } finally {
      await server.close();
    }
  }, 60_000);

  it('20 clients stop reading, then go away: descriptors back to baseline', async () => {
    const thread = await runningThread();
    const server = await descriptorServer();
    try {
      await warm(thread, server.url);
      const baseline = await settledDescriptorCount(0);
      const downloads = await Promise.all(Array.from({ length: 20 }, () => stalledDownload(server.port)));
      await sleep(1000);
      expectStalled(server.responses);
      for (const { socket, first } of downloads) {
        const { status, headers, body } = splitResponse(first);
        expect(status).toBe(200);
        expect(headers['content-length']).toBe(String(STALL.length));
        expect(body.equals(STALL.subarray(0, body.length))).toBe(true);
        socket.destroy();
      }
      const count = await settledDescriptorCount(baseline);
      expect({ count, leaked: Math.max(0, count - baseline) }).toEqual({ count: baseline, leaked: 0 });
    } finally {
      await server.close();
    }
  });
});

/*
 * Last in the file, and each on a fresh copy of the module graph (vi.resetModules): on a package whose
 * wake-ups go through the global setImmediate, a faked timer leaves the shared thread stuck for everything after.
 */
describe('fake timers installed after the module is loaded (real server, supertest)', () => {
  let thread: FileThread;
  let server: Awaited<ReturnType<typeof listenOn>>;

  beforeEach(async () => {
    vi.resetModules();
    const fresh = (await import('../src/index.js')) as typeof import('../src/index.js');
    const threads = (await import('../src/file-thread.js')) as typeof import('../src/file-thread.js');
    const started = threads.startFileThread();
    if (started === null) throw new Error('the file thread cannot start here');
    thread = started;
    expect(await thread.ready).toBe(true);
    const app = express();
    app.use('/control', referenceServeStatic(root));
    app.use(fresh.serveStatic(root));
    app.use((_req: Request, res: Response) => {
      res.status(404).type('text/plain').send('app 404');
    });
    server = await listenOn(app);
    await warm(thread, server.url);
  });

  afterEach(async () => {
    vi.useRealTimers();
    await server.close();
    await thread.stop();
  });

  /**
   * GETs the small and the large files through supertest, each within 5 s of real time, and checks them:
   * first from serve-static (the control: the same timers faked), then from ours.
   */
  async function fetchBoth(label: string): Promise<void> {
    const before = thread.answered;
    for (const [path, bytes] of [
      ['/control/small.bin', SMALL],
      ['/control/big.bin', BIG],
      ['/small.bin', SMALL],
      ['/medium.bin', MEDIUM],
      ['/big.bin', BIG],
    ] as const) {
      const response = await within(5_000, `${label}: GET ${path}`, Promise.resolve(request(server.server).get(path)));
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/octet-stream');
      expect(response.headers['content-length']).toBe(String(bytes.length));
      expect(Buffer.isBuffer(response.body)).toBe(true);
      expect(sha256(response.body as Buffer)).toBe(sha256(bytes));
    }
    const miss = await within(5_000, `${label}: GET /missing.bin`, Promise.resolve(request(server.server).get('/missing.bin')));
    expect(miss.status).toBe(404);
    expect(miss.text).toBe('app 404');
    // The thread answered them: the fake timers were in the way of the fast path, not bypassed.
    expect(thread.answered).toBeGreaterThan(before);
  }

  it('vi.useFakeTimers(): requests answer while faked, and after vi.useRealTimers()', async () => {
    vi.useFakeTimers();
    await fetchBoth('vitest fake timers');
    vi.useRealTimers();
    await fetchBoth('vitest real timers again');
  });

  // install() with no options also fakes process.nextTick and queueMicrotask, on which Node's own streams
  // depend: then serve-static hangs as well. Test runners leave those two real (vitest, sinon.useFakeTimers).
  it('@sinonjs/fake-timers install() (all but nextTick and queueMicrotask): requests answer while installed, and after uninstall()', async () => {
    const clock = FakeTimers.install({ toNotFake: ['nextTick', 'queueMicrotask'] });
    try {
      await fetchBoth('sinon fake timers');
    } finally {
      clock.uninstall();
    }
    await fetchBoth('sinon real timers again');
  });
});
