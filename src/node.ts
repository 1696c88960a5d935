import { close, read, type Stats } from 'node:fs';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { parseUrl } from './deps.js';
import { createEncodingChooser } from './encoding.js';
import { asHttpError, httpError, type StaticError } from './errors.js';
import { headerString, type FileFacts } from './headers.js';
import { createLookup, type Outcome } from './lookup.js';
import { ignore, ONE_READ_LIMIT } from './open.js';
import type { Config } from './options.js';
import { directoryLocation, isReadMethod } from './policy.js';
import {
  decideFile,
  errorPage,
  fallsThrough,
  isCachable,
  isConditional,
  METHOD_NOT_ALLOWED,
  redirectPage,
  spaFallbackApplies,
  wouldSendBody,
  type FileDecision,
  type Page,
} from './respond.js';
import { RUNTIME_IS_NODE } from './runtime.js';
import { canonicalPathname } from './resolve.js';

/**
 * The `next` callback of Connect and Express. `err` is `any` as in their own types, so the middleware also
 * fits code typed against serve-static's `(err?: HttpError) => void`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NextFunction = (err?: any) => void;

/**
 * The middleware: `(req, res, next)` for Express 4/5 and Connect. With plain `node:http`, where `next` is
 * absent, it answers misses and errors itself (404, 405, ...).
 */
export type StaticMiddleware<Res extends ServerResponse = ServerResponse> = (
  req: IncomingMessage,
  res: Res,
  next?: NextFunction,
) => void;

/**
 * Bytes per `read(2)` of a long body. A response holds one chunk at a time, so this bounds what a client that
 * stops reading can pin. Larger reads gained nothing on the 10 MB file (256 and 512 KiB: the same MiB/s):
 * Node corks the socket for each `res.write`, so every chunk of this size waits for 'drain' whatever its size.
 */
const STREAM_CHUNK_SIZE = 64 * 1024;
/** A body up to this size is read with one `read(2)` (100 KB: 1.15x -> 1.4x serve-static). */
const WHOLE_BODY_LIMIT = 256 * 1024;

