import type { Stats } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { StringValue } from 'ms';
import { ms } from './deps.js';
import type { CacheLimits } from './cache.js';
import { resolvePath } from './resolve.js';
import { createSymlinkGuard, type SymlinkGuard, type SymlinkPolicy } from './symlinks.js';

/** How files and directories whose name begins with a dot are treated. */
export type DotfilesMode = 'allow' | 'deny' | 'ignore';

/** A content coding whose precompressed copy (`file.br`, `file.zst`, `file.gz`) may be served in place of a file. */
export type PrecompressedEncoding = 'br' | 'zstd' | 'gzip';

/** A configured sidecar: its coding, the suffix of its file, and its bit in a mask of sidecars found. */
export interface Sidecar {
  readonly encoding: PrecompressedEncoding;
  readonly suffix: string;
  readonly bit: number;
}

/** The bit of each coding is fixed (the file thread reports what it found as a mask). */
export const SIDECARS: Readonly<Record<PrecompressedEncoding, Sidecar>> = Object.freeze({
  br: Object.freeze({ encoding: 'br', suffix: '.br', bit: 1 }),
  zstd: Object.freeze({ encoding: 'zstd', suffix: '.zst', bit: 2 }),
  gzip: Object.freeze({ encoding: 'gzip', suffix: '.gz', bit: 4 }),
});

/** Called for every file about to be served, before the default headers are set, so the headers it sets win. */
export type SetHeaders<Res extends ServerResponse = ServerResponse> = (res: Res, path: string, stat: Stats) => void;

/**
 * Options of {@link serveStatic}. Names, defaults and meaning are those of serve-static 2.x.
 *
 * @example
 * ```ts
 * app.use(serveStatic('public', { maxAge: '1d', extensions: ['html'], dotfiles: 'deny' }));
 * ```
 */
