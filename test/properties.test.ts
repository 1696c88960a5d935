/**
 * Property tests through the real middleware on real servers (started once): generated request targets go
 * over a raw socket, so nothing normalises them on the way.
 *
 * Every file under root holds `INSIDE:<its real path relative to root>`, and decoys outside root (next to it,
 * and in a sibling directory whose name has the root's name as a prefix) hold `OUTSIDE`, so a served body
 * proves which file was served.
 */
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, join, relative, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type ServeStaticOptions } from '../src/index.js';
import { evaluateRange } from '../src/range.js';
import { finalHandler, listen, rawRequest, tempDir, type RawResponse } from './helpers.js';

/*
 * <base>/site/                    root
 *   index.html  a  a:b  .a  site-private       files
 *   b/index.html  b/a  site/index.html  site/a  files in directories named like the tokens
 *   esc -> ../site-private        links out of root (only for servers that check links)
 *   up  -> ..
 *   in  -> b                      a link that stays inside
 * <base>/index.html  <base>/a  <base>/b/a          OUTSIDE
 * <base>/site-private/{index.html,a,b/a,site/a}    OUTSIDE (sibling-prefix directory)
 * <base>/ranges/<size>.bin        files of various sizes for the Range properties
 */
const base = tempDir('brisk-static-properties-');
const root = join(base.path, 'site');
const rangeRoot = join(base.path, 'ranges');
const OUTSIDE = 'OUTSIDE';
const INSIDE = 'INSIDE:';
const ORIGIN = 'http://site.test';

const INSIDE_FILES = ['index.html', 'a', 'a:b', '.a', 'site-private', 'b/index.html', 'b/a', 'site/index.html', 'site/a'];
const OUTSIDE_FILES = ['index.html', 'a', 'b/a', 'site-private/index.html', 'site-private/a', 'site-private/b/a', 'site-private/site/a'];
const LINKS: Record<string, string> = { esc: '../site-private', up: '..', in: 'b' };
const RANGE_SIZES = [0, 1, 2, 3, 10, 100, 1000, 70_000] as const;

/** The tokens of the brief, plus file names that exist. */
const TOKENS = ['/', '\\', '.', '..', '%2e', '%2f', '%5c', '%00', '%c0%ae', '%25', ':', 'a', 'b', 'site', 'site-private', 'index.html', '%2E', '%2F', '%5C'];
/** Names of links that leave root: only sent to servers whose `symlinks` mode must refuse them. */
const LINK_TOKENS = ['esc', 'up', 'in'];

interface Running {
  readonly name: string;
  readonly port: number;
  readonly options: ServeStaticOptions;
  close(): Promise<void>;
}

const SERVER_OPTIONS: readonly { name: string; options: ServeStaticOptions }[] = [
  { name: 'defaults', options: {} },
  { name: 'fallthrough false, dotfiles allow', options: { fallthrough: false, dotfiles: 'allow' } },
  { name: 'symlinks within-root', options: { symlinks: 'within-root' } },
  { name: 'symlinks deny, fallthrough false', options: { symlinks: 'deny', fallthrough: false } },
  { name: 'canonicalPaths, within-root, dotfiles deny', options: { canonicalPaths: true, symlinks: 'within-root', dotfiles: 'deny' } },
  { name: 'cache, within-root, extensions', options: { cache: true, symlinks: 'within-root', extensions: ['html'] } },
];

let servers: Running[] = [];
let rangeServer: Running;
let realRoot = '';
const rangeFiles = new Map<number, Buffer>();

async function start(name: string, directory: string, options: ServeStaticOptions): Promise<Running> {
  const middleware = serveStatic(directory, options);
  const nexts: unknown[] = [];
  const running = await listen((req: IncomingMessage, res: ServerResponse) =>
    middleware(req, res, (err) => finalHandler(nexts, req, res, err)),
  );
  return { ...running, name, options };
}

function write(path: string, body: string | Buffer): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, body);
}

beforeAll(async () => {
  for (const name of INSIDE_FILES) write(join(root, name), `${INSIDE}${name}`);
  for (const name of OUTSIDE_FILES) write(join(base.path, name), OUTSIDE);
  for (const [name, target] of Object.entries(LINKS)) symlinkSync(target, join(root, name));
  for (const size of RANGE_SIZES) {
    const body = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff));
    rangeFiles.set(size, body);
    write(join(rangeRoot, `${size}.bin`), body);
  }
  realRoot = realpathSync(root);
  servers = await Promise.all(SERVER_OPTIONS.map(({ name, options }) => start(name, root, options)));
  rangeServer = await start('ranges', rangeRoot, {});
});

