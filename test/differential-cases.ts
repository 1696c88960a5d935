import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServeStaticOptions } from '../src/index.js';

/** A named option set, passed unchanged to serve-static and to ours. */
export interface OptionSet {
  readonly name: string;
  readonly options: ServeStaticOptions;
}

/** The response headers compared between the two implementations. */
export const COMPARED_HEADERS = [
  'content-type',
  'content-length',
  'etag',
  'last-modified',
  'cache-control',
  'accept-ranges',
  'content-range',
  'location',
  'content-security-policy',
  'x-content-type-options',
  'allow',
  // set by the `setHeaders` option set below, to compare the path and stat the hook receives
  'x-set-headers',
] as const;

export const OPTION_SETS: readonly OptionSet[] = [
  { name: 'defaults', options: {} },
  { name: 'dotfiles allow', options: { dotfiles: 'allow' } },
  { name: 'dotfiles deny', options: { dotfiles: 'deny' } },
  { name: 'dotfiles ignore', options: { dotfiles: 'ignore' } },
  { name: "extensions ['html']", options: { extensions: ['html'] } },
  { name: "extensions ['txt','html']", options: { extensions: ['txt', 'html'] } },
  { name: 'index false', options: { index: false } },
  { name: "index ['index.htm','index.html']", options: { index: ['index.htm', 'index.html'] } },
  { name: "index 'about.html'", options: { index: 'about.html' } },
  { name: 'redirect false', options: { redirect: false } },
  { name: 'fallthrough false', options: { fallthrough: false } },
  { name: "maxAge '1d'", options: { maxAge: '1d' } },
  { name: 'maxAge 5000', options: { maxAge: 5000 } },
  { name: 'maxAge Infinity', options: { maxAge: Infinity } },
  { name: 'immutable true', options: { immutable: true } },
  { name: 'cacheControl false', options: { cacheControl: false } },
  { name: 'etag false', options: { etag: false } },
  { name: 'lastModified false', options: { lastModified: false } },
  { name: 'acceptRanges false', options: { acceptRanges: false } },
  // Combinations where fallthrough:false turns every miss into a visible next(err).
  { name: 'fallthrough false + dotfiles deny', options: { fallthrough: false, dotfiles: 'deny' } },
  { name: "fallthrough false + extensions ['txt','html']", options: { fallthrough: false, extensions: ['txt', 'html'] } },
  { name: 'fallthrough false + index false', options: { fallthrough: false, index: false } },
  { name: 'fallthrough false + redirect false', options: { fallthrough: false, redirect: false } },
  { name: "maxage '2h' + immutable", options: { maxage: '2h', immutable: true } },
  {
    name: 'setHeaders',
    options: {
      setHeaders: (res, path, stat) => {
        res.setHeader('X-Set-Headers', `${encodeURIComponent(path)} ${stat.size}`);
        if (path.endsWith('.txt')) {
          // headers the hook sets win over the defaults, and its ETag is the one conditionals compare
          res.setHeader('Cache-Control', 'no-store');
          res.setHeader('ETag', '"custom"');
          res.setHeader('Content-Type', 'text/x-custom');
        }
      },
    },
  },
];

/**
 * Deliberate difference (README, "Where we deliberately differ"): we refuse with 400 (`next()` under
 * fallthrough) a pathname holding an encoded slash (`%2F`/`%2f`: a router sees one segment, the file system
 * two) or a backslash, raw or encoded (`%5C`: a separator to browsers and Windows), where serve-static decodes
 * them and may redirect or serve. Targets this rule refuses are kept out of the matrix and asserted, both
 * answers, in `deliberate differences`. (The Windows-only refusals, `:` and device names, cannot arise: this
 * suite needs POSIX, for mkfifo and Unix sockets.) Only the path counts: a query may hold anything.
 */
