import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, readFileSync, readSync, Stats, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileThread, startFileThread } from '../src/file-thread.js';
import { ONE_READ_LIMIT, openCandidate, statCandidate, type Candidate } from '../src/open.js';
import { serveStatic } from '../src/index.js';
import { get, openDescriptorCount, rawRequest, serve, settledDescriptorCount, tempDir, type TestServer } from './helpers.js';

/*
 * The file thread must find exactly what the libuv path (openCandidate) finds, for every kind of path:
 * each case is probed both ways and the two answers compared, field by field.
 */
const base = tempDir();
const root = base.path;
let thread: FileThread;
let socketServer: NetServer;

const FILES: Record<string, Buffer> = {
  'small.txt': Buffer.from('small file\n'),
  'empty.txt': Buffer.alloc(0),
  'limit.bin': Buffer.alloc(ONE_READ_LIMIT, 7),
  'over-limit.bin': Buffer.alloc(ONE_READ_LIMIT + 1, 9),
  'naïve ü.txt': Buffer.from('unicode name\n'),
};

beforeAll(async () => {
  for (const [name, bytes] of Object.entries(FILES)) writeFileSync(join(root, name), bytes);
  mkdirSync(join(root, 'dir'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  symlinkSync('loop', join(root, 'loop'));
  symlinkSync('small.txt', join(root, 'link.txt'));
  socketServer = createNetServer();
  await new Promise<void>((done) => socketServer.listen(join(root, 'socket'), done));
  const started = startFileThread();
  if (started === null) throw new Error('the file thread could not start here');
  thread = started;
  expect(await thread.ready).toBe(true);
});

afterAll(() => {
  socketServer.close();
  base.remove();
});

function viaThread(path: string, statOnly = false): Promise<Candidate> {
  return new Promise((done, fail) => {
    if (!thread.probe(path, done, statOnly)) fail(new Error('the thread refused the probe'));
  });
}

function viaLibuv(path: string): Promise<Candidate> {
  return new Promise((done) => openCandidate(path, undefined, done));
}

/** Closes a candidate's descriptor (if any) after reading what it holds, so nothing leaks. */
function settle(candidate: Candidate): { kind: string; body?: Buffer; stat?: Stats; code?: string } {
  if (candidate.kind === 'error') return { kind: 'error', code: candidate.error.code ?? '' };
  if (candidate.kind !== 'file') return { kind: candidate.kind };
  let body = candidate.body;
  if (candidate.fd !== -1) {
    const bytes = Buffer.alloc(candidate.stat.size);
    const read = readSync(candidate.fd, bytes, 0, bytes.length, 0);
    closeSync(candidate.fd);
    body = bytes.subarray(0, read);
  }
  return body === undefined ? { kind: 'file', stat: candidate.stat } : { kind: 'file', stat: candidate.stat, body };
}

const STAT_FIELDS = ['dev', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'blksize', 'ino', 'size', 'blocks', 'mtimeMs', 'ctimeMs', 'birthtimeMs'] as const;

describe('the file thread finds what the libuv path finds', () => {
  const cases: [string, string][] = [
    ['a small file', 'small.txt'],
    ['an empty file', 'empty.txt'],
    ['a file of exactly the one-read limit', 'limit.bin'],
    ['a file one byte over the limit (opened again through libuv)', 'over-limit.bin'],
    ['a name with non-ASCII characters', 'naïve ü.txt'],
    ['a symlink to a file', 'link.txt'],
    ['a directory', 'dir'],
    ['a FIFO (never opened for reading, never blocking)', 'fifo'],
    ['a Unix socket', 'socket'],
    ['a missing file (ENOENT)', 'missing.txt'],
    ['a path through a file (ENOTDIR)', 'small.txt/x'],
    ['a symlink loop (ELOOP)', 'loop'],
    ['a name too long (ENAMETOOLONG)', `${'n'.repeat(300)}.txt`],
  ];

  it.each(cases)('%s', async (_label, name) => {
    const path = join(root, name);
    const threaded = await viaThread(path);
    const reference = await viaLibuv(path);
    expect(threaded.kind).toBe(reference.kind);

    if (threaded.kind === 'error' && reference.kind === 'error') {
      for (const field of ['code', 'errno', 'syscall', 'message', 'path'] as const) {
        expect(threaded.error[field]).toEqual(reference.error[field]);
      }
      expect(threaded.error).toBeInstanceOf(Error);
    }
    if (threaded.kind === 'file' && reference.kind === 'file') {
      const size = threaded.stat.size;
      // Small files come back read and closed; larger ones as a descriptor libuv opened on this thread.
      expect(threaded.body !== undefined).toBe(size <= ONE_READ_LIMIT);
      expect(threaded.fd === -1).toBe(size <= ONE_READ_LIMIT);
    }

    const [mine, theirs] = [settle(threaded), settle(reference)];
    expect(mine.code).toBe(theirs.code);
    if (mine.kind === 'file') {
      const expected = readFileSync(path);
      expect(mine.body?.equals(expected)).toBe(true);
      expect(theirs.body?.equals(expected)).toBe(true);
      const stat = mine.stat as Stats;
      expect(stat).toBeInstanceOf(Stats);
      expect(stat.isFile()).toBe(true);
      expect(stat.isDirectory()).toBe(false);
      for (const field of STAT_FIELDS) expect([field, stat[field]]).toEqual([field, (theirs.stat as Stats)[field]]);
      // ETags are built from these Dates: Node rounds the milliseconds, so must we.
      expect(stat.mtime.getTime()).toBe(statSync(path).mtime.getTime());
      expect(stat.mtime.getTime()).toBe((theirs.stat as Stats).mtime.getTime());
    }
  });

  it.each(cases)('%s, stat only (HEAD and conditional requests)', async (_label, name) => {
    const path = join(root, name);
    const threaded = await viaThread(path, true);
    const reference = await new Promise<Candidate>((done) => statCandidate(path, done));
    expect(threaded.kind).toBe(reference.kind);
    if (threaded.kind === 'error' && reference.kind === 'error') {
      for (const field of ['code', 'errno', 'syscall', 'message', 'path'] as const) {
        expect(threaded.error[field]).toEqual(reference.error[field]);
      }
    }
    if (threaded.kind === 'file' && reference.kind === 'file') {
      expect(threaded.fd).toBe(-1);
      expect(threaded.body).toBeUndefined();
      expect(threaded.stat).toBeInstanceOf(Stats);
      for (const field of STAT_FIELDS) expect([field, threaded.stat[field]]).toEqual([field, reference.stat[field]]);
      expect(threaded.stat.mtime.getTime()).toBe(reference.stat.mtime.getTime());
    }
  });

  it('describes an error whose message outgrows a slot (a path of 11,000 control characters)', async () => {
    // JSON would spell each \x01 as \u0001: six bytes a character, past the 64 KiB slot.
    const path = join(root, '\x01'.repeat(11_000));
    const threaded = await viaThread(path);
    const reference = await viaLibuv(path);
    expect(threaded.kind).toBe('error');
    expect(reference.kind).toBe('error');
    if (threaded.kind === 'error' && reference.kind === 'error') {
      expect(threaded.error.code).toBe('ENAMETOOLONG');
      for (const field of ['code', 'errno', 'syscall', 'message', 'path'] as const) {
        expect(threaded.error[field]).toEqual(reference.error[field]);
      }
    }
  });

  it('builds its errors without a stack trace and leaves Error.stackTraceLimit as it was', async () => {
    const limit = Error.stackTraceLimit;
    const answer = await viaThread(join(root, 'missing.txt'));
    expect(Error.stackTraceLimit).toBe(limit);
    expect(answer.kind).toBe('error');
    if (answer.kind === 'error') {
      expect(answer.error).toBeInstanceOf(Error);
      expect(answer.error.stack).toBe(`Error: ${answer.error.message}`);
    }
  });

  it("calls each probe back in its own caller's async context, though a batch shares one wait", async () => {
    const storage = new AsyncLocalStorage<number>();
    const before = thread.answered;
    const seen = await Promise.all(
      Array.from({ length: 64 }, (_, id) =>
        storage.run(
          id,
          () =>
            new Promise<number | undefined>((done, fail) => {
              if (!thread.probe(join(root, id % 2 === 0 ? 'small.txt' : 'missing.txt'), () => done(storage.getStore()))) {
                fail(new Error('the thread refused the probe'));
              }
            }),
        ),
      ),
    );
    expect(seen).toEqual(Array.from({ length: 64 }, (_, id) => id));
    expect(thread.answered - before).toBe(64);
  });

  it('is woken without timers, so fake timers cannot swallow the wake-up', async () => {
    const timeout = globalThis.setTimeout;
    vi.useFakeTimers();
    try {
      const answer = await Promise.race([
        viaThread(join(root, 'small.txt')),
        new Promise<'hung'>((done) => timeout(() => done('hung'), 2000)),
      ]);
      expect(answer === 'hung' ? answer : settle(answer).body?.toString()).toBe('small file\n');
    } finally {
      vi.useRealTimers();
    }
    expect(settle(await viaThread(join(root, 'small.txt'))).body?.toString()).toBe('small file\n');
  });

  it('answers many probes in flight at once, each with its own file', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `many-${String(i)}.txt`);
    for (const name of names) writeFileSync(join(root, name), `${name}\n`);
    const before = thread.answered;
    // More than the thread's slots: the rest go through libuv, and every answer is still the right file.
    const answers = await Promise.all(
      names.map(
        (name) =>
          new Promise<Candidate>((done) => {
            if (!thread.probe(join(root, name), done)) openCandidate(join(root, name), undefined, done);
          }),
      ),
    );
    answers.forEach((answer, i) => {
      expect(settle(answer).body?.toString()).toBe(`${names[i] as string}\n`);
    });
    expect(thread.answered - before).toBeGreaterThan(0);
    expect(thread.answered - before).toBeLessThan(names.length);
  });
});

