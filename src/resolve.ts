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

const BAD_REQUEST: Resolved = Object.freeze({ kind: 'refused', status: 400 });
const FORBIDDEN: Resolved = Object.freeze({ kind: 'refused', status: 403 });

/**
 * Maps a URL pathname (still percent-encoded) to an absolute path inside `root`, or refuses it.
 * The pathname is decoded exactly once: decoding twice would turn `%252e%252e` into `..` after the check.
 */
export function resolvePath(root: string, pathname: string): Resolved {
  let decoded = pathname;
  if (pathname.includes('%')) {
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return BAD_REQUEST;
    }
  }
  // A NUL byte truncates the path in C APIs and has no business in a URL path.
  if (decoded.includes('\0')) return BAD_REQUEST;

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
