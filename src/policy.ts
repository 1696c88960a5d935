import { encodeUrl } from './deps.js';
import type { DotfilesMode } from './options.js';

/** GET and HEAD are the only methods a static file answers (RFC 9110 section 9.3). */
export function isReadMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** The methods named in `Allow` when another method is refused. */
export const ALLOWED_METHODS = 'GET, HEAD';

/**
 * The status a path gets under the dotfile policy, or 0 when it may be served. Every segment counts, so
 * `/.git/config` is caught as well as `/.env`; `.` alone is not a dotfile.
 */
export function dotfileStatus(segments: readonly string[], mode: DotfilesMode): 0 | 403 | 404 {
  if (mode === 'allow') return 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment.length > 1 && segment.charCodeAt(0) === 0x2e /* . */) return mode === 'deny' ? 403 : 404;
  }
  return 0;
}

/**
 * The `Location` for a directory requested without its trailing slash: the original path plus `/` (unless
 * `appendSlash` is false, for other same-origin redirects), query and fragment kept. Leading slashes and backslashes collapse to one `/`, because browsers read `//host` and `/\host` as
 * another origin; the result is always a path on this origin.
 */
export function directoryLocation(
  originalPathname: string,
  search: string | null | undefined,
  hash?: string | null,
  appendSlash = true,
): string {
  let start = 0;
  while (start < originalPathname.length) {
    const code = originalPathname.charCodeAt(start);
    if (code !== 0x2f /* / */ && code !== 0x5c /* \ */) break;
    start++;
  }
  const rest = originalPathname.slice(start);
  const path = rest === '' ? '/' : appendSlash ? `/${rest}/` : `/${rest}`;
  return encodeUrl(`${path}${search ?? ''}${hash ?? ''}`);
}