export function refusedByDesign(target: string): boolean {
  const end = target.search(/[?#]/);
  const pathname = end === -1 ? target : target.slice(0, end);
  return /%2f|%5c|\\/i.test(pathname);
}

/** Request targets against the committed `fixtures/` tree, sent byte for byte over a raw socket. */
const ALL_FIXTURE_PATHS: readonly string[] = [
  // files of various types
  '/todo.txt',
  '/index.html',
  '/about.html',
  '/style.css',
  '/app.js',
  '/data.json',
  '/logo.png',
  '/binary.bin',
  '/empty.txt',
  '/README',
  '/thing.unknownext',
  '/nums.txt',
  '/users/tobi.txt',
  '/pets/loki.txt',
  '/docs/guide.html',
  '/todo.txt?download=1',
  // index and directories
  '/',
  '/?x=1',
  '/users',
  '/users/',
  '/users?x=1',
  '/users/?x=1',
  '/users?a=b&c=%zz',
  '/docs',
  '/docs/',
  '/pets',
  '/pets/',
  '/sub',
  '/sub/',
  '/users%2f',
  '/users%2ftobi.txt',
  '/%2fusers',
  '/users/.',
  '/users/..',
  // a fragment makes parseurl fall back to url.parse
  '/users#frag',
  '/users?x=1#frag',
  '/todo.txt#frag',
  // mount-like double slashes
  '//users',
  '//users/',
  '///users',
  '//users?x=1',
  '//todo.txt',
  '/users//tobi.txt',
  // missing, and files with a trailing slash
  '/nope.txt',
  '/nope',
  '/nope/',
  '/users/nope.txt',
  '/todo.txt/',
  '/todo.txt/x',
  '/todo.txt%2f',
  '/users/tobi.txt/',
  // dotfiles and dot-directories
  '/.hidden',
  '/.private',
  '/.private/',
  '/.private/secret.txt',
  '/sub/.config/token.txt',
  '/sub/.config/',
  '/sub/.config',
  '/.nope',
  '/./todo.txt',
  '/sub/./visible.txt',
  '/sub/visible.txt',
  '/.',
  '/%2e',
  '/%2ehidden',
  // traversal
  '/..',
  '/../x',
  '/../fixtures/todo.txt',
  '/../package.json',
  '/%2e%2e/',
  '/%2e%2e/package.json',
  '/%2e%2e%2fpackage.json',
  '/users/../todo.txt',
  '/users/%2e%2e/todo.txt',
  '/users/../../package.json',
  '/..%5cpackage.json',
  '/%2e%2e%5ctodo.txt',
  '/users/..%5c..%5cpackage.json',
  '/%252e%252e/package.json',
  // encoded names
  '/with%20space.txt',
  '/percent%25.txt',
  '/percent%.txt',
  '/snow%20%E2%98%83',
  '/snow%20%E2%98%83/',
  '/snow%20%E2%98%83?q=%E2%98%83',
  '/snow%20%E2%98%83/index.html',
  '/%E2%98%83',
  '/todo%2etxt',
  '/%74odo.txt',
  // malformed percent and NUL
  '/%',
  '/%zz',
  '/%E2%98',
  '/todo.txt%00',
  '/%00',
  '/users/%00/',
  // ENAMETOOLONG
  `/${'a'.repeat(300)}`,
  `/${'a'.repeat(300)}/`,
  // extension fallback
  '/about',
  '/about/',
  '/docs/guide',
  '/docs/guide/',
  '/docs/guide.',
  '/docs/about',
  '/users/tobi',
  '/index',
  '/todo',
  '/README',
];

/** The matrix's fixture targets: those the encoded-slash/backslash rule refuses are asserted on their own. */
export const FIXTURE_PATHS: readonly string[] = ALL_FIXTURE_PATHS.filter((target) => !refusedByDesign(target));
/** Fixture targets we refuse by design (see {@link refusedByDesign}); each is in `deliberate differences`. */
export const REFUSED_FIXTURE_PATHS: readonly string[] = ALL_FIXTURE_PATHS.filter(refusedByDesign);

/**
 * The temporary tree built in `beforeAll`: names that the committed fixtures cannot hold portably.
 * Keys are paths below the root; a string value is file content, `null` a directory, `{ link }` a symlink.
 */
export const TEMP_TREE: Readonly<Record<string, string | null | { link: string }>> = {
  'odd <&\'"> dir': null,
  'odd <&\'"> dir/index.html': '<p>odd</p>\n',
  'q?dir': null,
  'q?dir/index.html': 'question\n',
  'h#dir': null,
  'h#dir/index.html': 'hash\n',
  'pct%41': null,
  'pct%41/index.html': 'literal percent\n',
  'dir.with.dots': null,
  'dir.with.dots/index.html': 'dots\n',
  'both.html': 'both file\n',
  both: null,
  'both/index.html': 'both dir\n',
  noext: 'no extension\n',
  'noext.html': 'noext html\n',
  'dirext.html': null,
  'indexdir': null,
  'indexdir/index.html': null,
  'indexhtm': null,
  'indexhtm/index.htm': 'htm index\n',
  'indexhtm/index.html': 'html index\n',
  'onlyhtm': null,
  'onlyhtm/index.htm': 'only htm\n',
  emptydir: null,
  'deep/a/b': null,
  'deep/a/b/c.txt': 'deep\n',
  'deep/a/index.html': 'deep index\n',
  'todo.txt': 'temp todo\n',
  'UPPER.TXT': 'upper\n',
  'archive.tar.gz': 'not really gzip\n',
  'page.htm': '<p>htm</p>\n',
  'image.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
  'data.xml': '<a/>\n',
  'notes.md': '# notes\n',
  'font.woff2': 'wOF2',
  'trailing.': 'trailing dot\n',
  '.well-known': null,
  '.well-known/security.txt': 'Contact: x\n',
  'link-to-todo.txt': { link: 'todo.txt' },
  'link-dir': { link: 'deep' },
  dangling: { link: 'does-not-exist' },
};

const ALL_TEMP_PATHS: readonly string[] = [
  "/odd%20%3C%26'%22%3E%20dir",
  "/odd%20%3C%26'%22%3E%20dir/",
  "/odd%20%3C%26'%22%3E%20dir?x=%3C",
  '/q%3Fdir',
  '/q%3Fdir/',
  '/q%3Fdir?q=1',
  '/h%23dir',
  '/h%23dir/',
  '/pct%2541',
  '/pct%2541/',
  '/pct%41',
  '/dir.with.dots',
  '/dir.with.dots/',
  '/both',
  '/both/',
  '/both.html',
  '/noext',
  '/noext/',
  '/dirext',
  '/dirext.html',
  '/indexdir/',
  '/indexhtm/',
  '/onlyhtm/',
  '/emptydir',
  '/emptydir/',
  '/deep/a/b/c.txt',
  '/deep/a',
  '/deep/a/',
  '/deep/a/b',
  '/deep/a/b/',
  '//deep//a/',
  '/todo.txt',
  '/UPPER.TXT',
  '/archive.tar.gz',
  '/page.htm',
  '/image.svg',
  '/data.xml',
  '/notes.md',
  '/font.woff2',
  '/trailing.',
  '/.well-known/security.txt',
  '/.well-known',
  '/.well-known/',
  '/link-to-todo.txt',
  '/link-dir',
  '/link-dir/',
  '/link-dir/a/b/c.txt',
  '/dangling',
  '/dangling/',
];

/** The matrix's temporary-tree targets, by the same rule as {@link FIXTURE_PATHS} (none is refused today). */
export const TEMP_PATHS: readonly string[] = ALL_TEMP_PATHS.filter((target) => !refusedByDesign(target));

/** A readable test-name form of a request target (long names are abbreviated). */
export function label(target: string): string {
  return target.replace(/a{20,}/g, (run) => `a…(${run.length})`);
}

/** Builds {@link TEMP_TREE} under `root`. */
export function buildTempTree(root: string): void {
  for (const [name, entry] of Object.entries(TEMP_TREE)) {
    const path = join(root, name);
    if (entry === null) mkdirSync(path, { recursive: true });
    else if (typeof entry === 'string') writeFileSync(path, entry);
    else symlinkSync(entry.link, path);
  }
}

/** Validators of the file a header case is aimed at, to build matching and non-matching conditions. */
export interface FileMeta {
  readonly etag: string;
  readonly mtime: Date;
}

export interface HeaderCase {
  readonly name: string;
  readonly headers: (meta: FileMeta) => Record<string, string>;
}

const DAY = 24 * 60 * 60 * 1000;
const date = (mtime: Date, offset: number): string => new Date(mtime.getTime() + offset).toUTCString();

export const HEADER_CASES: readonly HeaderCase[] = [
  { name: 'no headers', headers: () => ({}) },
  // If-None-Match
  { name: 'If-None-Match current', headers: (m) => ({ 'If-None-Match': m.etag }) },
  { name: 'If-None-Match current without W/', headers: (m) => ({ 'If-None-Match': m.etag.replace(/^W\//, '') }) },
  { name: 'If-None-Match other', headers: () => ({ 'If-None-Match': 'W/"0-nope"' }) },
  { name: 'If-None-Match "custom" (the setHeaders ETag)', headers: () => ({ 'If-None-Match': '"custom"' }) },
  { name: 'If-None-Match *', headers: () => ({ 'If-None-Match': '*' }) },
  { name: 'If-None-Match list with current', headers: (m) => ({ 'If-None-Match': `"a", ${m.etag} ,W/"b"` }) },
  { name: 'If-None-Match list without current', headers: () => ({ 'If-None-Match': '"a", W/"b"' }) },
  // If-Modified-Since
  { name: 'If-Modified-Since mtime', headers: (m) => ({ 'If-Modified-Since': m.mtime.toUTCString() }) },
  { name: 'If-Modified-Since a day earlier', headers: (m) => ({ 'If-Modified-Since': date(m.mtime, -DAY) }) },
  { name: 'If-Modified-Since a day later', headers: (m) => ({ 'If-Modified-Since': date(m.mtime, DAY) }) },
  { name: 'If-Modified-Since garbage', headers: () => ({ 'If-Modified-Since': 'not a date' }) },
  {
    name: 'If-None-Match other + If-Modified-Since mtime',
    headers: (m) => ({ 'If-None-Match': '"nope"', 'If-Modified-Since': m.mtime.toUTCString() }),
  },
  {
    name: 'Cache-Control no-cache + If-None-Match current',
    headers: (m) => ({ 'Cache-Control': 'no-cache', 'If-None-Match': m.etag }),
  },
  {
    name: 'Cache-Control no-cache + If-Modified-Since mtime',
    headers: (m) => ({ 'Cache-Control': 'no-cache', 'If-Modified-Since': m.mtime.toUTCString() }),
  },
  // If-Match / If-Unmodified-Since
  { name: 'If-Match current', headers: (m) => ({ 'If-Match': m.etag }) },
  { name: 'If-Match current without W/', headers: (m) => ({ 'If-Match': m.etag.replace(/^W\//, '') }) },
  { name: 'If-Match other', headers: () => ({ 'If-Match': '"nope"' }) },
  { name: 'If-Match *', headers: () => ({ 'If-Match': '*' }) },
  { name: 'If-Match list with current', headers: (m) => ({ 'If-Match': `"a",${m.etag}` }) },
  { name: 'If-Unmodified-Since a day earlier', headers: (m) => ({ 'If-Unmodified-Since': date(m.mtime, -DAY) }) },
  { name: 'If-Unmodified-Since mtime', headers: (m) => ({ 'If-Unmodified-Since': m.mtime.toUTCString() }) },
  { name: 'If-Unmodified-Since a day later', headers: (m) => ({ 'If-Unmodified-Since': date(m.mtime, DAY) }) },
  { name: 'If-Unmodified-Since garbage', headers: () => ({ 'If-Unmodified-Since': 'garbage' }) },
  {
    name: 'If-Match current + If-Unmodified-Since a day earlier',
    headers: (m) => ({ 'If-Match': m.etag, 'If-Unmodified-Since': date(m.mtime, -DAY) }),
  },
  {
    name: 'If-Match other + If-None-Match current',
    headers: (m) => ({ 'If-Match': '"nope"', 'If-None-Match': m.etag }),
  },
  // Range. Deliberately different, so not here: a Range of 32 or more parts, or whose parts add up to more
  // than the file (Go's net/http rule), is ignored by us (200) where serve-static combines it into one 206.
  // `bytes=0-1,1-3` (5 bytes of parts) stays within every non-empty target; the rule's cases are asserted in
  // `deliberate differences`.
  { name: 'Range bytes=0-4', headers: () => ({ Range: 'bytes=0-4' }) },
  { name: 'Range bytes=-3', headers: () => ({ Range: 'bytes=-3' }) },
  { name: 'Range bytes=5-', headers: () => ({ Range: 'bytes=5-' }) },
  { name: 'Range bytes=0-0,2-3 (multi)', headers: () => ({ Range: 'bytes=0-0,2-3' }) },
  { name: 'Range bytes=0-1,1-3 (overlap)', headers: () => ({ Range: 'bytes=0-1,1-3' }) },
  { name: 'Range bytes=100-200', headers: () => ({ Range: 'bytes=100-200' }) },
  { name: 'Range bytes=0-999999', headers: () => ({ Range: 'bytes=0-999999' }) },
  { name: 'Range bytes=x-y', headers: () => ({ Range: 'bytes=x-y' }) },
  { name: 'Range bytes=5-2', headers: () => ({ Range: 'bytes=5-2' }) },
  { name: 'Range items=0-1', headers: () => ({ Range: 'items=0-1' }) },
  { name: 'Range bytes=0-4 + If-Range current ETag', headers: (m) => ({ Range: 'bytes=0-4', 'If-Range': m.etag }) },
  { name: 'Range bytes=0-4 + If-Range other ETag', headers: () => ({ Range: 'bytes=0-4', 'If-Range': '"nope"' }) },
  {
    name: 'Range bytes=0-4 + If-Range mtime',
    headers: (m) => ({ Range: 'bytes=0-4', 'If-Range': m.mtime.toUTCString() }),
  },
  {
    name: 'Range bytes=0-4 + If-Range a day earlier',
    headers: (m) => ({ Range: 'bytes=0-4', 'If-Range': date(m.mtime, -DAY) }),
  },
  { name: 'Range bytes=0-4 + If-Range "custom"', headers: () => ({ Range: 'bytes=0-4', 'If-Range': '"custom"' }) },
  { name: 'Range bytes=0-4 + If-Range garbage', headers: () => ({ Range: 'bytes=0-4', 'If-Range': 'garbage' }) },
  {
    name: 'Range bytes=100-200 + If-Range other ETag',
    headers: () => ({ Range: 'bytes=100-200', 'If-Range': '"nope"' }),
  },
  { name: 'Range bytes=0-4 + If-None-Match current', headers: (m) => ({ Range: 'bytes=0-4', 'If-None-Match': m.etag }) },
  { name: 'Range bytes=0-4 + If-Match other', headers: () => ({ Range: 'bytes=0-4', 'If-Match': '"nope"' }) },
];

/** Fixture targets the header cases are sent to, with the file whose validators they use. */
export const HEADER_TARGETS: readonly { readonly target: string; readonly file: string }[] = [
  { target: '/todo.txt', file: 'todo.txt' },
  { target: '/binary.bin', file: 'binary.bin' },
  { target: '/', file: 'index.html' },
  { target: '/empty.txt', file: 'empty.txt' },
  { target: '/about', file: 'about.html' },
  { target: '/users', file: 'users/index.html' },
];

/** Option sets for the header cases; `/about` is only sent to those with extensions. */
export const HEADER_OPTION_SETS: readonly string[] = [
  'defaults',
  'setHeaders',
  "extensions ['html']",
  "fallthrough false + extensions ['txt','html']",
  'etag false',
  'lastModified false',
  'acceptRanges false',
];

export const METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE'] as const;

export const METHOD_TARGETS: readonly string[] = ['/todo.txt', '/', '/users', '/nope.txt', '/.hidden', '/../x', '/%zz'];

export const METHOD_OPTION_SETS: readonly string[] = ['defaults', 'fallthrough false', 'redirect false', 'dotfiles deny'];

/** Header cases also sent with HEAD. */
export const HEAD_HEADER_CASES: readonly string[] = [
  'no headers',
  'If-None-Match current',
  'If-Match other',
  'Range bytes=0-4',
  'Range bytes=100-200',
];

/** Targets for the middleware mounted with connect at `/static`. */
export const MOUNT_PATHS: readonly string[] = [
  '/static',
  '/static/',
  '/static?x=1',
  '/static/todo.txt',
  '/static/users',
  '/static/users/',
  '/static/users?x=1',
  '/static//users',
  '/static/nope',
  '/static/.hidden',
  '/static/../todo.txt',
  '/staticx',
  // Kept despite refusedByDesign: connect mounts only before `/` or `.`, so neither middleware sees it.
  '/static%2f',
];

export const MOUNT_OPTION_SETS: readonly string[] = ['defaults', 'redirect false', 'index false', 'fallthrough false'];
