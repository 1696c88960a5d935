/**
 * Hostile requests, sent over a raw socket so the request target reaches the server byte for byte (`fetch`
 * would normalise `/../x`, `%2e%2e` and `\`), through both doors. Every case asserts the status and the body
 * (and the headers it is about) under each option variant where the answer depends on it: `fallthrough`
 * true/false everywhere, each `dotfiles` mode for dot paths, each `symlinks` mode for links.
 *
 * On top of each case's own expectation, every answer is checked against invariants that must hold for any
 * input and either door: no 5xx, nothing from outside root unless the case expects it (`symlinks: 'follow'`
 * reaching out through a link is serve-static's behaviour), a `Location`, if any, that is a path on this
 * origin, and, once a door's tables have run, no descriptor left open.
 *
 * The doors differ only where the fetch door cannot see what the Connect door sees. Errors are answered by the
 * fetch door itself with serve-static's HTML page instead of `next(err)` (by design, see doors.ts). And the
 * fetch door gets the request target after `@hono/node-server` has parsed it as a WHATWG URL: dot segments
 * (`..`, `.`, `%2e%2e`, `.%2e`) are resolved first, so `/../secret.txt` arrives as `/secret.txt`, and a target
 * that URL cannot take (a `\` in the path, the asterisk form `*`) is answered 400 by the adapter before the
 * door is called. Rows whose fetch-door answer differs for that reason say so with `whatwg(...)` or
 * `ADAPTER_REFUSES`; no other row may differ.
 */
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import escapeHtml from 'escape-html';
import etag from 'etag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, serveStaticFetch, type DotfilesMode, type SymlinkPolicy } from '../src/index.js';
import { describeDoors, type Door } from './doors.js';
import { finalHandler, listen, openDescriptorCount, rawRequest, settledDescriptorCount, tempDir, type RawResponse } from './helpers.js';

/*
 * <base>/secret.txt                 OUTSIDE (decoy next to root)
 * <base>/outside/secret.txt         OUTSIDE
 * <base>/outside/index.html         OUTSIDE
 * <base>/site-private/secret.txt    OUTSIDE (sibling whose name has the root's name as a prefix)
 * <base>/site/                      the root, holding the files below, each with a body naming it
 */
const base = tempDir('brisk-static-hostile-');
const root = join(base.path, 'site');
const OUTSIDE = 'OUTSIDE\n';
const HELLO = 'hello\n';
const BIG_SIZE = 4096;
const BIG = Buffer.from(Array.from({ length: BIG_SIZE }, (_, i) => 0x41 + (i % 26)));

const FILES: Record<string, string> = {
  'index.html': 'site index\n',
  'hello.txt': HELLO,
  'users/index.html': 'users index\n',
  'evil.example/index.html': 'not evil, a directory under root\n',
  'sub/page.txt': 'sub page\n',
  'sub/.env': 'SUB ENV\n',
  '.git/config': 'GIT CONFIG\n',
  '.well-known/x.txt': 'WELL KNOWN\n',
  '.hidden.txt': 'HIDDEN\n',
  // A directory literally named `%2e%2e`: `/%252e%252e/secret.txt` must reach it (decoded once), not `..`.
  '%2e%2e/secret.txt': 'literal %2e%2e directory\n',
};

const LINKS: Record<string, string> = {
  'link-in.txt': 'hello.txt',
  'link-in-dir': 'sub',
  'link-self': '.',
  'link-out.txt': '../outside/secret.txt',
  'link-abs.txt': join(base.path, 'outside', 'secret.txt'),
  'link-sibling.txt': '../site-private/secret.txt',
  'link-dir-out': '../outside',
  'link-up': '..',
  'link-dangling': 'nowhere',
  loop: 'loop',
  'loop-a': 'loop-b',
  'loop-b': 'loop-a',
};

interface Variant {
  readonly fallthrough: boolean;
  readonly dotfiles: DotfilesMode;
  readonly symlinks: SymlinkPolicy;
}

const DEFAULT_VARIANT: Variant = { fallthrough: true, dotfiles: 'ignore', symlinks: 'follow' };

interface Expected {
  readonly status: number;
  readonly body: string | RegExp | Buffer;
  /** `null`: the header must be absent. */
  readonly headers?: Readonly<Record<string, string | null>>;
}

type DoorName = Door['name'];
type Expect = (variant: Variant, door: DoorName) => Expected;
type Headers = Record<string, string> | (() => Record<string, string>);

interface Case {
  readonly target: string;
  readonly expect: Expect;
  /**
   * The fetch door's answer where it differs from `expect` because of the URL parsing in front of it (see
   * the header): set only through `whatwg(...)` or `ADAPTER_REFUSES`.
   */
  readonly fetch?: Expect;
  readonly method?: string;
  readonly headers?: Headers;
  /** A name for the test when the target is unreadable (long or repetitive). */
  readonly name?: string;
}

