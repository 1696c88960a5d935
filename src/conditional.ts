import { fresh } from './deps.js';

/** Request header fields, lower-cased, as Node's `req.headers` holds them. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** The validators the response carries (after `setHeaders` and the defaults). */
export interface Validators {
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

/** `send` the file, answer `not-modified` (304), or `failed` (412). */
export type Precondition = 'send' | 'not-modified' | 'failed';

/**
 * Evaluates the conditional request headers (RFC 9110 section 13.2.2): If-Match / If-Unmodified-Since may
 * fail the request; If-None-Match / If-Modified-Since may make a cachable response a 304.
 */
export function evaluatePreconditions(headers: RequestHeaders, validators: Validators, cachable: boolean): Precondition {
  const ifMatch = headers['if-match'];
  const ifUnmodifiedSince = headers['if-unmodified-since'];
  const ifNoneMatch = headers['if-none-match'];
  const ifModifiedSince = headers['if-modified-since'];
  if (!ifMatch && !ifUnmodifiedSince && !ifNoneMatch && !ifModifiedSince) return 'send';

  if (preconditionFails(first(ifMatch), first(ifUnmodifiedSince), validators)) return 'failed';
  if (cachable && fresh(headers as Record<string, string | undefined>, { etag: validators.etag, 'last-modified': validators.lastModified })) {
    return 'not-modified';
  }
  return 'send';
}

function preconditionFails(ifMatch: string | undefined, ifUnmodifiedSince: string | undefined, validators: Validators): boolean {
  if (ifMatch) {
    const etag = validators.etag;
    if (!etag) return true;
    if (ifMatch === '*') return false;
    return !someTokenMatches(ifMatch, etag);
  }
  const unmodifiedSince = parseHttpDate(ifUnmodifiedSince);
  if (!Number.isNaN(unmodifiedSince)) {
    const lastModified = parseHttpDate(validators.lastModified);
    return Number.isNaN(lastModified) || lastModified > unmodifiedSince;
  }
  return false;
}

/**
 * Scans a comma-separated entity-tag list in one pass without building an array (a long hostile list costs
 * linear time). Weak and strong forms compare equal, as send does.
 */
export function someTokenMatches(list: string, etag: string): boolean {
  let start = 0;
  let end = 0;
  for (let i = 0, length = list.length; i <= length; i++) {
    const code = i === length ? 0x2c : list.charCodeAt(i);
    if (code === 0x20 /* space */) {
      if (start === end) start = end = i + 1;
    } else if (code === 0x2c /* , */) {
      if (start !== end && tokenMatches(list, start, end, etag)) return true;
      start = end = i + 1;
    } else {
      end = i + 1;
    }
  }
  return false;
}

function tokenMatches(list: string, start: number, end: number, etag: string): boolean {
  const length = end - start;
  if (length === etag.length) return list.startsWith(etag, start);
  // `W/"x"` in the list against `"x"`, or `"x"` in the list against `W/"x"`.
  if (length === etag.length + 2) return list.startsWith('W/', start) && list.startsWith(etag, start + 2);
  if (length + 2 === etag.length) return etag.startsWith('W/') && list.startsWith(etag.slice(2), start);
  return false;
}

/** Milliseconds since the epoch, or NaN for a missing or unreadable date. */
export function parseHttpDate(value: string | undefined): number {
  return value ? Date.parse(value) : Number.NaN;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
