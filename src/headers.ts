import type { Stats } from 'node:fs';
import { extname } from 'node:path';
import { etag, mime, vary } from './deps.js';
import { rememberedEtag, versionKey } from './digest.js';
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
  /** The file whose bytes are sent: a sidecar (`app.js.br`) when `encoding` is set. */
  readonly path: string;
  /** The file as requested (`app.js`): what `setHeaders` is told, and what names the `Content-Type`. */
  readonly original: string;
  /** Of the file sent. */
  readonly stat: Stats;
  /** The `Content-Encoding` of a sidecar; undefined for the file itself. */
  readonly encoding: string | undefined;
  /** The file has a sidecar, so its responses depend on `Accept-Encoding`. */
  readonly vary: boolean;
  /** Undefined when the `etag` option is off. */
  readonly etag: string | undefined;
  /** Undefined when the `lastModified` option is off. */
  readonly lastModified: string | undefined;
  readonly type: string;
}

/** How a described file relates to the one requested: itself (no sidecar, or one not taken), or a sidecar. */
export interface Variant {
  readonly original: string;
  readonly encoding: string | undefined;
  readonly vary: boolean;
}

/**
 * The facts of `path`. A sidecar's ETag is its own (RFC 9110 section 8.8.3: each representation has its own)
 * and carries its coding, so it can never equal the plain file's even when size and time coincide.
 */
export function describeFile(config: Config, path: string, stat: Stats, variant?: Variant): FileFacts {
  const encoding = variant?.encoding;
  const original = variant === undefined ? path : variant.original;
  let tag: string | undefined;
  if (config.contentEtag) {
    // Filled in from the bytes (digest.ts); a sidecar's bytes are its own, so is its digest.
    tag = rememberedEtag(versionKey(stat));
  } else if (config.etag) {
    tag = etag(stat);
    if (encoding !== undefined) tag = `${tag.slice(0, -1)}-${encoding}"`;
  }
  return {
    path,
    original,
    stat,
    encoding,
    vary: variant?.vary === true,
    etag: tag,
    lastModified: config.lastModified ? stat.mtime.toUTCString() : undefined,
    type: typeOfPath(original),
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
  // The bytes are encoded whatever a hook said; caches must key the response on Accept-Encoding.
  if (facts.encoding !== undefined) target.setHeader('Content-Encoding', facts.encoding);
  if (facts.vary) vary(target as Parameters<typeof vary>[0], 'Accept-Encoding');
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