/** Creates the Connect/Express door on the core steps. */
export function createNodeMiddleware<Res extends ServerResponse>(config: Config): StaticMiddleware<Res> {
  const setHeaders = config.setHeaders as ((res: Res, path: string, stat: Stats) => void) | undefined;
  const lookup = createLookup(config);
  const chooseEncodings = createEncodingChooser(config);

  /** A miss or refusal before a file was chosen falls through; anything after it, or a 5xx, is an error. */
  function fail(req: IncomingMessage, res: Res, next: NextFunction | undefined, error: StaticError, fileChosen: boolean): void {
    if (next === undefined) respondWithError(req, res, error);
    else if (fallsThrough(config, error, fileChosen)) next();
    else next(error);
  }

  /**
   * The hook, then the core's decision (headers, 304/412, 206/416). Returns the bytes to send, or undefined
   * when the response has been dealt with.
   */
  function prepare(
    req: IncomingMessage,
    res: Res,
    next: NextFunction | undefined,
    facts: FileFacts,
    spaDocument: boolean,
  ): (FileDecision & { kind: 'body' }) | undefined {
    if (res.headersSent) {
      fail(req, res, next, httpError(500), true);
      return undefined;
    }
    let decision: FileDecision;
    try {
      if (setHeaders !== undefined) setHeaders(res, facts.original, facts.stat);
      decision = decideFile(config, req.headers, res, facts, isCachable(res.statusCode), spaDocument);
    } catch (error) {
      fail(req, res, next, asHttpError(error), true);
      return undefined;
    }
    switch (decision.kind) {
      case 'error':
        fail(req, res, next, decision.error, true);
        return undefined;
      case 'not-modified':
        res.statusCode = 304;
        res.end();
        return undefined;
      case 'body':
        if (decision.status === 206) res.statusCode = 206;
        return decision;
    }
  }

  const serveStatic: StaticMiddleware<Res> = (req, res, next) => {
    if (!isReadMethod(req.method)) {
      if (config.fallthrough && next !== undefined) {
        next();
        return;
      }
      writePage(req, res, METHOD_NOT_ALLOWED);
      return;
    }

    const url = parseUrl(req);
    if (url === undefined || typeof url.pathname !== 'string') {
      fail(req, res, next, httpError(400), false);
      return;
    }
    let pathname = url.pathname;
    if (config.canonicalPaths) {
      const canonical = canonicalPathname(pathname);
      if (canonical.kind === 'refused') {
        fail(req, res, next, httpError(canonical.status), false);
        return;
      }
      if (canonical.kind === 'redirect') {
        // When req.url was rewritten by the application, there is no client URL to correct: refuse.
        if (!redirectToCanonical(req, res, pathname, canonical.pathname)) fail(req, res, next, httpError(400), false);
        return;
      }
    }
    // Under a mount (`app.use('/static', ...)`), `/static` arrives as `/`: keep it a redirect to `/static/`.
    if (pathname === '/' && !originalPathname(req).endsWith('/')) pathname = '';

    // HEAD never needs the bytes, and a conditional GET usually ends in a 304: a stat is enough for those,
    // unless a setHeaders hook could change the validators.
    const headers = req.headers;
    const bodyless = req.method === 'HEAD' || (setHeaders === undefined && isConditional(headers));
    const encodings = chooseEncodings(headerString(headers['accept-encoding']));
    lookup.find(pathname, bodyless, encodings, (outcome) => {
      if (outcome.kind === 'error' && outcome.error.status === 404 && spaFallbackApplies(config, req.method as string, pathname, headerString(headers.accept))) {
        // A page navigation to a path that is no file: the app's document answers it (its router takes over).
        const miss = outcome.error;
        lookup.fallback(pathname, bodyless, encodings, (document) => {
          if (document === undefined) fail(req, res, next, miss, false);
          else respond(req, res, next, document, true);
        });
        return;
      }
      respond(req, res, next, outcome, false);
    });
  };

  function respond(req: IncomingMessage, res: Res, next: NextFunction | undefined, outcome: Outcome, spaDocument: boolean): void {
    switch (outcome.kind) {
      case 'memory': {
        const slice = prepare(req, res, next, outcome.facts, spaDocument);
        if (slice === undefined) return;
        const body = outcome.body;
        if (req.method === 'HEAD') res.end();
        else res.end(slice.length === body.length ? body : body.subarray(slice.start, slice.start + slice.length));
        return;
      }
      case 'metadata': {
        if (req.method !== 'HEAD' && wouldSendBody(req.headers, res, outcome.facts, isCachable(res.statusCode))) {
          // Not a 304 or 412 after all: open the file and describe what was opened.
          lookup.open(outcome.facts, (opened) => respond(req, res, next, opened, spaDocument));
          return;
        }
        const slice = prepare(req, res, next, outcome.facts, spaDocument);
        if (slice === undefined) return;
        // A GET gets here only when wouldSendBody foresaw the 304/412 that prepare then answered; were a
        // slice ever returned, an empty body would contradict Content-Length, so refuse to send one.
        if (req.method === 'HEAD') res.end();
        else res.destroy();
        return;
      }
      case 'descriptor': {
        const fd = outcome.fd;
        if (responseGone(req, res)) {
          close(fd, ignore);
          return;
        }
        const slice = prepare(req, res, next, outcome.facts, spaDocument);
        if (slice === undefined || req.method === 'HEAD' || slice.length === 0) {
          close(fd, ignore);
          if (slice !== undefined) res.end();
          return;
        }
        if (slice.length <= ONE_READ_LIMIT) sendInOneRead(res, fd, slice.start, slice.length);
        else streamBody(req, res, fd, slice.start, slice.length);
        return;
      }
      case 'directory':
        if (config.redirect && !outcome.trailingSlash) redirectToDirectory(req, res);
        else fail(req, res, next, httpError(404), false);
        return;
      case 'error':
        fail(req, res, next, outcome.error, false);
    }
  }

  return serveStatic;
}

