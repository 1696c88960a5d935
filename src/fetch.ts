import { close, read, type Stats } from 'node:fs';
import { createEncodingChooser } from './encoding.js';
import { asHttpError, httpError, type StaticError } from './errors.js';
import type { FileFacts, HeaderTarget } from './headers.js';
import { createLookup, type Outcome } from './lookup.js';
import { ignore } from './open.js';
import type { Config, ServeStaticOptions } from './options.js';
import { directoryLocation, isReadMethod } from './policy.js';
import {
  decideFile,
  errorPage,
  fallsThrough,
  isConditional,
  METHOD_NOT_ALLOWED,
  redirectPage,
  spaFallbackApplies,
  wouldSendBody,
  type Page,
} from './respond.js';
import { canonicalPathname } from './resolve.js';

/**
 * The hook of the fetch door: called for every file about to be served, before the default headers are set,
 * with the response's `Headers`; headers it sets are not overwritten. `path` is the file asked for (`app.js`
 * even when `app.js.br` is sent) and `stat` describes the file sent.
 */
export type FetchSetHeaders = (headers: Headers, path: string, stat: Stats) => void;

/** Options of {@link serveStaticFetch}: those of `serveStatic`, with a `setHeaders` that receives `Headers`. */
export interface ServeStaticFetchOptions extends Omit<ServeStaticOptions, 'setHeaders'> {
  /**
   * A hook to set custom headers on a file response; headers it sets are not overwritten.
   * @default undefined
   * @example { setHeaders: (headers, path) => { if (path.endsWith('.pdf')) headers.set('Content-Disposition', 'attachment') } }
   */
  setHeaders?: FetchSetHeaders | undefined;
}

/**
 * A handler for runtimes and frameworks that speak `Request` and `Response` (Hono, Bun, Deno): the answer, or
 * `undefined` where the Connect door would call `next()` (a miss, under `fallthrough`), so the caller can try
 * something else. It never rejects.
 */
export type FetchHandler = (request: Request) => Promise<Response | undefined>;

/** Bytes per read of a streamed body: a response holds at most one such chunk beyond what its reader took. */
const STREAM_CHUNK_SIZE = 64 * 1024;
/**
 * A body up to this size is read at once and sent as one buffer: a web stream costs more per chunk than the
 * read itself (100 KB through @hono/node-server: 4,700 req/s streamed in two chunks, against 12,000 from the
 * Connect door), and Bun keeps `Content-Length` only for bodies that are not streams.
 */
const WHOLE_BODY_LIMIT = 256 * 1024;

/** Request header fields the core reads (`fresh` also reads `cache-control`). */
const REQUEST_FIELDS = [
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'range',
  'if-range',
  'cache-control',
] as const;

/** `Headers` seen through the `HeaderTarget` interface the core writes to. */
class HeadersTarget implements HeaderTarget {
  constructor(readonly headers: Headers) {}
  getHeader(name: string): string | undefined {
    return this.headers.get(name) ?? undefined;
  }
  setHeader(name: string, value: string | number): void {
    this.headers.set(name, String(value));
  }
  removeHeader(name: string): void {
    this.headers.delete(name);
  }
}

