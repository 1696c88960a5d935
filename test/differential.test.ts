/**
 * Differential tests: every request goes to serve-static 2.2.1 and to ours, each on its own `node:http`
 * server with the same final handler, and the status, the headers in COMPARED_HEADERS and the body must be
 * equal. The deliberate differences are kept out of the matrix and asserted on their own at the end.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import connect from 'connect';
import etag from 'etag';
import serveStaticReference from 'serve-static';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type ServeStaticOptions } from '../src/index.js';
import {
  buildTempTree,
  COMPARED_HEADERS,
  FIXTURE_PATHS,
  HEAD_HEADER_CASES,
  HEADER_CASES,
  HEADER_OPTION_SETS,
  HEADER_TARGETS,
  label,
  METHOD_OPTION_SETS,
  METHOD_TARGETS,
  METHODS,
  MOUNT_OPTION_SETS,
  MOUNT_PATHS,
  OPTION_SETS,
  REFUSED_FIXTURE_PATHS,
  refusedByDesign,
  TEMP_PATHS,
  type FileMeta,
} from './differential-cases.js';
import { finalHandler, FIXTURES, listen, rawRequest, tempDir } from './helpers.js';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
type Factory = (root: string, options: ServeStaticOptions) => Middleware;

const reference: Factory = (root, options) => serveStaticReference(root, options as never) as Middleware;
const ours: Factory = (root, options) => serveStatic(root, options) as Middleware;

interface Running {
  readonly port: number;
  close(): Promise<void>;
}

/** One implementation on its own server; with `mount`, behind connect's `app.use(mount, ...)`. */
async function start(factory: Factory, root: string, options: ServeStaticOptions, mount?: string): Promise<Running> {
  const middleware = factory(root, options);
  const nexts: (unknown | null)[] = [];
  if (mount === undefined) {
    return listen((req, res) => middleware(req, res, (err) => finalHandler(nexts, req, res, err)));
  }
  const app = connect();
  app.use(mount, middleware as connect.NextHandleFunction);
  app.use((req: IncomingMessage, res: ServerResponse) => finalHandler(nexts, req, res));
  app.use((err: unknown, req: IncomingMessage, res: ServerResponse, _next: connect.NextFunction) =>
    finalHandler(nexts, req, res, err),
  );
  return listen(app);
}

interface Pair {
  readonly reference: Running;
  readonly ours: Running;
}

const pairs = new Map<string, Promise<Pair>>();
const optionsByName = new Map(OPTION_SETS.map((set) => [set.name, set.options]));

/** The two servers for a root and option set, started on first use and shared by later cases. */
function pair(root: string, optionSet: string, mount?: string, explicit?: ServeStaticOptions): Promise<Pair> {
  const key = `${root}\0${optionSet}\0${mount ?? ''}`;
  let found = pairs.get(key);
  if (found === undefined) {
    const options = explicit ?? optionsByName.get(optionSet);
    if (options === undefined) throw new Error(`unknown option set ${optionSet}`);
    found = Promise.all([start(reference, root, options, mount), start(ours, root, options, mount)]).then(
      ([referenceServer, oursServer]) => ({ reference: referenceServer, ours: oursServer }),
    );
    pairs.set(key, found);
  }
  return found;
}

/** serve-static's answer in a deliberate-difference case: the status, and the body or Location that matter. */
interface Expectation {
  readonly status: number;
  readonly body?: string;
  readonly location?: string;
}

