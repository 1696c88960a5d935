/**
 * Hostile requests, sent over a raw socket so the request target reaches the server byte for byte (`fetch`
 * would normalise `/../x`, `%2e%2e` and `\`). Every case asserts the status and the body (and the headers it
 * is about) under each option variant where the answer depends on it: `fallthrough` true/false everywhere,
 * each `dotfiles` mode for dot paths, each `symlinks` mode for links.
 *
 * On top of each case's own expectation, every answer is checked against invariants that must hold for any
 * input: no 5xx, nothing from outside root unless the case expects it (`symlinks: 'follow'` reaching out
 * through a link is serve-static's behaviour), and a `Location`, if any, that is a path on this origin.
 */
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import escapeHtml from 'escape-html';
import etag from 'etag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type DotfilesMode, type SymlinkPolicy } from '../src/index.js';
import { finalHandler, listen, rawRequest, tempDir, type RawResponse } from './helpers.js';

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

type Expect = (variant: Variant) => Expected;
type Headers = Record<string, string> | (() => Record<string, string>);

interface Case {
  readonly target: string;
  readonly expect: Expect;
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

/** Refused before a file was chosen: `next()` under fallthrough, else `next(err)` with this status. */
function refused(status: 400 | 403 | 404, strictBody: string | RegExp = ERROR_BODIES[status]): Expect {
  return (variant) => (variant.fallthrough ? FELL_THROUGH : { status, body: strictBody, headers: { location: null } });
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

/** A non-GET/HEAD method: `next()` under fallthrough, else 405 with `Allow`. */
const METHOD_REFUSED: Expect = (variant) =>
  variant.fallthrough
    ? FELL_THROUGH
    : { status: 405, body: '', headers: { allow: 'GET, HEAD', 'content-length': '0' } };

function byDotfiles(modes: Record<DotfilesMode, Expect>): Expect {
  return (variant) => modes[variant.dotfiles](variant);
}

/** What a dot path gets: served (or whatever `allow` says), 403 under deny, a 404 miss under ignore. */
function dotted(allow: Expect): Expect {
  return byDotfiles({ allow, deny: FORBIDDEN, ignore: NOT_FOUND });
}

function bySymlinks(modes: Record<SymlinkPolicy, Expect>): Expect {
  return (variant) => modes[variant.symlinks](variant);
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
  // traversal
  ['/../secret.txt', FORBIDDEN],
  ['/../../../../etc/passwd', FORBIDDEN],
  ['/..', FORBIDDEN],
  ['/..%2fsecret.txt', BAD_REQUEST],
  ['/..%2Fsecret.txt', BAD_REQUEST],
  ['/%2e%2e/secret.txt', FORBIDDEN],
  ['/%2E%2E/secret.txt', FORBIDDEN],
  ['/%2e%2e', FORBIDDEN],
  ['/%2e%2e%2fsecret.txt', BAD_REQUEST],
  ['/..%5csecret.txt', BAD_REQUEST],
  ['/..%5Csecret.txt', BAD_REQUEST],
  ['/..\\secret.txt', BAD_REQUEST],
  ['/sub\\..\\..\\secret.txt', BAD_REQUEST],
  ['/.%2e/secret.txt', FORBIDDEN],
  ['/%2e./secret.txt', FORBIDDEN],
  ['/sub/../../secret.txt', FORBIDDEN],
  ['/sub/%2e%2e/%2e%2e/secret.txt', FORBIDDEN],
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
  ['/sub/..', redirect('/sub/../')],
  ['/hello.txt/..', redirect('/hello.txt/../')],
  // sibling-prefix root: <base>/site-private must never be reachable from root <base>/site
  ['/../site-private/secret.txt', FORBIDDEN],
  ['/../site-private/', FORBIDDEN],
  ['/%2e%2e/site-private/secret.txt', FORBIDDEN],
  ['/.%2e/site-private/secret.txt', FORBIDDEN],
  ['/..%2fsite-private%2fsecret.txt', BAD_REQUEST],
  ['/sub/../../site-private/secret.txt', FORBIDDEN],
  ['/%2e%2e%5csite-private%5csecret.txt', BAD_REQUEST],
  ['/..%252fsite-private/secret.txt', NOT_FOUND],
  ['/sub/%252e%252e%252f..%252fsecret.txt', missing('ENOENT')],
  ['/../site/hello.txt', FORBIDDEN],
  ['/../site-private%00/secret.txt', BAD_REQUEST],
  // NUL
  ['/hello.txt%00', BAD_REQUEST],
  ['/%00/hello.txt', BAD_REQUEST],
  ['/hello.txt%00.png', BAD_REQUEST],
  ['/sub%00/page.txt', BAD_REQUEST],
  ['/%00', BAD_REQUEST],
  ['/users/%00/', BAD_REQUEST],
  ['/%00/../hello.txt', BAD_REQUEST],
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
  [`/${'../'.repeat(3400)}secret.txt`, FORBIDDEN, { name: '10 KB of ../' }],
  [`/${'%2e%2e/'.repeat(1400)}secret.txt`, FORBIDDEN, { name: '10 KB of %2e%2e/' }],
  [`/${'./'.repeat(5000)}hello.txt`, served(HELLO), { name: '10 KB of ./ then hello.txt' }],
  [`/${'sub/../'.repeat(1400)}hello.txt`, served(HELLO), { name: '10 KB of sub/../ then hello.txt' }],
  // open redirects: `evil.example` is a directory under root, so these do redirect
  ['//evil.example', redirect('/evil.example/')],
  ['//evil.example/..', redirect('/evil.example/../')],
  ['///evil.example/..', redirect('/evil.example/../')],
  ['/.//evil.example/..', redirect('/.//evil.example/../')],
  ['//evil.example/%2e%2e', redirect('/evil.example/%2e%2e/')],
  ['//evil.example?x=1', redirect('/evil.example/?x=1')],
  ['//evil.example#frag', redirect('/evil.example/#frag')],
  ['/\\evil.example', BAD_REQUEST],
  ['/\\/evil.example/..', BAD_REQUEST],
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
  ['*', missing('ENOENT'), { name: 'asterisk-form target *' }],
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
  ['/.', redirect('/./')],
  ['/.%2e/.git/config', FORBIDDEN],
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

/**
 * The method arrives through the `X-Test-Method` header, which the test server copies to `req.method`: Node's
 * parser answers a lowercase or unknown method with its own 400 and swallows CONNECT, so the middleware could
 * not otherwise be shown them. The wire forms are asserted as well.
 */
const viaOverride = (method: string): Omit<Case, 'target' | 'expect'> => ({
  headers: { 'X-Test-Method': method },
  name: `${method || '(empty)'} (set on req.method)`,
});

const METHOD_TABLE: readonly Row[] = [
  ['/hello.txt', served(HELLO), { method: 'GET' }],
  ['/hello.txt', () => ({ status: 200, body: '', headers: { 'content-length': '6' } }), { method: 'HEAD' }],
  ...(['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'MKCOL', 'PURGE', 'M-SEARCH', 'QUERY'] as const).map(
    (method): Row => ['/hello.txt', METHOD_REFUSED, { method }],
  ),
  ['*', METHOD_REFUSED, { method: 'OPTIONS', name: 'OPTIONS *' }],
  ['/../secret.txt', METHOD_REFUSED, { method: 'POST', name: 'POST /../secret.txt (the method gate comes first)' }],
  ['/%zz', METHOD_REFUSED, { method: 'DELETE', name: 'DELETE /%zz' }],
  ...['get', 'Get', 'head', 'CONNECT', 'BREW', ''].map((method): Row => ['/hello.txt', METHOD_REFUSED, viaOverride(method)]),
  // On the wire, Node's parser refuses a lowercase method itself: the file is never reached.
  ['/hello.txt', () => ({ status: 400, body: '' }), { method: 'get', name: 'get over the wire (refused by Node)' }],
];

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
      () => ({
        status: 416,
        body: 'RangeNotSatisfiableError: Range Not Satisfiable',
        headers: { 'content-range': 'bytes */6' },
      }),
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
    () => ({ status: 412, body: 'PreconditionFailedError: Precondition Failed' }),
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

/** The server for a variant, started on first use. */
function server(variant: Variant): Promise<Running> {
  const key = JSON.stringify(variant);
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

function assertResponse(response: RawResponse, expected: Expected): void {
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

async function run(testCase: Case, variant: Variant): Promise<RawResponse> {
  const { port } = await server(variant);
  const headers = typeof testCase.headers === 'function' ? testCase.headers() : (testCase.headers ?? {});
  return rawRequest(port, testCase.target, { method: testCase.method ?? 'GET', headers });
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

describe('the table is as large as it claims', () => {
  it('has at least 60 distinct hostile cases', () => {
    const tables = [PATH_TABLE, DOTFILE_TABLE, SYMLINK_TABLE, METHOD_TABLE, RANGE_TABLE, HEADER_TABLE];
    for (const rows of tables) expect(new Set(table(rows).map(([name]) => name)).size).toBe(rows.length);
    const all = tables.flat();
    expect(all.length).toBeGreaterThanOrEqual(60);
    expect(PATH_TABLE.length).toBeGreaterThanOrEqual(60);
  });
});

describe.each(FALLTHROUGH)('paths (fallthrough: %s)', (fallthrough) => {
  const variant = { ...DEFAULT_VARIANT, fallthrough };
  it.each(table(PATH_TABLE))('%s', async (_name, testCase) => {
    assertResponse(await run(testCase, variant), testCase.expect(variant));
  });
});

describe.each(DOTFILES.flatMap((dotfiles) => FALLTHROUGH.map((fallthrough) => ({ dotfiles, fallthrough }))))(
  'dot paths (dotfiles: $dotfiles, fallthrough: $fallthrough)',
  ({ dotfiles, fallthrough }) => {
    const variant = { ...DEFAULT_VARIANT, dotfiles, fallthrough };
    it.each(table(DOTFILE_TABLE))('%s', async (_name, testCase) => {
      assertResponse(await run(testCase, variant), testCase.expect(variant));
    });
  },
);

describe.each(SYMLINKS.flatMap((symlinks) => FALLTHROUGH.map((fallthrough) => ({ symlinks, fallthrough }))))(
  'symlink escapes and loops (symlinks: $symlinks, fallthrough: $fallthrough)',
  ({ symlinks, fallthrough }) => {
    const variant = { ...DEFAULT_VARIANT, symlinks, fallthrough };
    it.each(table(SYMLINK_TABLE))('%s', async (_name, testCase) => {
      assertResponse(await run(testCase, variant), testCase.expect(variant));
    });
  },
);

describe.each(FALLTHROUGH)('methods (fallthrough: %s)', (fallthrough) => {
  const variant = { ...DEFAULT_VARIANT, fallthrough };
  it.each(table(METHOD_TABLE))('%s', async (_name, testCase) => {
    assertResponse(await run(testCase, variant), testCase.expect(variant));
  });
});

describe.each(FALLTHROUGH)('Range abuse (fallthrough: %s)', (fallthrough) => {
  const variant = { ...DEFAULT_VARIANT, fallthrough };
  it.each(table(RANGE_TABLE))('%s', async (_name, testCase) => {
    assertResponse(await run(testCase, variant), testCase.expect(variant));
  });
});

describe.each(FALLTHROUGH)('header abuse (fallthrough: %s)', (fallthrough) => {
  const variant = { ...DEFAULT_VARIANT, fallthrough };
  it.each(table(HEADER_TABLE))('%s', async (_name, testCase) => {
    const started = performance.now();
    const response = await run(testCase, variant);
    // A long list is scanned in linear time: answered promptly, not after a quadratic crawl.
    expect(performance.now() - started).toBeLessThan(1000);
    assertResponse(response, testCase.expect(variant));
  });
});