afterAll(async () => {
  await Promise.all([...servers, rangeServer].map((running) => running.close()));
  base.remove();
});

// --- arbitraries -------------------------------------------------------------------------------------------

const serverIndex = fc.nat({ max: SERVER_OPTIONS.length - 1 });

/** Servers whose symlink mode must keep links inside root also get the names of links that leave it. */
function tokensFor(options: ServeStaticOptions): string[] {
  return options.symlinks === undefined || options.symlinks === 'follow' ? TOKENS : [...TOKENS, ...LINK_TOKENS];
}

/** Separators, plain and in the forms that must not act as one. */
const SEPARATORS = ['/', '/', '/', '//', '\\', '%2f', '%2F', '%5c', '%5C'];
/** How a target may begin: several slashes, or a slash and a backslash, are how open redirects start. */
const LEADS = ['/', '/', '/', '//', '///', '/./', '/.//', '/\\', '/%2f', '/%5c'];
/** Ways to climb that decode to `..` (or `.`), and forms that must not be read as `..` (overlong, NUL, double). */
const CLIMBS = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '.', '%2e'];
const BAD_CLIMBS = ['%c0%ae%c0%ae', '..%00', '%252e%252e', '..%5c', '..%2f'];

/**
 * A request target. It starts with `/` (Node's parser answers anything else itself). Besides token soup,
 * paths are built segment by segment: mostly plain `/` and climbs that decode to `..` between names that
 * exist (inside root and outside it), so `/../site-private/a`, `/../` or `/esc/a` come up in every run; and
 * some with the separators and climbs that must be refused. Too many of those and every path is a 400.
 */
const tokenTarget = (options: ServeStaticOptions): fc.Arbitrary<string> => {
  const tokens = tokensFor(options);
  const names = tokens.filter((token) => /^[a-z]/.test(token));
  const soup = fc
    .tuple(fc.constantFrom('/', '/', '/', '//'), fc.array(fc.constantFrom(...tokens), { maxLength: 12 }))
    .map(([lead, parts]) => `${lead}${parts.join('')}`);
  const path = (leads: fc.Arbitrary<string>, separators: fc.Arbitrary<string>, segment: fc.Arbitrary<string>): fc.Arbitrary<string> =>
    fc
      .tuple(leads, segment, fc.array(fc.tuple(separators, segment), { maxLength: 5 }), fc.constantFrom('', '', '/'))
      .map(([lead, first, rest, trailing]) => `${lead}${first}${rest.map(([separator, name]) => `${separator}${name}`).join('')}${trailing}`);
  const plain = path(
    fc.constantFrom('/', '/', '/', '//', '///', '/./', '/.//'),
    fc.constantFrom('/', '/', '/', '//'),
    fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...CLIMBS) }, { weight: 3, arbitrary: fc.constantFrom(...names) }),
  );
  const hostile = path(
    fc.constantFrom(...LEADS),
    fc.constantFrom(...SEPARATORS),
    fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(...CLIMBS, ...BAD_CLIMBS) },
      { weight: 3, arbitrary: fc.constantFrom(...names) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...tokens), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('')) },
    ),
  );
  return fc.oneof({ weight: 2, arbitrary: plain }, { weight: 1, arbitrary: hostile }, { weight: 1, arbitrary: soup });
};

/** Printable characters Node's parser lets through in a request target, markup among them. */
const QUERY_CHARS = ['a', '1', '/', '\\', '.', '%', '?', '#', '<', '>', '"', "'", ':', '@', '&', '=', '+', ';', '%3C', '%22'];
const query = fc.option(fc.array(fc.constantFrom(...QUERY_CHARS), { maxLength: 8 }).map((chars) => `?${chars.join('')}`), { nil: '' });

