import { STATUS_CODES } from 'node:http';
import { evaluatePreconditions, type RequestHeaders, type Validators } from './conditional.js';
import { escapeHtml, Negotiator, vary } from './deps.js';
import type { StaticError } from './errors.js';
import { httpError } from './errors.js';
import { applyFileHeaders, headerString, presetHeader, removeContentHeaders, type FileFacts, type HeaderTarget } from './headers.js';
import type { Config } from './options.js';
import { ALLOWED_METHODS } from './policy.js';
import { contentRange, evaluateRange } from './range.js';

/**
 * The door-independent half of a response: from the request's method and headers and the file chosen, what
 * to answer. Each door (node.ts for `(req, res, next)`, fetch.ts for `Request` → `Response`) only translates
 * these decisions, so both answer with the same statuses and the same headers.
 */

/** What to do with a file once its headers are set: send bytes, answer 304, or fail (412, 416). */
export type FileDecision =
  | { readonly kind: 'body'; readonly status: 200 | 206; readonly start: number; readonly length: number }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'error'; readonly error: StaticError };

const NOT_MODIFIED: FileDecision = Object.freeze({ kind: 'not-modified' });

/**
 * Sets the file's headers on `target` (a hook's headers, already there, win), then decides in send's order:
 * preconditions (304/412), then Range (206/416). `Content-Length` and `Content-Range` are set for what is
 * sent; a 304 loses the headers that describe a body. `cachable` says whether the status so far may become a
 * 304 (a success: someone may have set another status before).
 */
export function decideFile(
  config: Config,
  headers: RequestHeaders,
  target: HeaderTarget,
  facts: FileFacts,
  cachable: boolean,
  spaDocument = false,
): FileDecision {
  // The app shell must be revalidated on every load, whatever the assets' lifetime, however it was reached (a
  // deep link, `/`, `/index.html`): a year-long cache of it pins users to an old deploy whose hashed chunks are
  // gone. Sent for a miss, it answers that URL by its Accept.
  if (spaDocument || (config.spaFile !== undefined && facts.original === config.spaFile)) {
    if (config.cacheControl !== undefined && presetHeader(target, 'Cache-Control') === undefined) target.setHeader('Cache-Control', 'no-cache');
    if (spaDocument) vary(target as Parameters<typeof vary>[0], 'Accept');
  }
  applyFileHeaders(config, target, facts);
  const validators = responseValidators(target, facts);
  const precondition = evaluatePreconditions(headers, validators, cachable);
  if (precondition === 'failed') return { kind: 'error', error: httpError(412) };
  if (precondition === 'not-modified') {
    removeContentHeaders(target);
    return NOT_MODIFIED;
  }
  const size = facts.stat.size;
  if (config.acceptRanges && headers['range'] !== undefined) {
    const range = evaluateRange(headerString(headers['range']), headerString(headers['if-range']), size, validators);
    if (range.kind === 'unsatisfiable') {
      const value = contentRange(size);
      target.setHeader('Content-Range', value);
      return { kind: 'error', error: httpError(416, { 'Content-Range': value }) };
    }
    if (range.kind === 'partial') {
      const length = range.end - range.start + 1;
      target.setHeader('Content-Range', contentRange(size, range.start, range.end));
      target.setHeader('Content-Length', length);
      return { kind: 'body', status: 206, start: range.start, length };
    }
  }
  target.setHeader('Content-Length', size);
  return { kind: 'body', status: 200, start: 0, length: size };
}

/**
 * Whether `decideFile` will send bytes, told before any default header is set: a lookup that found the file by
 * `stat` alone then knows whether it must open it.
 */
export function wouldSendBody(headers: RequestHeaders, target: HeaderTarget, facts: FileFacts, cachable: boolean): boolean {
  return evaluatePreconditions(headers, responseValidators(target, facts), cachable) === 'send';
}

/**
 * The validators the response carries or will carry: a header already set (by `setHeaders` or earlier
 * middleware) wins over the file's own, by `applyFileHeaders`' rule, so a prediction made before the headers
 * are applied is the decision made after.
 */
function responseValidators(target: HeaderTarget, facts: FileFacts): Validators {
  return {
    etag: presetHeader(target, 'ETag') ?? facts.etag,
    lastModified: presetHeader(target, 'Last-Modified') ?? facts.lastModified,
  };
}

