import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFileThread } from '../src/file-thread.js';
import { serveStatic, type ServeStaticOptions } from '../src/index.js';

/** The committed fixtures tree. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface TestServer {
  /** `http://127.0.0.1:PORT` without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** What the final handler received from `next(err)`, in order; `null` for a plain `next()`. */
  readonly nexts: (unknown | null)[];
  close(): Promise<void>;
}

/** Starts a real HTTP server on an ephemeral port with a request listener. */
export async function listen(listener: RequestListener): Promise<Omit<TestServer, 'nexts'>> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Serves `root` with our middleware on a plain `node:http` server. Its final handler stands in for the next
 * middleware: a `next()` answers 404 `fell through`; a `next(err)` answers `err.status` with
 * `<name>: <message>` and copies `err.headers`, as Express's final handler does.
 */
export async function serve(root: string = FIXTURES, options?: ServeStaticOptions): Promise<TestServer> {
  const middleware = serveStatic(root, options);
  const nexts: (unknown | null)[] = [];
  const server = await listen((req, res) => middleware(req, res, (err) => finalHandler(nexts, req, res, err)));
  return { ...server, nexts };
}

/** What our test "next middleware" does: records the call and answers it visibly. */
export function finalHandler(nexts: (unknown | null)[], _req: IncomingMessage, res: ServerResponse, err?: unknown): void {
  nexts.push(err ?? null);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err === undefined || err === null) {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('fell through');
    return;
  }
  const error = err as { status?: number; name?: string; message?: string; headers?: Record<string, string> };
  res.statusCode = error.status ?? 500;
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.removeHeader('Content-Length');
  res.end(`${error.name}: ${error.message}`);
}

/**
 * A `fetch`-like request over `node:http`, returned as a `Response`. Unlike `fetch`, it sends exactly the
 * headers given (undici adds `Cache-Control: no-cache` to conditional requests, which rules out a 304) and
 * never follows redirects.
 */
export function get(
  url: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
        }
        const body = Buffer.concat(chunks);
        const status = res.statusCode ?? 0;
        const nullBody = body.length === 0 || status === 204 || status === 304;
        resolve(new Response(nullBody ? null : body, { status, statusText: res.statusMessage ?? '', headers }));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export interface RawResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Sends one request over a raw socket, so the request target reaches the server exactly as written
 * (`fetch` would normalise `/../x` and `%2e%2e`). Reads until the server closes the connection.
 */
export function rawRequest(
  port: number,
  target: string,
  { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    socket.on('connect', () => socket.write(`${head.join('\r\n')}\r\n\r\n`, 'latin1'));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parseRawResponse(Buffer.concat(chunks), method === 'HEAD'));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseRawResponse(data: Buffer, head: boolean): RawResponse {
  const split = data.indexOf('\r\n\r\n');
  if (split === -1) throw new Error(`incomplete response: ${JSON.stringify(data.toString('latin1'))}`);
  const lines = data.subarray(0, split).toString('latin1').split('\r\n');
  const statusLine = lines.shift() ?? '';
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = data.subarray(split + 4);
  if (head) body = Buffer.alloc(0);
  else if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status, headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd === -1) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** A fresh temporary directory, removed by the returned `remove`. */
export function tempDir(prefix = 'brisk-static-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Open file descriptors of this process (Linux: entries of /proc/self/fd). The file thread, once started,
 * holds a few of its own (its event loop): it is started first so that every count includes them.
 */
export async function openDescriptorCount(): Promise<number> {
  await startFileThread()?.ready;
  const { readdir } = await import('node:fs/promises');
  return (await readdir('/proc/self/fd')).length;
}

/**
 * Waits (up to about a second) until this process has no more descriptors open than `limit`, and returns
 * the count: the server side of a closed connection is released a moment after the client's.
 */
export async function settledDescriptorCount(limit: number): Promise<number> {
  let count = await openDescriptorCount();
  for (let i = 0; i < 50 && count > limit; i++) {
    await new Promise((done) => setTimeout(done, 20));
    count = await openDescriptorCount();
  }
  return count;
}
