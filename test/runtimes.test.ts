import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, tempDir } from './helpers.js';
import { BUN, CHILD_LIFETIME_MS, DENO, DIST, launch, REPO, stop, type Runtime } from './runtimes/launch.js';

/**
 * The package on Bun and on Deno, both installed from npm as devDependencies, each running the app in
 * test/runtimes/app.mjs through its own `node:http`: a plain server with `serveStatic(root)`, and an Express 5
 * app with `/static` (this package) beside `/reference` (serve-static, the control) and a 404 handler. The
 * requests are sent from here (Node) with `node:http`.
 *
 * With default options the package's file thread starts 100 ms after the first request; every test after the
 * first request runs once it could have taken over, and the validators of the very first responses (before
 * any thread) are the ones a browser would revalidate with.
 */

const APP = join(REPO, 'test', 'runtimes', 'app.mjs');
/** One request never waits longer than this: a hung response is a failure, not a hung suite. */
const REQUEST_TIMEOUT_MS = 5_000;
/** How long every file is requested again and again after the warm-up. */
const SOAK_MS = 1_200;

const RUNTIMES: readonly Runtime[] = [BUN, DENO];

interface Fixture {
  readonly name: string;
  readonly type: string;
  readonly bytes: Buffer;
  readonly sha256: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function fixture(name: string, type: string, bytes: Buffer): Fixture {
  return { name, type, bytes, sha256: sha256(bytes) };
}

function jsText(size: number): Buffer {
  const line = 'export const value = "brisk-static on another runtime";\n';
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

/** 1 KB to 3 MiB, on both sides of the 64 KiB one-hop limit of the file thread. */
const FILES: readonly Fixture[] = [
  fixture('logo.png', 'image/png', readFileSync(join(FIXTURES, 'logo.png'))),
  fixture('page.txt', 'text/plain; charset=utf-8', Buffer.from('brisk-static: a kilobyte of text.\n'.repeat(31).slice(0, 1024))),
  fixture('font.woff2', 'font/woff2', randomBytes(64 * 1024)),
  fixture('app.js', 'text/javascript; charset=utf-8', jsText(64 * 1024 + 1)),
  fixture('data.bin', 'application/octet-stream', randomBytes(300 * 1024)),
  fixture('video.mp4', 'video/mp4', randomBytes(3 * 1024 * 1024)),
];

const INDEX_HTML = '<!doctype html><title>sub</title>\n';

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A reply, or why there was none (connection reset, timeout): never a rejection. */
type Outcome = Reply | { readonly error: string };

function send(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => resolve({ error: `response: ${error.message}` }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${String(REQUEST_TIMEOUT_MS)} ms`)));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end();
  });
}

/** `send`, failing the test with the reason when there is no reply. */
async function fetchReply(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> {
  const outcome = await send(port, path, method, headers);
  if ('error' in outcome) throw new Error(`${method} ${path}: ${outcome.error}`);
  return outcome;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Where a request goes: the plain server at `/`, or the Express app under `/static` or `/reference`. */
interface Door {
  readonly name: 'plain' | 'static' | 'reference';
  readonly port: number;
  readonly prefix: string;
}

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly runtime: string;
  readonly doors: { readonly plain: Door; readonly static: Door; readonly reference: Door };
  readonly stderr: () => string;
}

/** What app.mjs prints once both servers listen. */
interface Ports {
  readonly runtime: string;
  readonly plain: number;
  readonly express: number;
}

async function startChild(runtime: Runtime, root: string, denoDir: string): Promise<Child> {
  const launched = await launch<Ports>(runtime, APP, [DIST, root, String(CHILD_LIFETIME_MS)], denoDir);
  const ports = launched.first;
  return {
    process: launched.process,
    runtime: ports.runtime,
    doors: {
      plain: { name: 'plain', port: ports.plain, prefix: '' },
      static: { name: 'static', port: ports.express, prefix: '/static' },
      reference: { name: 'reference', port: ports.express, prefix: '/reference' },
    },
    stderr: launched.stderr,
  };
}

const header = (reply: Reply, name: string): string | undefined => {
  const value = reply.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

describe.each(RUNTIMES)('on $name, through its node:http', (runtime) => {
  const dir = tempDir('brisk-static-runtimes-');
  const root = join(dir.path, 'root');
  let child: Child | undefined;
  /** The first reply for each door and file, sent before the file thread could start. */
  const first = new Map<string, Reply>();
  const key = (door: Door, file: Fixture): string => `${door.name} ${file.name}`;

  function doors(): Child['doors'] {
    if (child === undefined) throw new Error(`${runtime.name} did not start`);
    return child.doors;
  }

  function firstReply(door: Door, file: Fixture): Reply {
    const reply = first.get(key(door, file));
    if (reply === undefined) throw new Error(`no first reply for ${key(door, file)}`);
    return reply;
  }

  beforeAll(async () => {
    expect(existsSync(runtime.command), `${runtime.command} (devDependency) is installed`).toBe(true);
    expect(existsSync(DIST), `${DIST} is built (npm run build)`).toBe(true);
    mkdirSync(join(root, 'sub'), { recursive: true });
    for (const [i, file] of FILES.entries()) {
      writeFileSync(join(root, file.name), file.bytes);
      // A modification time with nanoseconds, as deploys and checkouts leave them (this machine's clock
      // stamps new files at a fixed .053 ms past the millisecond): past half a millisecond, so that a
      // path rounding `mtimeMs` and one truncating it (Bun's `Stats#mtime`) disagree.
      const seconds = 1_750_000_000 + i * 3_600 + 0.123_789;
      utimesSync(join(root, file.name), seconds, seconds);
    }
    writeFileSync(join(root, 'sub', 'index.html'), INDEX_HTML);
    child = await startChild(runtime, root, join(dir.path, 'deno-dir'));
    const { plain, static: ours, reference } = child.doors;
    // Every file through every door at once: all of these are asked before the thread's 100 ms delay ends.
    const requests = [plain, ours, reference].flatMap((door) =>
      FILES.map(async (file) => first.set(key(door, file), await fetchReply(door.port, `${door.prefix}/${file.name}`))),
    );
    await Promise.all(requests);
    // Warm-up: whatever the package starts after its first request (the file thread) is up by now.
    await sleep(300);
  }, 40_000);

