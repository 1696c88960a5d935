import { isAbsolute, join, normalize, relative, sep } from 'node:path';

/** The outcome of mapping a URL pathname onto the file system. */
export type Resolved =
  | {
      readonly kind: 'path';
      /** Absolute path inside root. */
      readonly path: string;
      /** The decoded, normalised path below root, split into segments (for the dotfile rule). */
      readonly segments: readonly string[];
      /** The pathname as requested ended with `/` (a directory was asked for). */
      readonly trailingSlash: boolean;
    }
  | { readonly kind: 'refused'; readonly status: 400 | 403 };

/** A `..` segment that normalisation could not cancel: the path climbs out of root. Both separators count. */
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/** Refusals, shared by `resolvePath` and `canonicalPathname`. */
const BAD_REQUEST = Object.freeze({ kind: 'refused', status: 400 } as const);
const FORBIDDEN = Object.freeze({ kind: 'refused', status: 403 } as const);

/** An encoded `/` inside a segment: a router sees one segment, the file system two. */
const ENCODED_SLASH = /%2f/i;

/** Windows device names, which open a device in any directory and with any extension (`nul.txt`). */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(?:\.|$)/i;

const IS_WINDOWS = process.platform === 'win32';

/**
 * Maps a URL pathname (still percent-encoded) to an absolute path inside `root`, or refuses it.
 * The pathname is decoded exactly once: decoding twice would turn `%252e%252e` into `..` after the check.
 *
 * Refused with 400, beyond malformed escapes: forms on which a router and the file system disagree and that
 * serve-static's users never rely on. An encoded slash, any backslash (raw or `%5C`: a separator on Windows
 * and to browsers, a name character on POSIX), a NUL byte; on Windows also `:` (drive letters, alternate data
 * streams), device names and names ending in a dot or space (Windows strips those).
 */
export function resolvePath(root: string, pathname: string, windows: boolean = IS_WINDOWS): Resolved {
  let decoded = pathname;
  if (pathname.includes('%')) {
    if (ENCODED_SLASH.test(pathname)) return BAD_REQUEST;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return BAD_REQUEST;
    }
  }
  // A NUL byte truncates the path in C APIs and has no business in a URL path.
  if (decoded.includes('\0') || decoded.includes('\\')) return BAD_REQUEST;
  if (windows && windowsAmbiguous(decoded)) return BAD_REQUEST;

  const below = decoded === '' ? '' : normalize(`.${sep}${decoded}`);
  if (UP_PATH.test(below)) return FORBIDDEN;

  const path = join(root, below);
  // Defence in depth: containment is decided by path segments, never by string prefix (a root of
  // `/srv/www` must not admit `/srv/www-private`).
  const fromRoot = relative(root, path);
  if (isAbsolute(fromRoot) || fromRoot === '..' || fromRoot.startsWith(`..${sep}`)) return FORBIDDEN;

  return {
    kind: 'path',
    path,
    segments: below.split(sep),
    trailingSlash: pathname.endsWith('/'),
  };
}

function windowsAmbiguous(decoded: string): boolean {
  if (decoded.includes(':')) return true;
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') continue;
    if (WINDOWS_DEVICE.test(segment)) return true;
    const last = segment.charCodeAt(segment.length - 1);
    if (last === 0x2e /* . */ || last === 0x20 /* space */) return true;
  }
  return false;
}

/** Whether a pathname is canonical, and if not, its canonical form or why it has none. */
export type Canonical =
  | { readonly kind: 'canonical' }
  | { readonly kind: 'redirect'; readonly pathname: string }
  | { readonly kind: 'refused'; readonly status: 400 | 403 };

const CANONICAL: Canonical = Object.freeze({ kind: 'canonical' });
/** Anything that could make a pathname non-canonical: an escape, an empty segment, a dot segment. */
const MAYBE_NON_CANONICAL = /%|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * The canonical form of a URL pathname (RFC 3986 section 6.2.2): escapes of unreserved characters decoded
 * (`%61` → `a`), other escapes in upper case, empty and `.` segments dropped, `..` segments applied. This is
 * the form a router matches literally, so serving only canonical paths means the router and the file system
 * agree on which path was asked for. A `..` that climbs above the top is refused (403); an escaped or raw
 * separator has no canonical form (400).
 */
export function canonicalPathname(pathname: string): Canonical {
  if (pathname === '') return CANONICAL;
  if (pathname.includes('\\')) return BAD_REQUEST;
  if (!MAYBE_NON_CANONICAL.test(pathname)) return CANONICAL;
  if (pathname.charCodeAt(0) !== 0x2f /* / */) return BAD_REQUEST;

  const raw = pathname.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < raw.length; i++) {
    const segment = normalizeEscapes(raw[i] as string);
    if (segment === undefined) return BAD_REQUEST;
    const last = i === raw.length - 1;
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      if (out.pop() === undefined) return FORBIDDEN;
      trailingSlash = last;
    } else {
      out.push(segment);
      trailingSlash = false;
    }
  }
  const canonical = out.length === 0 ? '/' : `/${out.join('/')}${trailingSlash ? '/' : ''}`;
  return canonical === pathname ? CANONICAL : { kind: 'redirect', pathname: canonical };
}


/** Decodes escapes of unreserved characters, upper-cases the rest; undefined for a malformed escape or separator. */
function normalizeEscapes(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i] as string;
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    const code = parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c) return undefined;
    out += isUnreserved(code) ? String.fromCharCode(code) : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 section 2.3). */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}