/** `[target, expect]` or `[target, expect, { method, headers, name }]`. */
type Row = readonly [target: string, expect: Expect, init?: Omit<Case, 'target' | 'expect'>];

const ERROR_BODIES = {
  400: 'BadRequestError: Bad Request',
  403: 'ForbiddenError: Forbidden',
  404: 'NotFoundError: Not Found',
} as const;

const FELL_THROUGH: Expected = { status: 404, body: 'fell through', headers: { location: null } };

/**
 * An error as each door answers it: the Connect door's `next(err)`, written by the test's final handler as
 * `<name>: <message>`, or the fetch door's own page, which shows the status text only (never an fs message,
 * which names a server path).
 */
function errorAnswer(door: DoorName, status: number, nodeBody: string | RegExp, headers: Record<string, string | null> = {}): Expected {
  if (door === 'node') return { status, body: nodeBody, headers };
  return {
    status,
    body: new RegExp(`^<!DOCTYPE html>\\n[^]*<pre>${escapeRegExp(STATUS_CODES[status] ?? '')}</pre>`),
    headers: {
      ...headers,
      'content-type': 'text/html; charset=UTF-8',
      'content-security-policy': "default-src 'none'",
      'x-content-type-options': 'nosniff',
    },
  };
}

/** Refused before a file was chosen: `next()` under fallthrough, else an error with this status. */
function refused(status: 400 | 403 | 404, strictBody: string | RegExp = ERROR_BODIES[status]): Expect {
  return (variant, door) => (variant.fallthrough ? FELL_THROUGH : errorAnswer(door, status, strictBody, { location: null }));
}

/** Nothing to serve, and the file system said why (the error keeps its code). */
function missing(code: 'ENOENT' | 'ENOTDIR' | 'ENAMETOOLONG' | 'ELOOP'): Expect {
  return refused(404, new RegExp(`^Error: ${code}: `));
}

const BAD_REQUEST = refused(400);
const FORBIDDEN = refused(403);
const NOT_FOUND = refused(404);

function served(body: string | Buffer, type?: string): Expect {
  const headers: Record<string, string | null> = { 'content-length': String(Buffer.byteLength(body)), location: null };
  if (type !== undefined) headers['content-type'] = type;
  return () => ({ status: 200, body, headers });
}

function redirect(location: string): Expect {
  return () => ({
    status: 301,
    body: new RegExp(`<pre>Redirecting to ${escapeRegExp(escapeHtml(location))}</pre>`),
    headers: { location, 'content-type': 'text/html; charset=UTF-8' },
  });
}

function partial(body: string | Buffer, contentRange: string): Expect {
  return () => ({
    status: 206,
    body,
    headers: { 'content-range': contentRange, 'content-length': String(Buffer.byteLength(body)) },
  });
}

/**
 * The fetch door's answer to a target it sees after WHATWG URL parsing resolved its dot segments: the row's
 * `expect` holds for the target as sent, this for the target as parsed.
 */
function whatwg(fetch: Expect): { fetch: Expect } {
  return { fetch };
}

/**
 * `@hono/node-server` answers 400 with an empty body, itself, to a target it cannot make a URL of: a `\` in
 * the path (which WHATWG parsing would turn into `/`) or a target not starting with `/` (`*`). The fetch
 * door is never called, whatever `fallthrough` says.
 */
const ADAPTER_REFUSES: { fetch: Expect } = { fetch: () => ({ status: 400, body: '', headers: { location: null } }) };

/** A non-GET/HEAD method: `next()` under fallthrough, else 405 with `Allow`. */
const METHOD_REFUSED: Expect = (variant) =>
  variant.fallthrough
    ? FELL_THROUGH
    : { status: 405, body: '', headers: { allow: 'GET, HEAD', 'content-length': '0' } };

function byDotfiles(modes: Record<DotfilesMode, Expect>): Expect {
  return (variant, door) => modes[variant.dotfiles](variant, door);
}

/** What a dot path gets: served (or whatever `allow` says), 403 under deny, a 404 miss under ignore. */
function dotted(allow: Expect): Expect {
  return byDotfiles({ allow, deny: FORBIDDEN, ignore: NOT_FOUND });
}

function bySymlinks(modes: Record<SymlinkPolicy, Expect>): Expect {
  return (variant, door) => modes[variant.symlinks](variant, door);
}

/** A link that stays inside root: refused only under `deny`. */
function innerLink(follow: Expect): Expect {
  return bySymlinks({ follow, 'within-root': follow, deny: NOT_FOUND });
}