/** Only a success or a 304 may become a 304 (send's rule). */
export function isCachable(statusCode: number): boolean {
  return (statusCode >= 200 && statusCode < 300) || statusCode === 304;
}

/** Request headers that can turn a GET into a 304 or a 412. */
export function isConditional(headers: RequestHeaders): boolean {
  return (
    headers['if-none-match'] !== undefined ||
    headers['if-modified-since'] !== undefined ||
    headers['if-match'] !== undefined ||
    headers['if-unmodified-since'] !== undefined
  );
}

/**
 * Whether a refusal is the next handler's to answer (`next()` in Connect, `undefined` from the fetch door):
 * a miss or refusal before a file was chosen, under `fallthrough`. Anything after a file was chosen, and any
 * 5xx, is an error answered as such.
 */
export function fallsThrough(config: Config, error: StaticError, fileChosen: boolean): boolean {
  return config.fallthrough && !fileChosen && error.status < 500;
}

/**
 * Whether a miss is answered with the `spa` document: a GET or HEAD page navigation (`Accept` names
 * `text/html`, as browsers' navigations do and `fetch` calls for data do not) for a path whose last segment has
 * no extension (a missing `chunk-0badc0de.js` must stay a 404, or the browser runs HTML as a script) and no
 * segment of which starts with a dot (dot segments, dotfiles, and their encoded forms stay as they were).
 */
export function spaFallbackApplies(config: Config, method: string, pathname: string, accept: string | null | undefined): boolean {
  if (config.spa === undefined || (method !== 'GET' && method !== 'HEAD')) return false;
  const last = pathname.lastIndexOf('/');
  const lastSegment = pathname.slice(last + 1);
  if (lastSegment.includes('.') || /%2e/i.test(lastSegment)) return false;
  let start = 0;
  while (start <= pathname.length) {
    const end = pathname.indexOf('/', start);
    const segment = pathname.slice(start, end === -1 ? pathname.length : end);
    if (segment.charCodeAt(0) === 0x2e /* . */ || /^%2e/i.test(segment)) return false;
    if (end === -1) break;
    start = end + 1;
  }
  return namesHtml(accept);
}

/** `Accept` lists `text/html` itself with a q above 0 (`*\/*` alone, fetch's default, does not count). */
function namesHtml(accept: string | null | undefined): boolean {
  if (accept === undefined || accept === null || !accept.toLowerCase().includes('text/html')) return false;
  return new Negotiator({ headers: { accept } }).mediaTypes().some((type) => type.toLowerCase() === 'text/html');
}

/** A complete small response: status, headers and an HTML body. */
export interface Page {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A 301 with serve-static's small HTML body. */
export function redirectPage(location: string): Page {
  return htmlPage(301, 'Redirecting', `Redirecting to ${escapeHtml(location)}`, undefined, { Location: location });
}

/** The answer to an error when there is no next handler to take it: serve-static's (finalhandler's) page. */
export function errorPage(error: StaticError): Page {
  const status = error.status;
  // An fs error's message names a server path: only exposed (client) errors show their own message.
  const text = escapeHtml(error.expose ? error.message : (STATUS_CODES[status] ?? String(status)));
  return htmlPage(status, 'Error', text, error.headers, undefined);
}

/** `405` for a method other than GET and HEAD (RFC 9110 section 15.5.6). */
export const METHOD_NOT_ALLOWED: Page = Object.freeze({
  status: 405,
  headers: Object.freeze({ Allow: ALLOWED_METHODS, 'Content-Length': '0' }),
  body: '',
});

type HeaderRecord = Readonly<Record<string, string>> | undefined;

function htmlPage(status: number, title: string, text: string, before: HeaderRecord, after: HeaderRecord): Page {
  const body = `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n</head>\n<body>\n<pre>${text}</pre>\n</body>\n</html>\n`;
  return {
    status,
    headers: {
      ...before,
      'Content-Type': 'text/html; charset=UTF-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Content-Security-Policy': "default-src 'none'",
      'X-Content-Type-Options': 'nosniff',
      ...after,
    },
    body,
  };
}