/** Creates the fetch door on the core steps (the same lookup and decisions as the Connect door). */
export function createFetchHandler(config: Config): FetchHandler {
  const setHeaders = config.setHeaders as FetchSetHeaders | undefined;
  const lookup = createLookup(config);
  const chooseEncodings = createEncodingChooser(config);

  const fail = (error: StaticError, fileChosen: boolean, head: boolean): Response | undefined =>
    fallsThrough(config, error, fileChosen) ? undefined : pageResponse(errorPage(error), head);

  return (request) => {
    const method = request.method;
    const head = method === 'HEAD';
    if (!isReadMethod(method)) {
      return Promise.resolve(config.fallthrough ? undefined : pageResponse(METHOD_NOT_ALLOWED, head));
    }
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return Promise.resolve(fail(httpError(400), false, head));
    }
    const pathname = url.pathname;
    if (config.canonicalPaths) {
      const canonical = canonicalPathname(pathname);
      if (canonical.kind === 'refused') return Promise.resolve(fail(httpError(canonical.status), false, head));
      if (canonical.kind === 'redirect') {
        return Promise.resolve(pageResponse(redirectPage(directoryLocation(canonical.pathname, url.search, url.hash, false)), head));
      }
    }

    const source = request.headers;
    const headers: Record<string, string | undefined> = {};
    for (const name of REQUEST_FIELDS) {
      const value = source.get(name);
      if (value !== null) headers[name] = value;
    }
    const bodyless = head || (setHeaders === undefined && isConditional(headers));
    const encodings = chooseEncodings(source.get('accept-encoding') ?? undefined);

    return new Promise<Response | undefined>((resolve) => {
      let spaDocument = false;
      const respond = (outcome: Outcome): void => {
        try {
          answer(outcome);
        } catch (error) {
          // Nothing in `answer` throws by design (hooks run inside `prepare`, which catches); if something does,
          // the caller still gets an answer. A descriptor is not closed here: it may already be closed or owned
          // by a body stream, and closing a number twice can close another request's file.
          resolve(pageResponse(errorPage(asHttpError(error)), head));
        }
      };

      /** The hook, then the core's decision; a Response for everything but the bytes to send. */
      const prepare = (facts: FileFacts): { response: Response } | { start: number; length: number; status: number; headers: Headers } => {
        const responseHeaders = new Headers();
        const target = new HeadersTarget(responseHeaders);
        try {
          if (setHeaders !== undefined) setHeaders(responseHeaders, facts.original, facts.stat);
          const decision = decideFile(config, headers, target, facts, true, spaDocument);
          if (decision.kind === 'error') return { response: fail(decision.error, true, head) as Response };
          if (decision.kind === 'not-modified') return { response: new Response(null, { status: 304, headers: responseHeaders }) };
          return { start: decision.start, length: decision.length, status: decision.status, headers: responseHeaders };
        } catch (error) {
          return { response: fail(asHttpError(error), true, head) as Response };
        }
      };

      const answer = (outcome: Outcome): void => {
        switch (outcome.kind) {
          case 'memory': {
            const prepared = prepare(outcome.facts);
            if ('response' in prepared) {
              resolve(prepared.response);
              return;
            }
            const body = outcome.body;
            const slice = prepared.length === body.length ? body : body.subarray(prepared.start, prepared.start + prepared.length);
            resolve(new Response(head ? null : slice, { status: prepared.status, headers: prepared.headers }));
            return;
          }
          case 'metadata': {
            if (!head && wouldSendBody(headers, new HeadersTarget(new Headers()), outcome.facts, true)) {
              lookup.open(outcome.facts, respond);
              return;
            }
            const prepared = prepare(outcome.facts);
            if ('response' in prepared) resolve(prepared.response);
            else if (head) resolve(new Response(null, { status: prepared.status, headers: prepared.headers }));
            // A GET lands here only if the prediction above said 304/412 and the decision then differed,
            // which the shared rule rules out: answer from the file rather than send an empty body.
            else lookup.open(outcome.facts, respond);
            return;
          }
          case 'descriptor': {
            const fd = outcome.fd;
            const prepared = prepare(outcome.facts);
            if ('response' in prepared || head || prepared.length === 0) {
              close(fd, ignore);
              if ('response' in prepared) resolve(prepared.response);
              else resolve(new Response(head ? null : new Uint8Array(0), { status: prepared.status, headers: prepared.headers }));
              return;
            }
            const init = { status: prepared.status, headers: prepared.headers };
            if (prepared.length <= WHOLE_BODY_LIMIT) {
              readOnce(fd, prepared.start, prepared.length, (body) => {
                resolve(body === undefined ? pageResponse(errorPage(httpError(500)), false) : new Response(body, init));
              });
            } else {
              resolve(new Response(fileStream(fd, prepared.start, prepared.length), init));
            }
            return;
          }
          case 'directory':
            if (config.redirect && !outcome.trailingSlash) {
              resolve(pageResponse(redirectPage(directoryLocation(pathname, url.search, url.hash)), head));
            } else {
              resolve(fail(httpError(404), false, head));
            }
            return;
          case 'error':
            if (!spaDocument && outcome.error.status === 404 && spaFallbackApplies(config, method, pathname, source.get('accept'))) {
              // A page navigation to a path that is no file: the app's document answers it.
              const miss = outcome.error;
              spaDocument = true;
              lookup.fallback(pathname, bodyless, encodings, (document) => {
                if (document === undefined) resolve(fail(miss, false, head));
                else respond(document);
              });
              return;
            }
            resolve(fail(outcome.error, false, head));
        }
      };

      lookup.find(pathname, bodyless, encodings, respond);
    });
  };
}

function pageResponse(page: Page, head: boolean): Response {
  return new Response(head || page.body === '' ? null : page.body, { status: page.status, headers: page.headers });
}

/** Reads a small slice whole and closes the descriptor; undefined if the read failed or fell short. */
function readOnce(fd: number, position: number, length: number, done: (body: Buffer | undefined) => void): void {
  const buffer = Buffer.allocUnsafe(length);
  read(fd, buffer, 0, length, position, (error, bytesRead) => {
    close(fd, ignore);
    done(error === null && bytesRead === length ? buffer : undefined);
  });
}

/**
 * The bytes `position` to `position + length` of an open descriptor, read as the consumer pulls: one chunk
 * per pull and none ahead (high-water mark 0), so a slow client holds one chunk. The descriptor is closed
 * once, on the last byte, on cancel, or on a read error, and never while a read is in flight (a closed number
 * may be handed to another open). A file that shrank errors the stream, so the runtime cuts the connection
 * rather than send fewer bytes than `Content-Length` promised.
 */
function fileStream(fd: number, position: number, length: number): ReadableStream<Uint8Array> {
  let remaining = length;
  let reading = false;
  let cancelled = false;
  let open = true;
  const release = (): void => {
    if (open) {
      open = false;
      close(fd, ignore);
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        return new Promise<void>((settle) => {
          const size = remaining < STREAM_CHUNK_SIZE ? remaining : STREAM_CHUNK_SIZE;
          const buffer = Buffer.allocUnsafe(size);
          reading = true;
          read(fd, buffer, 0, size, position, (error, bytesRead) => {
            reading = false;
            if (cancelled) {
              release();
            } else if (error !== null || bytesRead === 0) {
              release();
              controller.error(error ?? new Error('file shrank while it was sent'));
            } else {
              position += bytesRead;
              remaining -= bytesRead;
              controller.enqueue(bytesRead === size ? buffer : buffer.subarray(0, bytesRead));
              if (remaining === 0) {
                release();
                controller.close();
              }
            }
            settle();
          });
        });
      },
      cancel() {
        cancelled = true;
        if (!reading) release();
      },
    },
    { highWaterMark: 0 },
  );
}