  afterAll(async () => {
    await stop(child);
    dir.remove();
  });

  it('runs the app on the runtime itself', () => {
    expect(child?.runtime).toMatch(runtime.reports);
  });

  it('serves every file byte-identical with its headers, and one ETag per file, over >= 1 s of requests', async () => {
    const { plain, static: ours } = doors();
    const problems = new Map<string, number>();
    const note = (problem: string): void => void problems.set(problem, (problems.get(problem) ?? 0) + 1);
    const check = (door: Door, file: Fixture, outcome: Outcome, validators: Reply | undefined): void => {
      const where = key(door, file);
      if ('error' in outcome) return note(`${where}: no reply (${outcome.error})`);
      if (outcome.status !== 200) return note(`${where}: status ${String(outcome.status)}`);
      if (sha256(outcome.body) !== file.sha256) note(`${where}: body differs (${String(outcome.body.length)} bytes)`);
      if (header(outcome, 'content-length') !== String(file.bytes.length)) note(`${where}: content-length ${String(header(outcome, 'content-length'))}`);
      if (header(outcome, 'content-type') !== file.type) note(`${where}: content-type ${String(header(outcome, 'content-type'))}`);
      if (!/^W\/"[0-9a-f]+-[0-9a-f]+"$/.test(header(outcome, 'etag') ?? '')) note(`${where}: etag ${String(header(outcome, 'etag'))}`);
      if (Number.isNaN(Date.parse(header(outcome, 'last-modified') ?? ''))) note(`${where}: last-modified ${String(header(outcome, 'last-modified'))}`);
      if (validators === undefined) return;
      if (header(outcome, 'etag') !== header(validators, 'etag')) {
        note(`${where}: etag ${String(header(outcome, 'etag'))} after ${String(header(validators, 'etag'))}`);
      }
      if (header(outcome, 'last-modified') !== header(validators, 'last-modified')) {
        note(`${where}: last-modified ${String(header(outcome, 'last-modified'))} after ${String(header(validators, 'last-modified'))}`);
      }
    };

    for (const door of [plain, ours]) for (const file of FILES) check(door, file, firstReply(door, file), undefined);
    const started = Date.now();
    let rounds = 0;
    while ((Date.now() - started < SOAK_MS || rounds < 3) && rounds < 500) {
      for (const door of [plain, ours]) {
        for (const file of FILES) check(door, file, await send(door.port, `${door.prefix}/${file.name}`), firstReply(door, file));
      }
      rounds++;
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(SOAK_MS);
    expect(Object.fromEntries(problems), `in ${String(rounds)} rounds; stderr: ${child?.stderr() ?? ''}`).toEqual({});
  }, 40_000);

  it('answers 304 to If-None-Match and If-Modified-Since with the first reply’s validators', async () => {
    const { plain, static: ours, reference } = doors();
    for (const door of [plain, ours, reference]) {
      for (const file of FILES) {
        const { etag, 'last-modified': lastModified } = firstReply(door, file).headers;
        expect(etag).toBeDefined();
        expect(lastModified).toBeDefined();
        const path = `${door.prefix}/${file.name}`;
        const byTag = await fetchReply(door.port, path, 'GET', { 'If-None-Match': etag ?? '' });
        expect([key(door, file), byTag.status, header(byTag, 'etag'), byTag.body.length]).toEqual([key(door, file), 304, etag, 0]);
        const byDate = await fetchReply(door.port, path, 'GET', { 'If-Modified-Since': lastModified ?? '' });
        expect([key(door, file), byDate.status, header(byDate, 'last-modified'), byDate.body.length]).toEqual([
          key(door, file),
          304,
          lastModified,
          0,
        ]);
      }
    }
  });

  it('answers 206 with those bytes to Range: bytes=100-199', async () => {
    const { plain, static: ours, reference } = doors();
    for (const door of [plain, ours, reference]) {
      for (const file of FILES) {
        const reply = await fetchReply(door.port, `${door.prefix}/${file.name}`, 'GET', { Range: 'bytes=100-199' });
        expect([key(door, file), reply.status, header(reply, 'content-range'), header(reply, 'content-length')]).toEqual([
          key(door, file),
          206,
          `bytes 100-199/${String(file.bytes.length)}`,
          '100',
        ]);
        expect(header(reply, 'content-type')).toBe(file.type);
        expect(reply.body.equals(file.bytes.subarray(100, 200)), `${key(door, file)} bytes 100-199`).toBe(true);
      }
    }
  });

  it('answers 416 to an unsatisfiable range', async () => {
    const { plain, static: ours, reference } = doors();
    for (const door of [plain, ours, reference]) {
      for (const file of FILES) {
        const size = String(file.bytes.length);
        const reply = await fetchReply(door.port, `${door.prefix}/${file.name}`, 'GET', { Range: `bytes=${size}-` });
        expect([key(door, file), reply.status, header(reply, 'content-range')]).toEqual([key(door, file), 416, `bytes */${size}`]);
        expect(reply.body.includes(file.bytes.subarray(0, 64)), `${key(door, file)}: no file bytes in a 416`).toBe(false);
      }
    }
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const { plain, static: ours, reference } = doors();
    for (const door of [plain, ours, reference]) {
      for (const file of FILES) {
        const reply = await fetchReply(door.port, `${door.prefix}/${file.name}`, 'HEAD');
        const get = firstReply(door, file);
        expect([key(door, file), reply.status, reply.body.length]).toEqual([key(door, file), 200, 0]);
        for (const name of ['content-length', 'content-type', 'etag', 'last-modified', 'accept-ranges', 'cache-control']) {
          expect([key(door, file), name, header(reply, name)]).toEqual([key(door, file), name, header(get, name)]);
        }
        expect(header(reply, 'content-length')).toBe(String(file.bytes.length));
      }
    }
  });

  it('redirects a directory with 301, keeping the mount prefix, and serves its index', async () => {
    const { plain, static: ours, reference } = doors();
    for (const door of [plain, ours, reference]) {
      const redirect = await fetchReply(door.port, `${door.prefix}/sub`);
      expect([door.name, redirect.status, header(redirect, 'location')]).toEqual([door.name, 301, `${door.prefix}/sub/`]);
      expect(header(redirect, 'content-type')?.toLowerCase()).toBe('text/html; charset=utf-8');
      expect(redirect.body.toString()).toContain(`${door.prefix}/sub/`);
      const index = await fetchReply(door.port, `${door.prefix}/sub/`);
      expect([door.name, index.status, header(index, 'content-type'), index.body.toString()]).toEqual([
        door.name,
        200,
        'text/html; charset=utf-8',
        INDEX_HTML,
      ]);
    }
  });

  it('lets a miss reach the app’s 404', async () => {
    const { plain, static: ours, reference } = doors();
    for (const [door, body] of [
      [plain, 'plain 404'],
      [ours, 'app 404'],
      [reference, 'app 404'],
    ] as const) {
      const reply = await fetchReply(door.port, `${door.prefix}/missing.txt`);
      expect([door.name, reply.status, reply.body.toString()]).toEqual([door.name, 404, body]);
      // Express's own 404, not a file's headers.
      expect(header(reply, 'last-modified')).toBeUndefined();
      expect(header(reply, 'content-range')).toBeUndefined();
    }
  });

  it('gives the same status, ETag and Last-Modified as serve-static in the same process', async () => {
    const { static: ours, reference } = doors();
    const validators = (reply: Reply): (string | number | undefined)[] => [
      reply.status,
      header(reply, 'etag'),
      header(reply, 'last-modified'),
      header(reply, 'content-length'),
      header(reply, 'content-type'),
    ];
    for (const file of FILES) {
      // Before the thread could answer, and now.
      expect([file.name, ...validators(firstReply(ours, file))]).toEqual([file.name, ...validators(firstReply(reference, file))]);
      const [mine, theirs] = await Promise.all([
        fetchReply(ours.port, `/static/${file.name}`),
        fetchReply(reference.port, `/reference/${file.name}`),
      ]);
      expect([file.name, ...validators(mine)]).toEqual([file.name, ...validators(theirs)]);
      expect(sha256(mine.body)).toBe(file.sha256);
      expect(sha256(theirs.body)).toBe(file.sha256);
    }
  });
});