/** A body that fits one read: read it, close, send it with `res.end` (no stream machinery). */
function sendInOneRead(res: ServerResponse, fd: number, position: number, length: number): void {
  const buffer = Buffer.allocUnsafe(length);
  read(fd, buffer, 0, length, position, (error, bytesRead) => {
    close(fd, ignore);
    // The file shrank since fstat: a shorter body would contradict Content-Length, so cut the connection.
    if (error !== null || bytesRead !== length) res.destroy(error ?? undefined);
    else res.end(buffer);
  });
}

function originalPathname(req: IncomingMessage): string {
  return parseUrl.original(req)?.pathname ?? '';
}

function redirectToDirectory(req: IncomingMessage, res: ServerResponse): void {
  const original = parseUrl.original(req);
  writePage(req, res, redirectPage(directoryLocation(original?.pathname ?? '', original?.search, original?.hash)));
}

/**
 * Sends the client to the canonical form of the path it asked for. The part we serve is the tail of the
 * original URL (a mount prefix is stripped from `req.url`); only that tail is rewritten. Returns false, having
 * sent nothing, when the original URL does not end with `pathname` (req.url was rewritten).
 */
function redirectToCanonical(req: IncomingMessage, res: ServerResponse, pathname: string, canonical: string): boolean {
  const original = parseUrl.original(req);
  const originalPath = original?.pathname ?? '';
  if (!originalPath.endsWith(pathname)) return false;
  const prefix = originalPath.slice(0, originalPath.length - pathname.length);
  const target = prefix === '' ? canonical : `${prefix.replace(/\/+$/, '')}${canonical}`;
  writePage(req, res, redirectPage(directoryLocation(target, original?.search, original?.hash, false)));
  return true;
}