/** Any byte, percent-encoded, so the decoder sees invalid UTF-8, overlong forms, NUL, separators. */
const escapedByte = fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, '0')}`);

// --- checks ------------------------------------------------------------------------------------------------

function isInside(parent: string, path: string): boolean {
  const fromParent = relative(parent, path);
  return fromParent === '' || (!isAbsolute(fromParent) && fromParent !== '..' && !fromParent.startsWith(`..${sep}`));
}

function assertSameOrigin(location: string): void {
  expect(location.startsWith('/') && !location.startsWith('//') && !location.startsWith('/\\'), location).toBe(true);
  expect(new URL(location, ORIGIN).origin, location).toBe(ORIGIN);
}

/** Refused (4xx, or `fell through`), redirected on this origin, or a file whose real path is inside root. */
function assertSafe(server: Running, target: string, response: RawResponse): void {
  const body = response.body.toString('latin1');
  const context = `${server.name}: GET ${target} → ${response.status} ${JSON.stringify(body.slice(0, 80))}`;
  expect(response.status, context).toBeLessThan(500);
  expect(body, context).not.toContain(OUTSIDE);
  if (response.headers.location !== undefined) assertSameOrigin(response.headers.location);
  if (response.status === 200) {
    expect(body.startsWith(INSIDE), context).toBe(true);
    const served = realpathSync(join(root, body.slice(INSIDE.length)));
    expect(isInside(realRoot, served), context).toBe(true);
    return;
  }
  if (response.status === 301) {
    expect(response.headers.location, context).toBeDefined();
    return;
  }
  expect(response.status, context).toBeGreaterThanOrEqual(400);
  if (server.options.fallthrough !== false) {
    // Every refusal before a file was chosen falls through; no range or condition was sent.
    expect([response.status, body], context).toEqual([404, 'fell through']);
  } else {
    expect([400, 403, 404], context).toContain(response.status);
  }
}

// --- properties --------------------------------------------------------------------------------------------

describe('paths through the middleware', () => {
  it('(a) a generated path is refused, redirected, or served from a file whose real path is inside root', async () => {
    let servedCount = 0;
    await fc.assert(
      fc.asyncProperty(
        serverIndex.chain((index) => fc.tuple(fc.constant(index), tokenTarget(SERVER_OPTIONS[index]!.options))),
        async ([index, target]) => {
          const server = servers[index]!;
          const response = await rawRequest(server.port, target);
          assertSafe(server, target, response);
          if (response.status === 200) servedCount++;
        },
      ),
      { numRuns: 600 },
    );
    // The property is vacuous unless files are actually served among the generated paths.
    expect(servedCount).toBeGreaterThan(20);
  });

  it('(a) the decoys are there to be found: a plain request for an inside file is served, and the sibling exists', async () => {
    // Guards the property above against a tree where nothing is ever served.
    const server = servers[0]!;
    const inside = await rawRequest(server.port, '/site/a');
    expect([inside.status, inside.body.toString()]).toEqual([200, 'INSIDE:site/a']);
    const linked = await rawRequest(servers[2]!.port, '/in/a');
    expect([linked.status, linked.body.toString()]).toEqual([200, 'INSIDE:b/a']);
    const escaped = await rawRequest(servers[2]!.port, '/esc/a');
    expect([escaped.status, escaped.body.toString()]).toEqual([404, 'fell through']);
  });

  it('(b) every Location resolves to the same origin', async () => {
    let redirects = 0;
    await fc.assert(
      fc.asyncProperty(
        serverIndex.chain((index) => fc.tuple(fc.constant(index), tokenTarget(SERVER_OPTIONS[index]!.options), query)),
        async ([index, target, search]) => {
          const server = servers[index]!;
          const response = await rawRequest(server.port, `${target}${search}`);
          const location = response.headers.location;
          if (location === undefined) return;
          redirects++;
          expect(response.status).toBe(301);
          assertSameOrigin(location);
          expect(location).toMatch(/^[\x21-\x7e]+$/);
          // The body names the Location escaped: no markup from the request survives into the page.
          const page = /<pre>Redirecting to ([^]*)<\/pre>/.exec(response.body.toString());
          expect(page?.[1]).toBeDefined();
          expect(page![1]).not.toMatch(/[<>"']/);
        },
      ),
      { numRuns: 500 },
    );
    // The property is vacuous without redirects among the generated paths.
    expect(redirects).toBeGreaterThan(20);
  });

  it('(c) no generated input produces a 5xx: decoding never throws out of the middleware', async () => {
    const piece = fc.oneof(fc.constantFrom(...TOKENS), escapedByte, fc.constantFrom('%', '%%', '%f', '%e2%82', '%ed%a0%80', '%f4%90%80%80'));
    await fc.assert(
      fc.asyncProperty(serverIndex, fc.array(piece, { maxLength: 16 }), query, async (index, pieces, search) => {
        const server = servers[index]!;
        const target = `/${pieces.join('')}${search}`;
        assertSafe(server, target, await rawRequest(server.port, target));
      }),
      { numRuns: 500 },
    );
  });
});

// --- ranges ------------------------------------------------------------------------------------------------

/** A Range header for a file of `size` bytes: well-formed parts near the size, and some garbage. */
function rangeHeader(size: number): fc.Arbitrary<string> {
  const position = fc.oneof(fc.integer({ min: 0, max: size + 3 }), fc.nat(), fc.constantFrom(0, 1, size - 1, size));
  const part = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(position, position).map(([start, end]) => `${start}-${end}`) },
    { weight: 2, arbitrary: position.map((n) => `-${n}`) },
    { weight: 2, arbitrary: position.map((n) => `${n}-`) },
    { weight: 1, arbitrary: fc.constantFrom('', '-', '--1', 'x-y', '1-2-3', ' 0-1', '-0', '1', '0x1-2', '1e3-', '-1-') },
  );
  const unit = fc.constantFrom('bytes=', 'bytes=', 'bytes=', 'bytes=', 'bytes= ', 'Bytes=', 'items=', 'bytes');
  const count = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 40 }) });
  return fc
    .tuple(unit, count)
    .chain(([prefix, n]) => fc.array(part, { minLength: n, maxLength: n }).map((parts) => `${prefix}${parts.join(',')}`));
}

const NO_VALIDATORS = { etag: undefined, lastModified: undefined };

describe('ranges', () => {
  it('(d) evaluateRange returns full, unsatisfiable, or a partial with 0 <= start <= end < size', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1_000_000 })).chain((size) => fc.tuple(fc.constant(size), rangeHeader(size))),
        ([size, header]) => {
          const outcome = evaluateRange(header, undefined, size, NO_VALIDATORS);
          if (outcome.kind !== 'partial') {
            expect(['full', 'unsatisfiable']).toContain(outcome.kind);
            return;
          }
          expect(Number.isSafeInteger(outcome.start) && Number.isSafeInteger(outcome.end)).toBe(true);
          expect(0 <= outcome.start && outcome.start <= outcome.end && outcome.end < size, `${header} on ${size}: ${outcome.start}-${outcome.end}`).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('(d) over HTTP a 206 has Content-Length end-start+1, the body that long, and the bytes of that slice', async () => {
    let partials = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...RANGE_SIZES).chain((size) => fc.tuple(fc.constant(size), rangeHeader(size))),
        async ([size, header]) => {
          const file = rangeFiles.get(size)!;
          const response = await rawRequest(rangeServer.port, `/${size}.bin`, { headers: { Range: header } });
          // Node strips the whitespace around a header value before the middleware sees it.
          const outcome = evaluateRange(header.trim(), undefined, size, NO_VALIDATORS);
          const context = `Range: ${header} on ${size} bytes → ${response.status} ${response.headers['content-range'] ?? ''}`;
          if (response.status === 206) {
            partials++;
            const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers['content-range'] ?? '');
            expect(match, context).not.toBeNull();
            const [start, end, total] = [Number(match![1]), Number(match![2]), Number(match![3])];
            expect(total, context).toBe(size);
            expect(0 <= start && start <= end && end < size, context).toBe(true);
            expect(Number(response.headers['content-length']), context).toBe(end - start + 1);
            expect(response.body.length, context).toBe(end - start + 1);
            expect(response.body.equals(file.subarray(start, end + 1)), context).toBe(true);
            expect(outcome, context).toEqual({ kind: 'partial', start, end });
          } else if (response.status === 200) {
            expect(response.headers['content-range'], context).toBeUndefined();
            expect(Number(response.headers['content-length']), context).toBe(size);
            expect(response.body.equals(file), context).toBe(true);
            expect(outcome.kind, context).toBe('full');
          } else {
            expect(response.status, context).toBe(416);
            expect(response.headers['content-range'], context).toBe(`bytes */${size}`);
            expect(outcome.kind, context).toBe('unsatisfiable');
          }
        },
      ),
      { numRuns: 500 },
    );
    expect(partials).toBeGreaterThan(50);
  });
});