export interface ServeStaticOptions<Res extends ServerResponse = ServerResponse> {
  /**
   * Remember lookups (files, directories, misses), file metadata and the bytes of small files, as nginx's
   * `open_file_cache` does. Off by default: every request then goes to the disk, as with serve-static.
   * `true` uses the default limits; an object sets them. A file changed on disk is served fresh after at most
   * `revalidateAfter`; a cached body is always the one its ETag and Content-Length describe.
   * @default false
   * @example { cache: true }
   * @example { cache: { maxBytes: 128 * 1024 * 1024, revalidateAfter: '5s' } }
   */
  cache?: boolean | CacheOptions | undefined;
  /**
   * Answer `Range` requests and send `Accept-Ranges: bytes`.
   * @default true
   * @example { acceptRanges: false }
   */
  acceptRanges?: boolean | undefined;
  /**
   * Send a `Cache-Control` header built from `maxAge` and `immutable`.
   * @default true
   * @example { cacheControl: false }
   */
  cacheControl?: boolean | undefined;
  /**
   * What to do when any segment of the path begins with a dot (`.env`, `.git/config`):
   * `'allow'` serves it, `'deny'` answers 403, `'ignore'` acts as if it did not exist (404, or falls through).
   * @default 'ignore'
   * @example { dotfiles: 'deny' }
   */
  dotfiles?: DotfilesMode | undefined;
  /**
   * Send an `ETag`. `true`: a weak one from the file's size and modification time, as serve-static. `'content'`:
   * a strong one from a SHA-256 digest of the file's bytes, the same on every machine that holds the same bytes
   * (a fleet behind a load balancer and a CDN), and changed by any change of the bytes, even one that keeps the
   * size and restores the modification time. Each digest is computed once per version of a file (device, inode,
   * size, modification and change times) and remembered (up to 10,000 versions); large files are read in chunks
   * without blocking the event loop.
   * @default true
   * @example { etag: false }
   * @example { etag: 'content' }
   */
  etag?: boolean | 'content' | undefined;
  /**
   * Extensions tried, in order, when the path has no extension and no file matches it exactly;
   * `/about` then serves `about.html`.
   * @default false
   * @example { extensions: ['html', 'htm'] }
   */
  extensions?: string | readonly string[] | false | undefined;
  /**
   * On a miss (no file, a method other than GET/HEAD, a refused path), call `next()` so later middleware
   * can answer. When false, misses become `next(err)` and other methods are answered 405.
   * @default true
   * @example { fallthrough: false }
   */
  fallthrough?: boolean | undefined;
  /**
   * Add `immutable` to `Cache-Control`, telling browsers not to revalidate within `maxAge`.
   * @default false
   * @example { immutable: true, maxAge: '1y' }
   */
  immutable?: boolean | undefined;
  /**
   * File names served for a request to a directory with a trailing slash, tried in order; `false` disables.
   * @default 'index.html'
   * @example { index: ['index.html', 'index.htm'] }
   */
  index?: string | readonly string[] | false | undefined;
  /**
   * Send `Last-Modified` from the file's modification time.
   * @default true
   * @example { lastModified: false }
   */
  lastModified?: boolean | undefined;
  /**
   * Browser cache lifetime for `Cache-Control: public, max-age=…`, in milliseconds or as an `ms` string.
   * Capped at one year.
   * @default 0
   * @example { maxAge: '1d' }
   */
  maxAge?: number | string | undefined;
  /**
   * Alias of `maxAge`, accepted for compatibility with serve-static.
   * @default 0
   * @example { maxage: 86_400_000 }
   */
  maxage?: number | string | undefined;
  /**
   * Require canonical request paths, for sites with route guards (`app.use('/admin', requireLogin)`): a path
   * a router would read differently from the file system (`//admin/x`, `/./admin/x`, `/x/../admin/x`,
   * `/%61dmin/x`) is answered with a 301 to its canonical form, so the router sees the request again, and
   * one that climbs above the mount is refused (403). Off by default because serve-static serves such paths
   * (`/users/../todo.txt` is 200 and `//users` redirects to `/users/`).
   * @default false
   * @example { canonicalPaths: true }
   */
  canonicalPaths?: boolean | undefined;
  /**
   * Serve a precompressed copy made at build time (`app.js.br`, `app.js.zst`, `app.js.gz` beside `app.js`)
   * to clients whose `Accept-Encoding` takes it. `true` means `['br', 'gzip']`; a list gives the codings
   * offered, in the server's order of preference (the client's q-values decide first). A copy is served only
   * when it is a regular file at least as new as the file itself: a copy left over from an older build is
   * never sent. It goes out with `Content-Encoding`, the file's `Content-Type`, its own length and ETag, and
   * every response for a file that has a copy says `Vary: Accept-Encoding`. Off by default (as serve-static).
   * @default false
   * @example { precompressed: true }
   * @example { precompressed: ['zstd', 'br', 'gzip'] }
   */
  precompressed?: boolean | readonly PrecompressedEncoding[] | undefined;
  /**
   * Single-page apps: a GET or HEAD that is a page navigation (its `Accept` names `text/html`) for a path that
   * matches no file or directory, whose last segment has no extension and no segment of which starts with a dot,
   * is answered with the app's document (`index.html` at root for `true`, or the file named, relative to root)
   * with status 200, as if that file had been requested. A missing `/assets/chunk-0badc0de.js` stays a 404, and
   * so does a `fetch` asking for JSON. The document goes out with `Cache-Control: no-cache` (whatever `maxAge`
   * and `immutable` say for the assets, unless `setHeaders` sets its own) and `Vary: Accept`.
   * @default false
   * @example { spa: true }
   * @example { spa: 'app.html' }
   */
  spa?: boolean | string | undefined;
  /**
   * Redirect (301) a directory requested without its trailing slash to the same path with one.
   * @default true
   * @example { redirect: false }
   */
  redirect?: boolean | undefined;
  /**
   * Symbolic links under root: `'follow'` them like any path (serve-static's behaviour; no cost),
   * `'within-root'` serves through a link only when its target's real path is inside root's real path,
   * `'deny'` never serves a path that passes through a link below root. The last two cost one `readlink`
   * per file or directory opened (on Linux, of the open descriptor, so a swapped link cannot slip through).
   * @default 'follow'
   * @example { symlinks: 'within-root' }
   */
  symlinks?: SymlinkPolicy | undefined;
  /**
   * A hook to set custom headers on a file response; headers it sets are not overwritten.
   * @default undefined
   * @example { setHeaders: (res, path) => { if (path.endsWith('.pdf')) res.setHeader('Content-Disposition', 'attachment') } }
   */
  setHeaders?: SetHeaders<Res> | undefined;
}

/** Limits of the `cache` option. */
export interface CacheOptions {
  /**
   * Most entries (files, directories and misses) kept; the least recently used go first.
   * @default 10000
   * @example { maxEntries: 50_000 }
   */
  maxEntries?: number | undefined;
  /**
   * Most bytes of file contents (plus a small per-entry overhead) kept in memory.
   * @default 67108864 (64 MiB)
   * @example { maxBytes: 256 * 1024 * 1024 }
   */
  maxBytes?: number | undefined;
  /**
   * Largest file whose bytes are kept; larger files are streamed from disk, only their lookup is remembered.
   * @default 1048576 (1 MiB)
   * @example { maxFileSize: 256 * 1024 }
   */
  maxFileSize?: number | undefined;
  /**
   * How long an entry is trusted before the disk is consulted again, in ms or as an `ms` string. This bounds
   * how stale an answer can be: a changed, added or deleted file is seen after at most this long.
   * @default 1000
   * @example { revalidateAfter: '10s' }
   */
  revalidateAfter?: number | string | undefined;
}