/** The answer when there is no `next` to hand the error to (plain `node:http`). */
function respondWithError(req: IncomingMessage, res: ServerResponse, error: StaticError): void {
  if (res.headersSent) {
    req.socket.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  writePage(req, res, errorPage(error));
}

function writePage(req: IncomingMessage, res: ServerResponse, page: Page): void {
  res.statusCode = page.status;
  for (const name in page.headers) res.setHeader(name, page.headers[name] as string);
  res.end(req.method === 'HEAD' || page.body === '' ? undefined : page.body);
}

/**
 * Streams `length` bytes from `position` of the open descriptor, holding at most one chunk: the next read
 * starts only once the socket took the last chunk (`write()` did not return false), so a client that stops
 * reading holds one chunk and no more. Only `write() === false` is backpressure, as in `stream.pipe`: Lambda
 * adapters' fake sockets return `undefined`. The descriptor is closed exactly once (body done, client gone,
 * or error) and never while a read is in flight, since a closed number may be reused by another open. If the
 * file shrank, the body could no longer match `Content-Length`, so the connection is cut.
 *
 * Where the response is Node's own on Node's own socket, one buffer is read into again and again, each time
 * once the write callback says the socket is done with it: a fresh buffer per chunk costs page faults on
 * every read, which on the 10 MB file cost more than the copying itself.
 */
function streamBody(req: IncomingMessage, res: ServerResponse, fd: number, position: number, length: number): void {
  let remaining = length;
  const chunkSize = length <= WHOLE_BODY_LIMIT ? length : STREAM_CHUNK_SIZE;
  let reading = false;
  let writing = false;
  let waitingForDrain = false;
  let finished = false;
  let fdOpen = true;
  const reused = chunksReturnAfterWrite(res) ? takeSpareChunk() : undefined;

  const release = (): void => {
    if (fdOpen) {
      fdOpen = false;
      close(fd, ignore);
    }
  };
  const stop = (): void => {
    finished = true;
    res.removeListener('drain', onDrain);
    res.removeListener('close', onGone);
    req.removeListener('close', onRequestClose);
    if (!reading) release();
  };
  const readNext = (): void => {
    const size = remaining < chunkSize ? remaining : chunkSize;
    const buffer = reused ?? Buffer.allocUnsafe(size);
    reading = true;
    read(fd, buffer, 0, size, position, (error, bytesRead) => {
      reading = false;
      if (finished) {
        release();
        return;
      }
      if (error !== null || bytesRead === 0) {
        stop();
        res.destroy(error ?? undefined);
        return;
      }
      position += bytesRead;
      remaining -= bytesRead;
      const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      if (remaining === 0) {
        stop();
        if (reused === undefined) res.end(chunk);
        else res.end(chunk, () => giveBackChunk(reused));
        return;
      }
      if (reused !== undefined) writing = true;
      const accepted = reused === undefined ? res.write(chunk) : res.write(chunk, onWritten);
      if (accepted === false) {
        waitingForDrain = true;
        return;
      }
      if (!writing) readNext();
    });
  };
  const onWritten = (): void => {
    writing = false;
    if (!waitingForDrain && !finished) readNext();
  };
  const onDrain = (): void => {
    if (!waitingForDrain || finished) return;
    waitingForDrain = false;
    if (!writing) readNext();
  };
  const onGone = (): void => {
    if (!finished) stop();
  };
  // A pipelined response still queued behind another never gets a socket, nor a 'close' of its own, when the
  // connection dies: its request's 'close' (with the socket destroyed) is the only word of it.
  const onRequestClose = (): void => {
    if (responseGone(req, res)) onGone();
  };
  res.on('drain', onDrain);
  res.once('close', onGone);
  req.once('close', onRequestClose);
  readNext();
}

/** Chunk buffers (WHOLE_BODY_LIMIT bytes) whose last write has completed, for the next download. */
const spareChunks: Buffer[] = [];
/** At most this many are kept idle (1 MiB). */
const SPARE_CHUNK_LIMIT = 4;

function takeSpareChunk(): Buffer {
  // Outside Buffer's shared pool: a chunk's pages are touched only as far as reads fill it.
  return spareChunks.pop() ?? Buffer.allocUnsafeSlow(WHOLE_BODY_LIMIT);
}

function giveBackChunk(chunk: Buffer): void {
  if (spareChunks.length < SPARE_CHUNK_LIMIT) spareChunks.push(chunk);
}

/**
 * Whether a chunk may be read into again once its write callback has run: only for Node's own `write` and
 * `end` on Node's own socket, whose callback means the bytes are in the kernel. A wrapped `write` or `end`
 * (compression hands the chunk to zlib), an adapter's fake socket (Lambda, inject) or another runtime may
 * still hold on to it.
 */
function chunksReturnAfterWrite(res: ServerResponse): boolean {
  return (
    RUNTIME_IS_NODE &&
    res.write === ServerResponse.prototype.write &&
    res.end === ServerResponse.prototype.end &&
    res.socket instanceof Socket
  );
}

/**
 * Whether the response can no longer reach its client, however long ago that happened: a Node
 * `ServerResponse` says `destroyed`; an `Http2ServerResponse` has no such field, but its stream has; a
 * pipelined response whose connection died before its turn only shows it on the socket.
 */
function responseGone(req: IncomingMessage, res: ServerResponse): boolean {
  if (res.destroyed === true) return true;
  const stream = (res as { stream?: { destroyed?: unknown } }).stream;
  if (stream !== undefined && stream !== null && stream.destroyed === true) return true;
  const socket = req.socket as { destroyed?: unknown } | null | undefined;
  return socket !== undefined && socket !== null && socket.destroyed === true;
}