describe('the middleware reads small files on the thread', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve(root);
  });
  afterAll(() => server.close());

  it('serves GETs through it, and leaves no descriptor open', async () => {
    const fds = await openDescriptorCount();
    const before = thread.answered;
    for (const name of ['small.txt', 'limit.bin', 'over-limit.bin', 'empty.txt']) {
      const res = await get(`${server.url}/${encodeURIComponent(name)}`);
      const expected = FILES[name] as Buffer;
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(expected.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
    }
    const ranged = await get(`${server.url}/limit.bin`, { headers: { Range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-19/${String(ONE_READ_LIMIT)}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(Buffer.alloc(10, 7))).toBe(true);
    // A conditional GET and a HEAD are looked up with a stat, also on the thread.
    const etag = ranged.headers.get('etag') ?? '';
    const notModified = await get(`${server.url}/limit.bin`, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    const head = await get(`${server.url}/small.txt`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(FILES['small.txt']?.length));
    expect(thread.answered - before).toBe(7);
    expect(await settledDescriptorCount(fds)).toBeLessThanOrEqual(fds);
  });

  it('hands setHeaders a real fs.Stats', async () => {
    const seen: Stats[] = [];
    const hooked = await serve(root, { setHeaders: (_res, _path, stat) => seen.push(stat) });
    try {
      const res = await get(`${hooked.url}/small.txt`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('small file\n');
      expect(seen).toHaveLength(1);
      const stat = seen[0] as Stats;
      expect(stat).toBeInstanceOf(Stats);
      expect(stat.isFile()).toBe(true);
      expect(stat.size).toBe(FILES['small.txt']?.length);
      expect(stat.mtime).toEqual(statSync(join(root, 'small.txt')).mtime);
    } finally {
      await hooked.close();
    }
  });

  it('still answers after falling idle (it then sleeps in its event loop)', async () => {
    await new Promise((done) => setTimeout(done, 200));
    const before = thread.answered;
    const res = await get(`${server.url}/small.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('small file\n');
    expect(thread.answered).toBe(before + 1);
  });

  it('survives a request line of 11,000 %01 on a server that accepts 64 KiB request lines', async () => {
    const middleware = serveStatic(root);
    const server = createServer({ maxHeaderSize: 65_536 }, (req, res) =>
      middleware(req, res, (err?: { status?: number; code?: string }) => {
        res.statusCode = err?.status ?? 404;
        res.end(err?.code ?? 'fell through');
      }),
    );
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as AddressInfo).port;
    try {
      const before = thread.answered;
      const hostile = await rawRequest(port, `/${'%01'.repeat(11_000)}`);
      expect(hostile.status).toBe(404);
      expect(hostile.body.toString()).toBe('fell through');
      expect(thread.answered).toBe(before + 1);
      const after = await rawRequest(port, '/small.txt');
      expect(after.status).toBe(200);
      expect(after.body.toString()).toBe('small file\n');
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });

  // Last: it stops the process's thread for good.
  it('when the thread stops, probes in flight are answered through libuv, and so is everything after', async () => {
    const fds = await openDescriptorCount();
    // Small files (read on the thread) and larger ones (opened again through libuv), many in flight at once.
    const names = Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? 'over-limit.bin' : 'small.txt'));
    const answers = names.map(
      (name) =>
        new Promise<Candidate>((done) => {
          if (!thread.probe(join(root, name), done)) openCandidate(join(root, name), undefined, done);
        }),
    );
    await thread.stop();
    const settled = (await Promise.all(answers)).map(settle);
    settled.forEach((answer, i) => {
      expect(answer.body?.equals(FILES[names[i] as string] as Buffer)).toBe(true);
    });
    expect(thread.probe(join(root, 'small.txt'), () => undefined)).toBe(false);

    const before = thread.answered;
    const res = await get(`${server.url}/small.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('small file\n');
    expect(thread.answered).toBe(before);
    // Every descriptor was closed once (settle), none twice: the thread's own loop is gone too.
    expect(await settledDescriptorCount(fds)).toBeLessThanOrEqual(fds);
  });
});