/** Everything derived from the options, computed once at factory time. */
export interface Config {
  readonly root: string;
  readonly acceptRanges: boolean;
  /** The complete `Cache-Control` value, or undefined when disabled. */
  readonly cacheControl: string | undefined;
  readonly dotfiles: DotfilesMode;
  /** Any ETag at all (`etag` not off). */
  readonly etag: boolean;
  /** `etag: 'content'`: strong ETags from the bytes' digest. */
  readonly contentEtag: boolean;
  /** Suffixes to append, dot included (`'.html'`). */
  readonly extensions: readonly string[];
  readonly fallthrough: boolean;
  readonly index: readonly string[];
  readonly lastModified: boolean;
  readonly redirect: boolean;
  readonly setHeaders: SetHeaders<never> | undefined;
  /** Undefined when the cache is off. */
  readonly cache: CacheLimits | undefined;
  readonly canonicalPaths: boolean;
  /** The `symlinks` policy as a check; undefined under `follow`. */
  readonly symlinkGuard: SymlinkGuard | undefined;
  /** Sidecars offered, in the server's order of preference; empty when `precompressed` is off. */
  readonly precompressed: readonly Sidecar[];
  /** The bits of `precompressed`, or'ed: which sidecars a lookup looks for. */
  readonly sidecarMask: number;
  /** The SPA document as a URL pathname below root (`/index.html`), or undefined when `spa` is off. */
  readonly spa: string | undefined;
  /** The SPA document's absolute path. */
  readonly spaFile: string | undefined;
}

const DEFAULT_CACHE: CacheLimits = Object.freeze({
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxFileSize: 1024 * 1024,
  revalidateAfter: 1000,
});

const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

/** Validates options, applies serve-static's defaults and precomputes what requests need. */
export function createConfig(root: unknown, options: ServeStaticOptions<never> | undefined): Config {
  if (!root) throw new TypeError('root path required');
  if (typeof root !== 'string') throw new TypeError('root path must be a string');
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeError('options must be an object');
  }
  const opts: ServeStaticOptions<never> = options ?? {};

  // As in serve-static, any falsy value means no hook (`setHeaders: isProd && addHeaders`).
  const setHeaders: unknown = opts.setHeaders;
  if (setHeaders && typeof setHeaders !== 'function') {
    throw new TypeError('option setHeaders must be function');
  }

  const etagOption: unknown = opts.etag;
  // An empty string is off, as in send; any other string but 'content' is a typo ('strong', 'weak').
  if (typeof etagOption === 'string' && etagOption !== '' && etagOption !== 'content') {
    throw new TypeError('etag option must be true, false, or "content"');
  }

  const dotfiles = opts.dotfiles === undefined ? 'ignore' : opts.dotfiles;
  if (dotfiles !== 'allow' && dotfiles !== 'deny' && dotfiles !== 'ignore') {
    throw new TypeError('dotfiles option must be "allow", "deny", or "ignore"');
  }

  const symlinks = opts.symlinks ?? 'follow';
  if (symlinks !== 'follow' && symlinks !== 'within-root' && symlinks !== 'deny') {
    throw new TypeError('symlinks option must be "follow", "within-root", or "deny"');
  }
  const resolvedRoot = resolve(root);
  const precompressed = sidecarsOf(opts.precompressed);
  const spa = spaDocument(opts.spa, resolvedRoot);

  const maxAgeSeconds = Math.floor(parseMaxAge(opts.maxAge || opts.maxage || 0) / 1000);
  const immutable = flag(opts.immutable, false);

  return Object.freeze({
    root: resolvedRoot,
    acceptRanges: flag(opts.acceptRanges, true),
    cacheControl: flag(opts.cacheControl, true)
      ? `public, max-age=${maxAgeSeconds}${immutable ? ', immutable' : ''}`
      : undefined,
    dotfiles,
    etag: flag(opts.etag, true),
    contentEtag: opts.etag === 'content',
    extensions: Object.freeze(toList(opts.extensions, 'extensions option').map((ext) => `.${ext}`)),
    fallthrough: opts.fallthrough !== false,
    index: Object.freeze(opts.index === undefined ? ['index.html'] : toList(opts.index, 'index option')),
    lastModified: flag(opts.lastModified, true),
    redirect: opts.redirect !== false,
    setHeaders: typeof setHeaders === 'function' ? (setHeaders as SetHeaders<never>) : undefined,
    cache: cacheLimits(opts.cache),
    canonicalPaths: opts.canonicalPaths === true,
    symlinkGuard: createSymlinkGuard(resolvedRoot, symlinks),
    precompressed,
    sidecarMask: precompressed.reduce((mask, sidecar) => mask | sidecar.bit, 0),
    spa: spa?.pathname,
    spaFile: spa?.file,
  });
}