/** A link whose target is outside root: `follow` reaches it (serve-static's behaviour), the others refuse. */
function outerLink(follow: Expect): Expect {
  return bySymlinks({ follow, 'within-root': NOT_FOUND, deny: NOT_FOUND });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const range = (value: string): { headers: Headers } => ({ headers: { Range: value } });
const repeatParts = (part: string, count: number): string => Array.from({ length: count }, () => part).join(',');

// --- the tables --------------------------------------------------------------------------------------------

/** Run with the default dotfiles and symlinks modes, under fallthrough true and false. */
const PATH_TABLE: readonly Row[] = [
  // traversal (the fetch door sees the dot segments resolved at the root: `/../secret.txt` is `/secret.txt`,
  // which root does not hold)
  ['/../secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/../../../../etc/passwd', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/..', FORBIDDEN, whatwg(served('site index\n'))],
  ['/..%2fsecret.txt', BAD_REQUEST],
  ['/..%2Fsecret.txt', BAD_REQUEST],
  ['/%2e%2e/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/%2E%2E/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/%2e%2e', FORBIDDEN, whatwg(served('site index\n'))],
  ['/%2e%2e%2fsecret.txt', BAD_REQUEST],
  ['/..%5csecret.txt', BAD_REQUEST],
  ['/..%5Csecret.txt', BAD_REQUEST],
  ['/..\\secret.txt', BAD_REQUEST, ADAPTER_REFUSES],
  ['/sub\\..\\..\\secret.txt', BAD_REQUEST, ADAPTER_REFUSES],
  ['/.%2e/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/%2e./secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/sub/../../secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/sub/%2e%2e/%2e%2e/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  // double encoding is decoded once: `%252e%252e` names the directory literally called `%2e%2e`
  ['/%252e%252e/secret.txt', served('literal %2e%2e directory\n')],
  ['/%252e%252e%252fsecret.txt', missing('ENOENT')],
  // decoded once to the segment `..%2fsecret.txt`: a name starting with `.`, so the dotfile rule (ignore) hides it
  ['/..%252fsecret.txt', NOT_FOUND],
  // overlong UTF-8 forms of `.` and `/` are invalid UTF-8: 400, never a `..`
  ['/%c0%ae%c0%ae/secret.txt', BAD_REQUEST],
  ['/%e0%80%ae%e0%80%ae/secret.txt', BAD_REQUEST],
  ['/..%c0%afsecret.txt', BAD_REQUEST],
  ['/%c0%ae%c0%ae%c0%afsecret.txt', BAD_REQUEST],
  // dot segments that stay inside root are served, as by serve-static
  ['/./hello.txt', served(HELLO)],
  ['/%2e/hello.txt', served(HELLO)],
  ['/sub/../hello.txt', served(HELLO)],
  ['/sub/%2e%2e/hello.txt', served(HELLO)],
  ['/sub/./page.txt', served('sub page\n')],
  ['/sub/..', redirect('/sub/../'), whatwg(served('site index\n'))],
  ['/hello.txt/..', redirect('/hello.txt/../'), whatwg(served('site index\n'))],
  // sibling-prefix root: <base>/site-private must never be reachable from root <base>/site
  ['/../site-private/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/../site-private/', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/%2e%2e/site-private/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/.%2e/site-private/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/..%2fsite-private%2fsecret.txt', BAD_REQUEST],
  ['/sub/../../site-private/secret.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/%2e%2e%5csite-private%5csecret.txt', BAD_REQUEST],
  ['/..%252fsite-private/secret.txt', NOT_FOUND],
  ['/sub/%252e%252e%252f..%252fsecret.txt', missing('ENOENT')],
  ['/../site/hello.txt', FORBIDDEN, whatwg(missing('ENOENT'))],
  ['/../site-private%00/secret.txt', BAD_REQUEST],
  // NUL
  ['/hello.txt%00', BAD_REQUEST],
  ['/%00/hello.txt', BAD_REQUEST],
  ['/hello.txt%00.png', BAD_REQUEST],
  ['/sub%00/page.txt', BAD_REQUEST],
  ['/%00', BAD_REQUEST],
  ['/users/%00/', BAD_REQUEST],
  ['/%00/../hello.txt', BAD_REQUEST, whatwg(served(HELLO))],
  ['/hello%2500.txt', missing('ENOENT')],
  // malformed escapes
  ['/%', BAD_REQUEST],
  ['/%a', BAD_REQUEST],
  ['/%zz', BAD_REQUEST],
  ['/%%30', BAD_REQUEST],
  ['/%2', BAD_REQUEST],
  ['/hello.txt%', BAD_REQUEST],
  ['/%e2%98', BAD_REQUEST],
  ['/%ff', BAD_REQUEST],
  ['/%ed%a0%80', BAD_REQUEST],
  // very long paths
  [`/${`${'a'.repeat(99)}/`.repeat(100)}`, missing('ENAMETOOLONG'), { name: '10 KB path (100 segments of 99 chars)' }],
  [`/${'a'.repeat(300)}`, missing('ENAMETOOLONG'), { name: 'a 300-char segment' }],
  [`/${'a'.repeat(300)}/`, missing('ENAMETOOLONG'), { name: 'a 300-char segment with a trailing slash' }],
  [`/${'../'.repeat(3400)}secret.txt`, FORBIDDEN, { name: '10 KB of ../', ...whatwg(missing('ENOENT')) }],
  [`/${'%2e%2e/'.repeat(1400)}secret.txt`, FORBIDDEN, { name: '10 KB of %2e%2e/', ...whatwg(missing('ENOENT')) }],
  [`/${'./'.repeat(5000)}hello.txt`, served(HELLO), { name: '10 KB of ./ then hello.txt' }],
  [`/${'sub/../'.repeat(1400)}hello.txt`, served(HELLO), { name: '10 KB of sub/../ then hello.txt' }],
  // open redirects: `evil.example` is a directory under root, so these do redirect (the fetch door sees
  // `//evil.example/..` as `//`, the root with an empty segment, and serves its index)
  ['//evil.example', redirect('/evil.example/')],
  ['//evil.example/..', redirect('/evil.example/../'), whatwg(served('site index\n'))],
  ['///evil.example/..', redirect('/evil.example/../'), whatwg(served('site index\n'))],
  ['/.//evil.example/..', redirect('/.//evil.example/../'), whatwg(served('site index\n'))],
  ['//evil.example/%2e%2e', redirect('/evil.example/%2e%2e/'), whatwg(served('site index\n'))],
  ['//evil.example?x=1', redirect('/evil.example/?x=1')],
  // A fragment is kept in the Location by both doors (serve-static's behaviour); WHATWG parsing keeps it in
  // the URL too, so the fetch door has no reason to differ.
  ['//evil.example#frag', redirect('/evil.example/#frag')],
  ['/\\evil.example', BAD_REQUEST, ADAPTER_REFUSES],
  ['/\\/evil.example/..', BAD_REQUEST, ADAPTER_REFUSES],
  ['/%2fevil.example', BAD_REQUEST],
  ['/%2F%2Fevil.example', BAD_REQUEST],
  ['/%5cevil.example', BAD_REQUEST],
  ['/%5c%5cevil.example', BAD_REQUEST],
  ['http://evil.example/users', redirect('/users/'), { name: 'absolute-form target http://evil.example/users' }],
  ['http://evil.example//evil.example', redirect('/evil.example/'), { name: 'absolute-form target with // path' }],
  // markup in a redirect: Location percent-encoded, body escaped
  ['/users?<script>alert(1)</script>', redirect('/users/?%3Cscript%3Ealert(1)%3C/script%3E')],
  ['/users?"><svg/onload=alert(1)>', redirect('/users/?%22%3E%3Csvg/onload=alert(1)%3E')],
  ['/users?%22%3E%3Cimg%20src=x%3E', redirect('/users/?%22%3E%3Cimg%20src=x%3E')],
  ['/users#<script>', redirect('/users/#%3Cscript%3E')],
  // odd targets
  ['*', missing('ENOENT'), { name: 'asterisk-form target *', ...ADAPTER_REFUSES }],
  ['/hello.txt/', missing('ENOTDIR')],
  ['/hello.txt/x', missing('ENOTDIR')],
  ['/', served('site index\n', 'text/html; charset=utf-8')],
  ['/hello.txt', served(HELLO, 'text/plain; charset=utf-8')],
];

/** Run under each dotfiles mode × fallthrough. */
const DOTFILE_TABLE: readonly Row[] = [
  ['/.git/config', dotted(served('GIT CONFIG\n'))],
  ['/.git/', dotted(missing('ENOENT'))],
  ['/.git', dotted(redirect('/.git/'))],
  ['/%2egit/config', dotted(served('GIT CONFIG\n'))],
  ['/.git%2fconfig', BAD_REQUEST],
  ['/sub/.env', dotted(served('SUB ENV\n'))],
  ['/sub/%2Eenv', dotted(served('SUB ENV\n'))],
  ['/sub/./.env', dotted(served('SUB ENV\n'))],
  ['/sub/.env/', dotted(missing('ENOTDIR'))],
  ['/.well-known/x.txt', dotted(served('WELL KNOWN\n'))],
  ['/.hidden.txt', dotted(served('HIDDEN\n'))],
  ['/.nope', dotted(missing('ENOENT'))],
  ['/...', dotted(missing('ENOENT'))],
  ['/.git/../hello.txt', served(HELLO)],
  ['/.', redirect('/./'), whatwg(served('site index\n'))],
  ['/.%2e/.git/config', FORBIDDEN, whatwg(dotted(served('GIT CONFIG\n')))],
];

/** Run under each symlinks mode × fallthrough. */
const SYMLINK_TABLE: readonly Row[] = [
  ['/link-in.txt', innerLink(served(HELLO))],
  ['/link-in-dir/page.txt', innerLink(served('sub page\n'))],
  ['/link-in-dir', innerLink(redirect('/link-in-dir/'))],
  ['/link-self/hello.txt', innerLink(served(HELLO))],
  ['/link-up/site/hello.txt', innerLink(served(HELLO))],
  ['/link-out.txt', outerLink(served(OUTSIDE))],
  ['/link-abs.txt', outerLink(served(OUTSIDE))],
  ['/link-sibling.txt', outerLink(served(OUTSIDE))],
  ['/link-dir-out/secret.txt', outerLink(served(OUTSIDE))],
  ['/link-dir-out', outerLink(redirect('/link-dir-out/'))],
  ['/link-dir-out/', outerLink(served(OUTSIDE))],
  ['/link-up/outside/secret.txt', outerLink(served(OUTSIDE))],
  ['/link-up/site-private/secret.txt', outerLink(served(OUTSIDE))],
  ['/link-up/secret.txt', outerLink(served(OUTSIDE))],
  ['/link-dangling', missing('ENOENT')],
  ['/loop', missing('ELOOP')],
  ['/loop/', missing('ELOOP')],
  ['/loop-a', missing('ELOOP')],
  ['/loop/x.txt', missing('ELOOP')],
];

const METHOD_TABLE: readonly Row[] = [
  ['/hello.txt', served(HELLO), { method: 'GET' }],
  ['/hello.txt', () => ({ status: 200, body: '', headers: { 'content-length': '6' } }), { method: 'HEAD' }],
  ...(['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'MKCOL', 'PURGE', 'M-SEARCH', 'QUERY'] as const).map(
    (method): Row => ['/hello.txt', METHOD_REFUSED, { method }],
  ),
  ['*', METHOD_REFUSED, { method: 'OPTIONS', name: 'OPTIONS *', ...ADAPTER_REFUSES }],
  ['/../secret.txt', METHOD_REFUSED, { method: 'POST', name: 'POST /../secret.txt (the method gate comes first)' }],
  ['/%zz', METHOD_REFUSED, { method: 'DELETE', name: 'DELETE /%zz' }],
  // On the wire, Node's parser refuses a lowercase method itself: the file is never reached.
  ['/hello.txt', () => ({ status: 400, body: '' }), { method: 'get', name: 'get over the wire (refused by Node)' }],
];

/**
 * Methods Node's parser would never let through (it answers a lowercase or unknown method with its own 400
 * and swallows CONNECT), set by the application: on `req.method` for the Connect door (the `X-Test-Method`
 * header, which that test server copies there), on the `Request` it builds for the fetch door.
 */
const OVERRIDE_METHODS = ['get', 'Get', 'head', 'CONNECT', 'BREW', ''] as const;

const viaOverride = (method: string): Omit<Case, 'target' | 'expect'> => ({
  headers: { 'X-Test-Method': method },
  name: `${method || '(empty)'} (set on req.method)`,
});

const OVERRIDE_TABLE: readonly Row[] = OVERRIDE_METHODS.map((method): Row => ['/hello.txt', METHOD_REFUSED, viaOverride(method)]);

const BIG_RANGE_8KB = `bytes=${repeatParts('1-2', 2000)}`;

const RANGE_TABLE: readonly Row[] = [
  ['/hello.txt', served(HELLO), { ...range(`bytes=${repeatParts('0-0', 100)}`), name: 'bytes=0-0 ×100 (6 bytes)' }],
  ['/big.bin', served(BIG), { ...range(`bytes=${repeatParts('0-0', 100)}`), name: 'bytes=0-0 ×100 (4096 bytes)' }],
  ['/big.bin', served(BIG), { ...range(`bytes=${repeatParts('0-0', 33)}`), name: 'bytes=0-0 ×33 (4096 bytes)' }],
  ['/big.bin', served(BIG), { ...range(`bytes=${repeatParts('0-0', 32)}`), name: 'bytes=0-0 ×32 (4096 bytes): ignored' }],
  ['/big.bin', partial(BIG.subarray(0, 1), 'bytes 0-0/4096'), { ...range(`bytes=${repeatParts('0-0', 31)}`), name: 'bytes=0-0 ×31 (4096 bytes): combined' }],
  ['/hello.txt', served(HELLO), range('bytes=0-4,1-5')],
  ['/hello.txt', served(HELLO), range('bytes=0-3,3-5')],
  ['/big.bin', served(BIG), range('bytes=0-2000,1000-3000,2000-4000')],
  ['/hello.txt', partial('h', 'bytes 0-0/6'), range('bytes=0-0,0-0')],
  ['/hello.txt', partial('hell', 'bytes 0-3/6'), range('bytes=0-1,1-3')],
  ['/hello.txt', partial('\n', 'bytes 5-5/6'), range('bytes=-1')],
  ['/hello.txt', partial('he', 'bytes 0-1/6'), range('bytes=0-1,-0')],
  ['/hello.txt', partial(HELLO, 'bytes 0-5/6'), range(`bytes=0-${'9'.repeat(400)}`)],
  ['/hello.txt', partial('el', 'bytes 1-2/6'), range('bytes= 1-2')],
  ['/hello.txt', served(HELLO), range('bytes=--1')],
  ['/hello.txt', served(HELLO), range('bytes=1-2-3')],
  ['/hello.txt', served(HELLO), range('Bytes=0-1')],
  ['/hello.txt', served(HELLO), range('bytes=0-0,2-3')],
  ['/hello.txt', served(HELLO), { ...range(BIG_RANGE_8KB), name: 'an 8 KB Range header (2000 parts)' }],
  ['/hello.txt', served(HELLO), { headers: { Range: 'bytes=0-1', 'If-Range': 'garbage' } }],
  ...['bytes=99999-', 'bytes=-0', 'bytes=1-0', 'bytes=6-6'].map(
    (value): Row => [
      '/hello.txt',
      (_variant, door) => errorAnswer(door, 416, 'RangeNotSatisfiableError: Range Not Satisfiable', { 'content-range': 'bytes */6' }),
      range(value),
    ],
  ),
];

/** Entity tags for long If-None-Match / If-Match lists (short ones: Node caps a request head at 16 KB). */
const manyTags = (count: number, last?: string): string => {
  const tags = Array.from({ length: count }, (_, i) => `"${i.toString(36)}"`);
  if (last !== undefined) tags[count - 1] = last;
  return tags.join(',');
};

let helloTag = '';

const HEADER_TABLE: readonly Row[] = [
  ['/hello.txt', served(HELLO), { headers: { 'If-None-Match': manyTags(2000) }, name: 'If-None-Match: 2000 tags, none current' }],
  [
    '/hello.txt',
    () => ({ status: 304, body: '', headers: { 'content-length': null, etag: helloTag } }),
    { headers: () => ({ 'If-None-Match': manyTags(2000, helloTag) }), name: 'If-None-Match: 2000 tags, the last current' },
  ],
  ['/hello.txt', served(HELLO), { headers: { 'If-None-Match': ','.repeat(8000) }, name: 'If-None-Match: 8000 commas' }],
  ['/hello.txt', served(HELLO), { headers: { 'If-None-Match': ' '.repeat(8000) + 'x' }, name: 'If-None-Match: 8000 spaces' }],
  [
    '/hello.txt',
    (_variant, door) => errorAnswer(door, 412, 'PreconditionFailedError: Precondition Failed'),
    { headers: { 'If-Match': manyTags(2000) }, name: 'If-Match: 2000 tags, none current' },
  ],
  ['/hello.txt', served(HELLO), { headers: () => ({ 'If-Match': manyTags(2000, helloTag) }), name: 'If-Match: 2000 tags, the last current' }],
  ['/hello.txt', served(HELLO), { headers: { 'If-Modified-Since': 'not a date' } }],
  ['/hello.txt', served(HELLO), { headers: { 'If-Modified-Since': 'x'.repeat(8000) }, name: 'If-Modified-Since: 8000 chars of garbage' }],
  ['/hello.txt', served(HELLO), { headers: { 'If-Unmodified-Since': 'garbage' } }],
  ['/hello.txt', served(HELLO), { headers: { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } }],
];

// --- servers -----------------------------------------------------------------------------------------------

interface Running {
  readonly port: number;
  close(): Promise<void>;
}

const servers = new Map<string, Promise<Running>>();

/** The server for a door and a variant, started on first use. */
function server(door: Door, variant: Variant): Promise<Running> {
  const key = `${door.name} ${JSON.stringify(variant)}`;
  let found = servers.get(key);
  if (found === undefined) {
    found = door.serve(root, variant);
    servers.set(key, found);
  }
  return found;
}

/** The Connect door behind a server that lets the request choose `req.method` (see OVERRIDE_METHODS). */
function overrideServer(variant: Variant): Promise<Running> {
  const key = `override ${JSON.stringify(variant)}`;
  let found = servers.get(key);
  if (found === undefined) {
    const middleware = serveStatic(root, variant);
    const nexts: unknown[] = [];
    found = listen((req: IncomingMessage, res: ServerResponse) => {
      const override = req.headers['x-test-method'];
      if (typeof override === 'string') req.method = override;
      middleware(req, res, (err) => finalHandler(nexts, req, res, err));
    });
    servers.set(key, found);
  }
  return found;
}

beforeAll(() => {
  for (const dir of ['outside', 'site-private', 'site']) mkdirSync(join(base.path, dir));
  writeFileSync(join(base.path, 'secret.txt'), OUTSIDE);
  writeFileSync(join(base.path, 'outside', 'secret.txt'), OUTSIDE);
  writeFileSync(join(base.path, 'outside', 'index.html'), OUTSIDE);
  writeFileSync(join(base.path, 'site-private', 'secret.txt'), OUTSIDE);
  for (const [name, body] of Object.entries(FILES)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), body);
  }
  writeFileSync(join(root, 'big.bin'), BIG);
  for (const [name, target] of Object.entries(LINKS)) symlinkSync(target, join(root, name));
  helloTag = etag(statSync(join(root, 'hello.txt')));
});

afterAll(async () => {
  const started = await Promise.all(servers.values());
  await Promise.all(started.map((running) => running.close()));
  base.remove();
});

// --- checks ------------------------------------------------------------------------------------------------

const ORIGIN = 'http://site.test';

/** A Location we send must be a path on this origin, whatever the request was. */
function assertSameOriginLocation(location: string): void {
  expect(location.startsWith('/'), `Location ${location} starts with /`).toBe(true);
  expect(location.startsWith('//'), `Location ${location} starts with //`).toBe(false);
  expect(location.startsWith('/\\'), `Location ${location} starts with /\\`).toBe(false);
  expect(location, 'Location is percent-encoded').toMatch(/^[\x21-\x7e]+$/);
  expect(location).not.toMatch(/[<>"\\]/);
  expect(new URL(location, ORIGIN).origin).toBe(ORIGIN);
}

function assertResponse(response: RawResponse, expected: Expected, door: DoorName): void {
  const text = response.body.toString('latin1');
  expect(response.status, 'status').toBe(expected.status);
  if (expected.body instanceof RegExp) expect(text, 'body').toMatch(expected.body);
  else if (Buffer.isBuffer(expected.body)) expect(response.body.equals(expected.body), `body is the expected ${expected.body.length} bytes, got ${response.body.length}`).toBe(true);
  else expect(text, 'body').toBe(expected.body);
  for (const [name, value] of Object.entries(expected.headers ?? {})) {
    expect(response.headers[name], `header ${name}`).toBe(value ?? undefined);
  }

  // Invariants, whatever the case expects.
  expect(response.status, 'never a server error').toBeLessThan(500);
  const expectsOutside = !(expected.body instanceof RegExp) && expected.body.toString() === OUTSIDE;
  if (!expectsOutside) expect(text, 'nothing from outside root').not.toContain('OUTSIDE');
  const location = response.headers.location;
  if (location !== undefined) assertSameOriginLocation(location);
  if (response.status === 301) expect(text, 'redirect body is escaped').not.toMatch(/<(?!\/?(?:html|head|meta|title|body|pre)\b|!DOCTYPE)/i);
  // The fetch door writes its error pages for the client: no server path in them (the Connect door's
  // errors go to the application's handler, which this test's prints verbatim).
  if (door === 'fetch') expect(text, 'no server path').not.toContain(base.path);
}

function toCase([target, expect, init]: Row): Case {
  return { target, expect, ...init };
}

function caseName(testCase: Case): string {
  const method = testCase.method ?? 'GET';
  const name = testCase.name ?? testCase.target;
  const headers = typeof testCase.headers === 'object' && testCase.name === undefined ? testCase.headers : undefined;
  const shown = headers === undefined ? '' : ` ${Object.entries(headers).map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 40)}…` : v}`).join('; ')}`;
  return `${method} ${name}${shown}`;
}

function send(port: number, testCase: Case): Promise<RawResponse> {
  const headers = typeof testCase.headers === 'function' ? testCase.headers() : (testCase.headers ?? {});
  return rawRequest(port, testCase.target, { method: testCase.method ?? 'GET', headers });
}

/** Sends the case to the door's server for the variant and checks the door's expected answer. */
async function check(door: Door, testCase: Case, variant: Variant): Promise<void> {
  const { port } = await server(door, variant);
  const response = await send(port, testCase);
  const expected = door.name === 'fetch' && testCase.fetch !== undefined ? testCase.fetch(variant, 'fetch') : testCase.expect(variant, door.name);
  assertResponse(response, expected, door.name);
}

/** `[test name, case]` pairs for `it.each` (`%s` keeps long names whole, `$name` would truncate them). */
function table(rows: readonly Row[]): [name: string, testCase: Case][] {
  return rows.map((row) => {
    const testCase = toCase(row);
    return [caseName(testCase), testCase];
  });
}

const FALLTHROUGH = [true, false] as const;
const DOTFILES: readonly DotfilesMode[] = ['allow', 'deny', 'ignore'];
const SYMLINKS: readonly SymlinkPolicy[] = ['follow', 'within-root', 'deny'];

const DOTFILE_VARIANTS = DOTFILES.flatMap((dotfiles) => FALLTHROUGH.map((fallthrough) => ({ ...DEFAULT_VARIANT, dotfiles, fallthrough })));
const SYMLINK_VARIANTS = SYMLINKS.flatMap((symlinks) => FALLTHROUGH.map((fallthrough) => ({ ...DEFAULT_VARIANT, symlinks, fallthrough })));
const ALL_VARIANTS: readonly Variant[] = [...FALLTHROUGH.map((fallthrough) => ({ ...DEFAULT_VARIANT, fallthrough })), ...DOTFILE_VARIANTS, ...SYMLINK_VARIANTS];

describe('the table is as large as it claims', () => {
  it('has at least 60 distinct hostile cases', () => {
    const tables = [PATH_TABLE, DOTFILE_TABLE, SYMLINK_TABLE, METHOD_TABLE, OVERRIDE_TABLE, RANGE_TABLE, HEADER_TABLE];
    for (const rows of tables) expect(new Set(table(rows).map(([name]) => name)).size).toBe(rows.length);
    const all = tables.flat();
    expect(all.length).toBeGreaterThanOrEqual(60);
    expect(PATH_TABLE.length).toBeGreaterThanOrEqual(60);
  });
});

describeDoors('hostile requests', (door) => {
  let descriptorsBefore = 0;
  beforeAll(async () => {
    // Every server this door's tables use is listening before the count, so the count at the end compares
    // like with like: what is left is what the requests left behind.
    await Promise.all(ALL_VARIANTS.map((variant) => server(door, variant)));
    descriptorsBefore = await openDescriptorCount();
  });

  describe.each(FALLTHROUGH)('paths (fallthrough: %s)', (fallthrough) => {
    const variant = { ...DEFAULT_VARIANT, fallthrough };
    it.each(table(PATH_TABLE))('%s', async (_name, testCase) => {
      await check(door, testCase, variant);
    });
  });

  describe.each(DOTFILE_VARIANTS)('dot paths (dotfiles: $dotfiles, fallthrough: $fallthrough)', (variant) => {
    it.each(table(DOTFILE_TABLE))('%s', async (_name, testCase) => {
      await check(door, testCase, variant);
    });
  });

  describe.each(SYMLINK_VARIANTS)('symlink escapes and loops (symlinks: $symlinks, fallthrough: $fallthrough)', (variant) => {
    it.each(table(SYMLINK_TABLE))('%s', async (_name, testCase) => {
      await check(door, testCase, variant);
    });
  });

  describe.each(FALLTHROUGH)('methods (fallthrough: %s)', (fallthrough) => {
    const variant = { ...DEFAULT_VARIANT, fallthrough };
    it.each(table(METHOD_TABLE))('%s', async (_name, testCase) => {
      await check(door, testCase, variant);
    });
  });

  describe.each(FALLTHROUGH)('Range abuse (fallthrough: %s)', (fallthrough) => {
    const variant = { ...DEFAULT_VARIANT, fallthrough };
    it.each(table(RANGE_TABLE))('%s', async (_name, testCase) => {
      await check(door, testCase, variant);
    });
  });

  describe.each(FALLTHROUGH)('header abuse (fallthrough: %s)', (fallthrough) => {
    const variant = { ...DEFAULT_VARIANT, fallthrough };
    it.each(table(HEADER_TABLE))('%s', async (_name, testCase) => {
      const started = performance.now();
      await check(door, testCase, variant);
      // A long list is scanned in linear time: answered promptly, not after a quadratic crawl.
      expect(performance.now() - started).toBeLessThan(1000);
    });
  });

  // Runs after every table above (vitest keeps the order of definition).
  it('leaves no descriptor open once all of the above have been answered', async () => {
    expect(await settledDescriptorCount(descriptorsBefore)).toBeLessThanOrEqual(descriptorsBefore);
  });
});

// `req.method` is the Connect door's own input, which an application (method-override) may rewrite.
describe.each(FALLTHROUGH)('methods set on req.method by the application (Connect door, fallthrough: %s)', (fallthrough) => {
  const variant = { ...DEFAULT_VARIANT, fallthrough };
  it.each(table(OVERRIDE_TABLE))('%s', async (_name, testCase) => {
    const { port } = await overrideServer(variant);
    assertResponse(await send(port, testCase), testCase.expect(variant, 'node'), 'node');
  });
});

// The fetch door's counterpart: the method of a `Request` an application builds. The Fetch standard
// upper-cases `get`, `Get` and `head` (so those are served), and the constructor itself throws for
// CONNECT and for an empty method, so the door can never be handed them.
describe.each(FALLTHROUGH)('methods on a Request built by the application (fetch door, fallthrough: %s)', (fallthrough) => {
  let handler: ReturnType<typeof serveStaticFetch>;
  beforeAll(() => {
    handler = serveStaticFetch(root, { ...DEFAULT_VARIANT, fallthrough });
  });
  const url = `${ORIGIN}/hello.txt`;

  it.each(['get', 'Get'])('%s arrives as GET and is served', async (method) => {
    const request = new Request(url, { method });
    expect(request.method).toBe('GET');
    const response = await handler(request);
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-length')).toBe('6');
    expect(await response?.text()).toBe(HELLO);
  });

  it('head arrives as HEAD: the headers, no body', async () => {
    const request = new Request(url, { method: 'head' });
    expect(request.method).toBe('HEAD');
    const response = await handler(request);
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-length')).toBe('6');
    expect(response?.body).toBeNull();
  });

  it.each(['CONNECT', ''])('%j cannot be put on a Request', (method) => {
    expect(() => new Request(url, { method })).toThrow(TypeError);
  });

  it('BREW is refused like any other method', async () => {
    const response = await handler(new Request(url, { method: 'BREW' }));
    if (fallthrough) {
      expect(response).toBeUndefined();
    } else {
      expect(response?.status).toBe(405);
      expect(response?.headers.get('allow')).toBe('GET, HEAD');
      expect(response?.headers.get('content-length')).toBe('0');
      expect(response?.body).toBeNull();
    }
  });
});
