import type { Stats } from 'node:fs';
import { extname } from 'node:path';
import { etag, mime } from './deps.js';
import type { Config } from './options.js';

/** The part of a response the header step needs: Node's `ServerResponse` fits, and so does a `Headers` wrapper. */
export interface HeaderTarget {
  getHeader(name: string): unknown;
  setHeader(name: string, value: string | number): unknown;
  removeHeader(name: string): unknown;
}

const FALLBACK_TYPE = 'application/octet-stream';
/** Extensions only ever come from files that exist under root, so this map stays small; the cap is a backstop. */
const TYPE_CACHE_LIMIT = 512;
const typeCache = new Map<string, string>();

/** `Content-Type` for a file name: from mime-types, `charset=utf-8` for text, octet-stream when unknown. */
export function typeOfPath(path: string): string {
  const extension = extname(path);
  let type = typeCache.get(extension);
  if (type === undefined) {
    type = mime.contentType(extension) || FALLBACK_TYPE;
    if (typeCache.size < TYPE_CACHE_LIMIT) typeCache.set(extension, type);
  }
  return type;
}

/** A file chosen for a response, with the header values derived from it (computed once per file). */
export interface FileFacts {
  readonly path: string;
  readonly stat: Stats;
  /** Undefined when the `etag` option is off. */
  readonly etag: string | undefined;
  /** Undefined when the `lastModified` option is off. */
  readonly lastModified: string | undefined;
  readonly type: string;
}

export function describeFile(config: Config, path: string, stat: Stats): FileFacts {
  return {
    path,
    stat,
    etag: config.etag ? etag(stat) : undefined,
    lastModified: config.lastModified ? stat.mtime.toUTCString() : undefined,
    type: typeOfPath(path),
  };
}

/**
 * Sets the default headers of a file response in send's order. A header already present (from `setHeaders`
 * or earlier middleware) is left as it is.
 */
export function applyFileHeaders(config: Config, target: HeaderTarget, facts: FileFacts): void {
  if (config.acceptRanges && presetHeader(target, 'Accept-Ranges') === undefined) target.setHeader('Accept-Ranges', 'bytes');
  if (config.cacheControl !== undefined && presetHeader(target, 'Cache-Control') === undefined) {
    target.setHeader('Cache-Control', config.cacheControl);
  }
  if (facts.lastModified !== undefined && presetHeader(target, 'Last-Modified') === undefined) {
    target.setHeader('Last-Modified', facts.lastModified);
  }
  if (facts.etag !== undefined && presetHeader(target, 'ETag') === undefined) target.setHeader('ETag', facts.etag);
  if (presetHeader(target, 'Content-Type') === undefined) target.setHeader('Content-Type', facts.type);
}

/**
 * A header someone set before the default headers, as one string, or undefined when there is none. An empty
 * value counts as none, as in send (`!res.getHeader(name)`): the default then replaces it. The one rule for
 * "already set", so that preconditions judged before the headers are applied see the headers that go out.
 */
export function presetHeader(target: HeaderTarget, name: string): string | undefined {
  const value = target.getHeader(name);
  return value ? headerString(value) : undefined;
}

/** Headers that describe a body; a 304 has none (RFC 9110 section 15.4.5). */
const CONTENT_HEADERS = ['Content-Encoding', 'Content-Language', 'Content-Length', 'Content-Range', 'Content-Type'];

export function removeContentHeaders(target: HeaderTarget): void {
  for (const name of CONTENT_HEADERS) target.removeHeader(name);
}

/** A header value as a single string, or undefined (numbers are stringified, lists joined). */
export function headerString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}