/**
 * The `spa` document: the pathname it is looked up by (the same rules as any request: dotfiles, symlinks,
 * precompressed sidecars) and the file that pathname resolves to. A name that is not a plain path inside root
 * is refused at factory time.
 */
function spaDocument(value: unknown, root: string): { pathname: string; file: string } | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  if (value !== true && (typeof value !== 'string' || value === '')) {
    throw new TypeError('spa option must be true, false, or the path of a file inside root');
  }
  const name = value === true ? 'index.html' : value;
  const pathname = encodeURI(`/${name.replace(/^\/+/, '')}`);
  const resolved = resolvePath(root, pathname);
  if (resolved.kind === 'refused' || pathname.endsWith('/')) {
    throw new TypeError(`spa option "${name}" must name a file inside root`);
  }
  return { pathname, file: resolved.path };
}

const PRECOMPRESSED_MESSAGE = 'precompressed option must be true, false, or a list drawn from "br", "zstd" and "gzip"';

function sidecarsOf(value: unknown): readonly Sidecar[] {
  if (value === undefined || value === null || value === false) return Object.freeze([]);
  if (value === true) return Object.freeze([SIDECARS.br, SIDECARS.gzip]);
  if (!Array.isArray(value)) throw new TypeError(PRECOMPRESSED_MESSAGE);
  const list: Sidecar[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'string' || !Object.hasOwn(SIDECARS, item)) throw new TypeError(PRECOMPRESSED_MESSAGE);
    const sidecar = SIDECARS[item as PrecompressedEncoding];
    if (list.includes(sidecar)) throw new TypeError(`precompressed option lists "${item}" twice`);
    list.push(sidecar);
  }
  return Object.freeze(list);
}

/**
 * A boolean option read as send reads it: absent takes the default, anything else is its truthiness, so
 * `null` and `0` mean false (`etag: null` turns ETags off in serve-static too).
 */
function flag(value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : Boolean(value);
}

function cacheLimits(value: unknown): CacheLimits | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true) return DEFAULT_CACHE;
  if (typeof value !== 'object') throw new TypeError('cache option must be a boolean or an object');
  const options = value as CacheOptions;
  const revalidate = options.revalidateAfter ?? DEFAULT_CACHE.revalidateAfter;
  const revalidateAfter = typeof revalidate === 'string' ? ms(revalidate as StringValue) : revalidate;
  if (typeof revalidateAfter !== 'number' || !(revalidateAfter >= 0)) {
    throw new TypeError('cache.revalidateAfter must be a number of milliseconds (>= 0) or an ms string');
  }
  return Object.freeze({
    maxEntries: limit(options.maxEntries, DEFAULT_CACHE.maxEntries, 'cache.maxEntries'),
    maxBytes: limit(options.maxBytes, DEFAULT_CACHE.maxBytes, 'cache.maxBytes'),
    maxFileSize: limit(options.maxFileSize, DEFAULT_CACHE.maxFileSize, 'cache.maxFileSize'),
    revalidateAfter,
  });
}

function limit(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative integer`);
  }
  return value;
}

/**
 * serve-static silently turns an unreadable `maxAge` into 0; a typo such as `'1 fortnight'` then disables
 * caching without a word, so we refuse it instead.
 */
function parseMaxAge(value: unknown): number {
  let milliseconds: number;
  if (typeof value === 'number') {
    // NaN reads as 0, as in serve-static.
    milliseconds = Number.isNaN(value) ? 0 : value;
  } else if (typeof value === 'string') {
    milliseconds = ms(value as StringValue);
    if (milliseconds === undefined) {
      throw new TypeError(`maxAge string "${value}" is not understood; use milliseconds or an ms string such as '1d'`);
    }
  } else {
    throw new TypeError('maxAge must be a number of milliseconds or an ms string');
  }
  return Math.min(Math.max(0, milliseconds), ONE_YEAR_MS);
}

function toList(value: unknown, name: string): string[] {
  if (!value) return [];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  for (const item of list) {
    if (typeof item !== 'string') throw new TypeError(`${name} must be array of strings or false`);
  }
  return list as string[];
}