interface Observed {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Text bodies as text; binary ones as base64, or a digest when large, so a mismatch prints readably. */
function describeBody(body: Buffer): string {
  const text = body.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(body) && !/[\0-\x08\x0e-\x1f]/.test(text);
  if (body.length <= 2048) return printable ? text : `base64:${body.toString('base64')}`;
  return `${body.length} bytes, sha256 ${createHash('sha256').update(body).digest('hex')}`;
}

async function exchange(
  port: number,
  target: string,
  method: string,
  headers: Record<string, string>,
): Promise<Observed> {
  const response = await rawRequest(port, target, { method, headers });
  const picked: Record<string, string> = {};
  for (const name of COMPARED_HEADERS) {
    const value = response.headers[name];
    if (value !== undefined) picked[name] = value;
  }
  return { status: response.status, headers: picked, body: describeBody(response.body) };
}

/** The same request to both servers of a pair, at once: [serve-static's answer, ours]. */
function exchangeBoth(
  servers: Pair,
  target: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<[Observed, Observed]> {
  return Promise.all([exchange(servers.reference.port, target, method, headers), exchange(servers.ours.port, target, method, headers)]);
}

/** Reference answers by case name, for the coverage check at the end. */
const seen = new Map<string, Observed>();

async function compare(
  name: string,
  servers: Pair,
  target: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<void> {
  const [expected, actual] = await exchangeBoth(servers, target, method, headers);
  seen.set(name, expected);
  // Deliberate: we never stat a path, we open it, so an fs error handed to next(err) names `open` where
  // serve-static's names `stat` (same code, same path, same length). Asserted on its own below.
  const normalised = { ...actual, body: actual.body.replace(/^Error: (E[A-Z]+: [^,]+), open '/, "Error: $1, stat '") };
  expect(normalised, `${method} ${label(target)}: ours (received) vs serve-static (expected)`).toEqual(expected);
}

let temp: { path: string; remove: () => void };
const fileMeta = new Map<string, FileMeta>();

beforeAll(() => {
  temp = tempDir('brisk-static-differential-');
  buildTempTree(temp.path);
  for (const { file } of HEADER_TARGETS) {
    const stat = statSync(join(FIXTURES, file));
    fileMeta.set(file, { etag: etag(stat), mtime: stat.mtime });
  }
});

afterAll(async () => {
  const started = await Promise.all(pairs.values());
  await Promise.all(started.flatMap(({ reference: a, ours: b }) => [a.close(), b.close()]));
  temp.remove();
});

describe('GET: fixtures/ paths × option sets', () => {
  describe.each(OPTION_SETS)('$name', ({ name: optionSet }) => {
    for (const target of FIXTURE_PATHS) {
      it(`GET ${label(target)}`, async () => {
        await compare(`fixtures|${optionSet}|GET ${target}`, await pair(FIXTURES, optionSet), target);
      });
    }
  });
});

describe('GET: temporary tree (odd names, symlinks, index/extension corners) × option sets', () => {
  describe.each(OPTION_SETS)('$name', ({ name: optionSet }) => {
    it.each(TEMP_PATHS)('GET %s', async (target) => {
      await compare(`temp|${optionSet}|GET ${target}`, await pair(temp.path, optionSet), target);
    });
  });
});

describe('conditional and range headers × targets × option sets', () => {
  describe.each(HEADER_OPTION_SETS)('%s', (optionSet) => {
    const withExtensions = Boolean(optionsByName.get(optionSet)?.extensions);
    const targets = HEADER_TARGETS.filter(({ target }) => withExtensions || target !== '/about');
    describe.each(targets)('$target', ({ target, file }) => {
      it.each(HEADER_CASES)('GET with $name', async ({ name, headers }) => {
        const meta = fileMeta.get(file);
        if (meta === undefined) throw new Error(`no metadata for ${file}`);
        await compare(`headers|${optionSet}|GET ${target}|${name}`, await pair(FIXTURES, optionSet), target, 'GET', headers(meta));
      });
      it.each(HEADER_CASES.filter(({ name }) => HEAD_HEADER_CASES.includes(name)))(
        'HEAD with $name',
        async ({ name, headers }) => {
          const meta = fileMeta.get(file);
          if (meta === undefined) throw new Error(`no metadata for ${file}`);
          await compare(`headers|${optionSet}|HEAD ${target}|${name}`, await pair(FIXTURES, optionSet), target, 'HEAD', headers(meta));
        },
      );
    });
  });
});

describe('methods × targets × option sets', () => {
  describe.each(METHOD_OPTION_SETS)('%s', (optionSet) => {
    describe.each(METHODS)('%s', (method) => {
      it.each(METHOD_TARGETS)(`${method} %s`, async (target) => {
        await compare(`methods|${optionSet}|${method} ${target}`, await pair(FIXTURES, optionSet), target, method);
      });
    });
  });
});

describe('mounted with connect at /static', () => {
  describe.each(MOUNT_OPTION_SETS)('%s', (optionSet) => {
    it.each(MOUNT_PATHS)('GET %s', async (target) => {
      await compare(`mount|${optionSet}|GET ${target}`, await pair(FIXTURES, optionSet, '/static'), target);
    });
  });
});

// Reads what the matrix above recorded, so it only makes sense when the whole file runs (not under `-t`).
describe('the matrix exercises what it claims to', () => {
  it('saw every status serve-static can give for a static file', () => {
    const statuses = new Set([...seen.values()].map(({ status }) => status));
    expect([...statuses].sort()).toEqual([200, 206, 301, 304, 400, 403, 404, 405, 412, 416]);
  });

  it.each([
    ['fixtures|defaults|GET /todo.txt', 200, '- groceries\n'],
    ['fixtures|defaults|GET /nope.txt', 404, 'fell through'],
    ['fixtures|fallthrough false|GET /../x', 403, 'ForbiddenError: Forbidden'],
    ['fixtures|fallthrough false|GET /%zz', 400, 'BadRequestError: Bad Request'],
    ['fixtures|dotfiles deny|GET /.hidden', 404, 'fell through'],
    ['fixtures|fallthrough false + dotfiles deny|GET /.hidden', 403, 'ForbiddenError: Forbidden'],
    ['fixtures|dotfiles allow|GET /.private/secret.txt', 200, undefined],
    ["fixtures|extensions ['html']|GET /about", 200, undefined],
    ['headers|defaults|GET /todo.txt|If-None-Match current', 304, ''],
    ['headers|defaults|GET /todo.txt|Range bytes=0-4', 206, '- gro'],
    ["headers|fallthrough false + extensions ['txt','html']|GET /todo.txt|If-Match other", 412, 'PreconditionFailedError: Precondition Failed'],
    ['methods|fallthrough false|POST /todo.txt', 405, ''],
    ['headers|setHeaders|GET /todo.txt|If-None-Match "custom" (the setHeaders ETag)', 304, ''],
    ['headers|setHeaders|GET /todo.txt|Range bytes=0-4 + If-Range "custom"', 206, '- gro'],
    ['mount|defaults|GET /static', 301, undefined],
  ] as const)('%s was answered %i by serve-static', (name, status, body) => {
    const observed = seen.get(name);
    expect(observed?.status).toBe(status);
    if (body !== undefined) expect(observed?.body).toBe(body);
  });

  it('sent redirects for the mount and for double slashes to a single-slash path', () => {
    expect(seen.get('mount|defaults|GET /static')?.headers.location).toBe('/static/');
    expect(seen.get('fixtures|defaults|GET //users?x=1')?.headers.location).toBe('/users/?x=1');
  });

  it('called setHeaders with the file chosen, and let its headers win', () => {
    const index = seen.get('fixtures|setHeaders|GET /')?.headers;
    expect(index?.['x-set-headers']).toBe(`${encodeURIComponent(join(FIXTURES, 'index.html'))} 353`);
    const todo = seen.get('fixtures|setHeaders|GET /todo.txt')?.headers;
    expect(todo).toMatchObject({ 'cache-control': 'no-store', etag: '"custom"', 'content-type': 'text/x-custom' });
  });
});

/**
 * Where ours deliberately differs from serve-static 2.2.1. Each case asserts both answers, so the test fails
 * if either side changes.
 */
describe('deliberate differences', () => {
  let special: { path: string; remove: () => void };
  let unixSocket: NetServer;

  beforeAll(async () => {
    special = tempDir('brisk-static-differential-special-');
    const root = special.path;
    symlinkSync('loop', join(root, 'loop'));
    execFileSync('mkfifo', [join(root, 'fifo.txt')]);
    symlinkSync('/dev/null', join(root, 'null-device.txt'));
    mkdirSync(join(root, '\\evil'));
    writeFileSync(join(root, '\\evil', 'index.html'), 'evil\n');
    mkdirSync(join(root, 'users'));
    unixSocket = createNetServer();
    await new Promise<void>((resolve) => unixSocket.listen(join(root, 'socket.txt'), resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => unixSocket.close(() => resolve()));
    special.remove();
  });

  async function both(options: ServeStaticOptions, target: string, method = 'GET'): Promise<[Observed, Observed]> {
    const servers = await pair(special.path, '__special__' + JSON.stringify(options), undefined, options);
    return exchangeBoth(servers, target, method);
  }

  it('ELOOP: serve-static forwards a 500, ours answers 404 (a miss that falls through)', async () => {
    const [expected, actual] = await both({}, '/loop');
    expect(expected.status).toBe(500);
    expect(expected.body).toBe(`Error: ELOOP: too many symbolic links encountered, stat '${join(special.path, 'loop')}'`);
    expect(actual).toEqual({ status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '12' }, body: 'fell through' });
  });

  it('ELOOP with fallthrough false: ours forwards a 404', async () => {
    const [expected, actual] = await both({ fallthrough: false }, '/loop');
    expect(expected.status).toBe(500);
    expect(actual.status).toBe(404);
    expect(actual.body).toMatch(/^Error: ELOOP: too many symbolic links encountered/);
  });

  // EACCES (ours 403, serve-static 500) is asserted in special-files.test.ts, where the server runs as an
  // unprivileged user: under root, as in CI, `chmod 000` denies nothing.

  it('an fs error handed to next(err) names the syscall we made: open, not stat', async () => {
    const [expected, actual] = await both({ fallthrough: false }, '/missing.txt');
    expect(expected.body).toBe(`Error: ENOENT: no such file or directory, stat '${join(special.path, 'missing.txt')}'`);
    expect(actual.body).toBe(`Error: ENOENT: no such file or directory, open '${join(special.path, 'missing.txt')}'`);
    expect(actual.status).toBe(expected.status);
  });

  it.each(['/fifo.txt', '/socket.txt'])(
    'a FIFO or socket (%s): serve-static answers HEAD as a 0-byte file, ours answers 404',
    async (target) => {
      // GET is not sent to serve-static: reading a FIFO with no writer blocks forever.
      const [expected, actual] = await both({ fallthrough: false }, target, 'HEAD');
      expect(expected.status).toBe(200);
      expect(expected.headers['content-length']).toBe('0');
      expect(actual.status).toBe(404);
      const servers = await pair(special.path, '__special__' + JSON.stringify({ fallthrough: false }), undefined, { fallthrough: false });
      const get = await exchange(servers.ours.port, target, 'GET', {});
      expect(get).toEqual({ status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'NotFoundError: Not Found' });
    },
  );

  it('a character device (symlink to /dev/null): serve-static streams it, ours answers 404', async () => {
    const [expected, actual] = await both({}, '/null-device.txt');
    expect(expected.status).toBe(200);
    expect(expected.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(expected.body).toBe('');
    expect(actual.status).toBe(404);
    expect(actual.body).toBe('fell through');
  });

  it('an unparseable maxAge string: serve-static silently uses 0, ours throws TypeError at factory time', async () => {
    expect(() => serveStatic(FIXTURES, { maxAge: '1 fortnight' })).toThrow(TypeError);
    const server = await start(reference, FIXTURES, { maxAge: '1 fortnight' });
    try {
      const observed = await exchange(server.port, '/todo.txt', 'GET', {});
      expect(observed.status).toBe(200);
      expect(observed.headers['cache-control']).toBe('public, max-age=0');
    } finally {
      await server.close();
    }
  });

  it.each([
    ['/\\evil', '/\\evil/'],
    ['//\\evil', '/\\evil/'],
    ['/\\evil?x=1', '/\\evil/?x=1'],
    ['/%5cevil', '/%5cevil/'],
  ])(
    // A raw `/\` at the start of a Location is read by browsers as `//`: another host (open redirect).
    'a backslash, raw or encoded, in the path (%s): serve-static redirects to %s, ours refuses it (400)',
    async (target, referenceLocation) => {
      const [expected, actual] = await both({}, target);
      expect(expected.status).toBe(301);
      expect(expected.headers.location).toBe(referenceLocation);
      expect(actual).toEqual({ status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '12' }, body: 'fell through' });
      const [strictExpected, strictActual] = await both({ fallthrough: false }, target);
      expect(strictExpected.status).toBe(301);
      expect(strictExpected.headers.location).toBe(referenceLocation);
      expect(strictActual.status).toBe(400);
      expect(strictActual.headers.location).toBeUndefined();
      expect(strictActual.body).toBe('BadRequestError: Bad Request');
    },
  );

  it.each([
    ['http://127.0.0.1/users', 'http://127.0.0.1/users/', '/users/'],
    ['http://evil.example/users?x=1', 'http://evil.example/users/?x=1', '/users/?x=1'],
  ])('absolute-form target %s: ours redirects to the path only', async (target, referenceLocation, ourLocation) => {
    const [expected, actual] = await both({}, target);
    expect(expected.status).toBe(301);
    expect(expected.headers.location).toBe(referenceLocation);
    expect(actual.status).toBe(301);
    expect(actual.headers.location).toBe(ourLocation);
  });

  /**
   * Encoded slashes and backslashes (see `refusedByDesign`): serve-static's answer, by option set, for each
   * fixture target the matrix leaves out. Ours is 400: `next()` (`fell through`) by default, a
   * `BadRequestError` with fallthrough false.
   */
  const SEPARATOR_CASES: readonly (readonly [target: string, defaults: Expectation, fallthroughFalse: Expectation])[] = [
    ['/users%2f', { status: 301, location: '/users%2f/' }, { status: 301, location: '/users%2f/' }],
    ['/users%2ftobi.txt', { status: 200, body: 'tobi\n' }, { status: 200, body: 'tobi\n' }],
    ['/%2fusers', { status: 301, location: '/%2fusers/' }, { status: 301, location: '/%2fusers/' }],
    [
      '/todo.txt%2f',
      { status: 404, body: 'fell through' },
      { status: 404, body: `Error: ENOTDIR: not a directory, stat '${join(FIXTURES, 'todo.txt')}/'` },
    ],
    ['/%2e%2e%2fpackage.json', { status: 404, body: 'fell through' }, { status: 403, body: 'ForbiddenError: Forbidden' }],
    ['/..%5cpackage.json', { status: 404, body: 'fell through' }, { status: 403, body: 'ForbiddenError: Forbidden' }],
    ['/%2e%2e%5ctodo.txt', { status: 404, body: 'fell through' }, { status: 403, body: 'ForbiddenError: Forbidden' }],
    ['/users/..%5c..%5cpackage.json', { status: 404, body: 'fell through' }, { status: 403, body: 'ForbiddenError: Forbidden' }],
  ];

  it('the separator cases cover exactly the fixture targets the matrix leaves out', () => {
    expect(SEPARATOR_CASES.map(([target]) => target)).toEqual(REFUSED_FIXTURE_PATHS);
    expect(REFUSED_FIXTURE_PATHS.length).toBeGreaterThan(0);
    expect(FIXTURE_PATHS.some(refusedByDesign)).toBe(false);
    expect(TEMP_PATHS.some(refusedByDesign)).toBe(false);
  });

  describe.each([
    ['defaults', 1],
    ['fallthrough false', 2],
  ] as const)('an encoded slash or a backslash (%s): ours is a 400, serve-static decodes it', (optionSet, column) => {
    it.each(SEPARATOR_CASES)('GET %s', async (target, ...columns) => {
      const reference = columns[column - 1]!;
      const servers = await pair(FIXTURES, optionSet);
      const [expected, actual] = await exchangeBoth(servers, target);
      expect(expected.status).toBe(reference.status);
      if (reference.body !== undefined) expect(expected.body).toBe(reference.body);
      expect(expected.headers.location).toBe(reference.location);
      const ours = optionSet === 'defaults'
        ? { status: 404, body: 'fell through' }
        : { status: 400, body: 'BadRequestError: Bad Request' };
      expect({ status: actual.status, body: actual.body, location: actual.headers.location }).toEqual({ ...ours, location: undefined });
    });
  });

  it.each(OPTION_SETS.map(({ name }) => name))('option set %s: every separator case is refused by ours', async (optionSet) => {
    const strict = optionsByName.get(optionSet)?.fallthrough === false;
    const servers = await pair(FIXTURES, optionSet);
    for (const target of REFUSED_FIXTURE_PATHS) {
      const actual = await exchange(servers.ours.port, target, 'GET', {});
      expect([target, actual.status, actual.body]).toEqual(
        strict ? [target, 400, 'BadRequestError: Bad Request'] : [target, 404, 'fell through'],
      );
    }
  });

  /**
   * Range (Go's net/http rule): a Range of 32 or more parts, or whose parts add up to more than the file, is
   * ignored (200, the whole file); serve-static combines overlapping parts into one 206.
   */
  const TODO = '- groceries\n';
  const zeroes = (count: number): string => `bytes=${Array.from({ length: count }, () => '0-0').join(',')}`;

  it.each([
    ['/todo.txt', 'bytes=0-8,2-10', 'bytes 0-10/12', 11],
    ['/todo.txt', 'bytes=0-5,5-11', 'bytes 0-11/12', 12],
    ['/todo.txt', zeroes(13), 'bytes 0-0/12', 1],
    ['/binary.bin', 'bytes=0-150000,100000-204799', 'bytes 0-204799/204800', 204800],
  ])('%s with %s (parts add up to more than the file): serve-static 206 %s, ours 200', async (target, range, contentRange, length) => {
    const servers = await pair(FIXTURES, 'defaults');
    const [expected, actual] = await exchangeBoth(servers, target, 'GET', { Range: range });
    expect(expected.status).toBe(206);
    expect(expected.headers['content-range']).toBe(contentRange);
    expect(expected.headers['content-length']).toBe(String(length));
    expect(actual.status).toBe(200);
    expect(actual.headers['content-range']).toBeUndefined();
    expect(actual.headers['content-length']).toBe(target === '/todo.txt' ? '12' : '204800');
    if (target === '/todo.txt') {
      expect(expected.body).toBe(TODO.slice(0, length));
      expect(actual.body).toBe(TODO);
    }
  });

  it.each([32, 33, 100])('/binary.bin with bytes=0-0 ×%i (32 or more parts): serve-static 206, ours 200', async (count) => {
    const servers = await pair(FIXTURES, 'defaults');
    const [expected, actual] = await exchangeBoth(servers, '/binary.bin', 'GET', { Range: zeroes(count) });
    expect([expected.status, expected.headers['content-range'], expected.body]).toEqual([206, 'bytes 0-0/204800', 'base64:AA==']);
    expect([actual.status, actual.headers['content-range'], actual.headers['content-length']]).toEqual([200, undefined, '204800']);
  });

  it.each([
    ['/binary.bin', zeroes(31), 'bytes 0-0/204800'],
    ['/todo.txt', 'bytes=0-5,6-11', 'bytes 0-11/12'],
  ])('just inside the rule, both agree: %s with %s is a 206 %s', async (target, range, contentRange) => {
    const servers = await pair(FIXTURES, 'defaults');
    const [expected, actual] = await exchangeBoth(servers, target, 'GET', { Range: range });
    expect(expected.status).toBe(206);
    expect(expected.headers['content-range']).toBe(contentRange);
    expect(actual).toEqual(expected);
  });
});
