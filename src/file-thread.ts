import { AsyncResource } from 'node:async_hooks';
import { Stats } from 'node:fs';
import { setTimeout as timersSetTimeout } from 'node:timers';
import { MessageChannel, Worker } from 'node:worker_threads';
import {
  DIRECTORY as DIRECTORY_CANDIDATE,
  ONE_READ_LIMIT,
  OPEN_FLAGS,
  OTHER as OTHER_CANDIDATE,
  openCandidate,
  statCandidate,
  type Candidate,
  type Probe,
} from './open.js';
import { SIDECARS } from './options.js';
import { RUNTIME_IS_NODE } from './runtime.js';

/**
 * One thread that opens a path, `fstat`s the descriptor and reads a small file whole, in one hop.
 *
 * Through libuv's pool, a 1 KB response is four round trips (open, fstat, read, close), each a wake-up of a
 * pool thread and a completion back on the event loop; on a server given one core, those switches cost more
 * than everything else the request does. This thread makes the same calls, in the same order and on the same
 * descriptor, but synchronously and back to back, and the event loop hears once. The main thread never waits:
 * requests and answers pass through shared memory, answers arrive through `Atomics.waitAsync`.
 *
 * Whenever the thread cannot take a probe (not started yet, all slots busy, a path too long for a slot, the
 * thread gone), the caller takes the callback path through libuv instead, with the same outcome.
 *
 * What it must keep of the path it replaces:
 * - descriptors: the thread never hands one over. It opens, reads and closes a small file itself; a larger
 *   one is closed there and opened again through libuv by the caller, which streams from its own descriptor.
 *   (A descriptor opened on one thread and closed on another makes Node warn and, when the opening thread
 *   ends, close a number that may belong to someone else by then; on Deno it is not usable at all.)
 * - async context: each probe's callback runs in the async context of the request that made it, although
 *   the answers of a batch arrive through one shared wait;
 * - timers: no wake-up goes through a global that test tools replace (fake timers patch `setImmediate`);
 * - runtimes: it runs on Node only; Bun and Deno take the libuv path (their fs and workers differ).
 */

/** Probes in flight at once; more than this go through libuv's pool. Pages of a slot are touched only when used. */
const SLOTS = 128;
/** Bytes per slot: the path going in; the body, or an error description, coming back. */
const SLOT_BYTES = ONE_READ_LIMIT;
/** Float64 numbers per slot: see the per-slot fields below. */
const FIELDS = 26;

/** Control words (Int32): two counters the two sides wait on, whether the thread sleeps, one state per slot. */
const SUBMITTED = 0;
const COMPLETED = 1;
const SLEEPING = 2;
const STATE_BASE = 3;
const FREE = 0;
const PENDING = 1;
const DONE = 2;

/** What the thread found: the `kind` field of a slot. */
const BODY = 1;
/** A regular file not read whole (too large, or it changed while read), closed again: the caller opens it. */
const LARGE = 2;
const DIRECTORY = 3;
const OTHER = 4;
/**
 * An error: `code`, `syscall` and `message` in the slot's bytes, NUL-separated; `errno` in ERRNO. A message
 * that ended with the quoted path (Node's `ENOENT: ..., open '/x'`) comes without it (MESSAGE_HAS_PATH),
 * so a description never outgrows its slot however long the path.
 */
const ERROR = 5;
/** A file found by `stat` alone. */
const STATTED = 6;

/**
 * Per-slot Float64 fields. The 14 `fs.Stats` numbers start at STAT, in the order Node's Stats lists them;
 * the times of its four Dates, as the runtime built them, at DATES.
 */
const PATH_BYTES = 0;
const KIND = 1;
const ERRNO = 2;
const OUT_BYTES = 3;
const STAT = 4;
/** 1: only `stat` the path (HEAD, conditional GETs), as `statCandidate` does; 0: open and read. */
const STAT_ONLY = 18;
const DATES = 19;
const MESSAGE_HAS_PATH = 23;
/** Going in, the sidecars to look for beside a regular file (bits of `SIDECARS`); coming back, those found fresh. */
const SIDECARS_WANTED = 24;
const SIDECARS_FOUND = 25;
/** The bit and suffix of each sidecar, as in `SIDECARS` (options.ts). */
const SIDECAR_SUFFIXES: readonly (readonly [number, string])[] = Object.values(SIDECARS).map((sidecar) => [sidecar.bit, sidecar.suffix]);

/** The `type` of the async resources that carry each probe's context (async_hooks users see it). */
const ASYNC_RESOURCE_TYPE = 'BRISK_STATIC_PROBE';

/** An error message longer than this is cut (descriptions of ordinary errors are far shorter). */
const MESSAGE_LIMIT = 1024;

const CONTROL_WORDS = STATE_BASE + SLOTS;
const META_OFFSET = Math.ceil((CONTROL_WORDS * 4) / 8) * 8;
const DATA_OFFSET = META_OFFSET + SLOTS * FIELDS * 8;

/** The indices and codes above, for the thread, whose code cannot see this module's constants. */
const CODES = Object.freeze({
  submitted: SUBMITTED,
  completed: COMPLETED,
  sleeping: SLEEPING,
  stateBase: STATE_BASE,
  pending: PENDING,
  done: DONE,
  body: BODY,
  large: LARGE,
  directory: DIRECTORY,
  other: OTHER,
  error: ERROR,
  statted: STATTED,
  pathBytes: PATH_BYTES,
  kind: KIND,
  errno: ERRNO,
  outBytes: OUT_BYTES,
  stat: STAT,
  statOnly: STAT_ONLY,
  dates: DATES,
  messageHasPath: MESSAGE_HAS_PATH,
  messageLimit: MESSAGE_LIMIT,
  sidecarsWanted: SIDECARS_WANTED,
  sidecarsFound: SIDECARS_FOUND,
  sidecarSuffixes: SIDECAR_SUFFIXES,
});

/** Shared-memory layout, handed to the thread (its code cannot see this module's constants). */
interface Layout {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
  readonly fields: number;
  readonly metaOffset: number;
  readonly dataOffset: number;
  readonly openFlags: number;
  readonly codes: typeof CODES;
}

/**
 * The thread's code. It runs from its own source text (`eval`), so it must not use anything from this
 * module: constants come in `workerData` (the layout and CODES), modules from `process.getBuiltinModule`.
 */
function threadMain(): void {
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
  // A pending `waitAsync` does not keep an event loop alive: this listener does, so the thread does not end
  // when it falls idle. (The main side unrefs the thread: it never keeps the process alive.)
  parentPort?.on('message', () => undefined);
  const fs = process.getBuiltinModule('node:fs');
  const layout = workerData as Layout;
  // Errors here are described to the main thread by code, errno, syscall and message, never thrown on: a
  // stack trace would only cost time on every miss.
  Error.stackTraceLimit = 0;
  const { slots, slotBytes, fields, openFlags } = layout;
  const codes = layout.codes;
  const { submitted, completed, sleeping, stateBase, pending, done, kind, outBytes } = codes;
  const control = new Int32Array(layout.buffer, 0, stateBase + slots);
  const meta = new Float64Array(layout.buffer, layout.metaOffset, slots * fields);
  const bytes = Buffer.from(layout.buffer);

  /** The 14 numbers of an `fs.Stats` and the times of its Dates, in the order `statsOf` reads them back. */
  const describe = (base: number, stat: import('node:fs').Stats): void => {
    const at = base + codes.stat;
    meta[at] = stat.dev;
    meta[at + 1] = stat.mode;
    meta[at + 2] = stat.nlink;
    meta[at + 3] = stat.uid;
    meta[at + 4] = stat.gid;
    meta[at + 5] = stat.rdev;
    meta[at + 6] = stat.blksize;
    meta[at + 7] = stat.ino;
    meta[at + 8] = stat.size;
    meta[at + 9] = stat.blocks;
    meta[at + 10] = stat.atimeMs;
    meta[at + 11] = stat.mtimeMs;
    meta[at + 12] = stat.ctimeMs;
    meta[at + 13] = stat.birthtimeMs;
    const dates = base + codes.dates;
    meta[dates] = stat.atime.getTime();
    meta[dates + 1] = stat.mtime.getTime();
    meta[dates + 2] = stat.ctime.getTime();
    meta[dates + 3] = stat.birthtime.getTime();
  };

  const fail = (base: number, offset: number, path: string, error: NodeJS.ErrnoException): void => {
    let message = String(error.message);
    const quotedPath = ` '${path}'`;
    const hasPath = message.endsWith(quotedPath);
    if (hasPath) message = message.slice(0, message.length - quotedPath.length);
    if (message.length > codes.messageLimit) message = message.slice(0, codes.messageLimit);
    const text = `${error.code ?? ''}\0${error.syscall ?? ''}\0${message}`;
    meta[base + codes.errno] = typeof error.errno === 'number' ? error.errno : 0;
    meta[base + codes.messageHasPath] = hasPath ? 1 : 0;
    meta[base + outBytes] = bytes.write(text, offset, slotBytes, 'utf8');
    meta[base + kind] = codes.error;
  };

  /**
   * Which wanted sidecars sit beside a regular file as regular files at least as new as it, by `stat` (what
   * `findSidecars` in lookup.ts does through libuv). A sidecar that cannot be stat'ed is not there.
   */
  const findSidecars = (base: number, path: string, mtimeMs: number): void => {
    const wanted = meta[base + codes.sidecarsWanted]!;
    let found = 0;
    if (wanted !== 0) {
      for (const [bit, suffix] of codes.sidecarSuffixes) {
        if ((wanted & bit) === 0) continue;
        try {
          const stat = fs.statSync(path + suffix, { throwIfNoEntry: false });
          if (stat !== undefined && stat.isFile() && stat.mtimeMs >= mtimeMs) found |= bit;
        } catch {
          // Unreadable: not offered.
        }
      }
    }
    meta[base + codes.sidecarsFound] = found;
  };

  const statOnly = (base: number, offset: number, path: string): void => {
    try {
      const stat = fs.statSync(path);
      describe(base, stat);
      const isFile = stat.isFile();
      if (isFile) findSidecars(base, path, stat.mtimeMs);
      meta[base + kind] = isFile ? codes.statted : stat.isDirectory() ? codes.directory : codes.other;
    } catch (caught) {
      fail(base, offset, path, caught as NodeJS.ErrnoException);
    }
  };

  const serve = (slot: number): void => {
    const base = slot * fields;
    const offset = layout.dataOffset + slot * slotBytes;
    const path = bytes.toString('utf8', offset, offset + meta[base + codes.pathBytes]!);
    if (meta[base + codes.statOnly] === 1) {
      statOnly(base, offset, path);
      return;
    }
    let fd = -1;
    try {
      fd = fs.openSync(path, openFlags);
      const stat = fs.fstatSync(fd);
      describe(base, stat);
      if (stat.isFile()) {
        findSidecars(base, path, stat.mtimeMs);
        const size = stat.size;
        // A file too large for a slot, or a read that falls short (the file shrank) or fails, is left to
        // the caller, which opens the file itself and handles all three already.
        let bytesRead = -1;
        if (size <= slotBytes) {
          try {
            bytesRead = size === 0 ? 0 : fs.readSync(fd, bytes, offset, size, 0);
          } catch {
            bytesRead = -1;
          }
        }
        fs.closeSync(fd);
        if (bytesRead === size) {
          meta[base + outBytes] = size;
          meta[base + kind] = codes.body;
        } else {
          meta[base + kind] = codes.large;
        }
        return;
      }
      fs.closeSync(fd);
      // FIFOs, sockets and devices are `other`.
      meta[base + kind] = stat.isDirectory() ? codes.directory : codes.other;
    } catch (caught) {
      const error = caught as NodeJS.ErrnoException;
      if (fd !== -1) {
        try {
          fs.closeSync(fd);
        } catch {
          // The descriptor is gone either way.
        }
      }
      // Opening a Unix socket fails with ENXIO: it exists, but it is not a file.
      if (error.code === 'ENXIO') meta[base + kind] = codes.other;
      else fail(base, offset, path, error);
    }
  };

  // `submitted` counts submissions; `sleeping` says the thread sleeps (the other side only wakes a sleeping
  // thread: it adds to `submitted` before reading `sleeping`, and this side sets `sleeping` before its last
  // look at `submitted`). While busy, the thread blocks in `Atomics.wait` between batches (the cheapest
  // wake-up), but it returns to its event loop every so many batches, and sleeps there once idle: V8 runs its
  // garbage-collection tasks on that loop, and a thread that never returns to it grows its heap without bound.
  let seen = 0;
  const run = (): void => {
    Atomics.store(control, sleeping, 0);
    for (let batch = 0; batch < 64; batch++) {
      if (Atomics.load(control, submitted) === seen) {
        Atomics.store(control, sleeping, 1);
        if (Atomics.wait(control, submitted, seen, 20) === 'timed-out') {
          const wait = Atomics.waitAsync(control, submitted, seen);
          if (wait.async) {
            void wait.value.then(run);
            return;
          }
        }
        Atomics.store(control, sleeping, 0);
      }
      seen = Atomics.load(control, submitted);
      for (let slot = 0; slot < slots; slot++) {
        if (Atomics.load(control, stateBase + slot) !== pending) continue;
        serve(slot);
        Atomics.store(control, stateBase + slot, done);
        Atomics.add(control, completed, 1);
        Atomics.notify(control, completed);
      }
    }
    setImmediate(run);
  };
  run();
}

type Done = (candidate: Candidate) => void;

/** The main-thread side: hands probes to the thread and delivers what comes back. */
export class FileThread {
  /** Probes answered by the thread (tests read this to know which path a request took). */
  answered = 0;
  private readonly control: Int32Array;
  private readonly meta: Float64Array;
  private readonly bytes: Buffer;
  private readonly worker: Worker;
  /**
   * Wakes the thread at the end of this turn of the event loop. A message port, not `setImmediate`: fake
   * timers (vitest, Jest, sinon) replace `setImmediate`, and a wake-up they swallow would hang every request.
   */
  private readonly waker: MessageChannel;
  private readonly free: number[] = [];
  private readonly waiting: (Done | undefined)[] = new Array<Done | undefined>(SLOTS).fill(undefined);
  private readonly paths: string[] = new Array<string>(SLOTS).fill('');
  /** The async context of each probe's caller, restored around its callback. */
  private readonly contexts: (AsyncResource | undefined)[] = new Array<AsyncResource | undefined>(SLOTS).fill(undefined);
  private inFlight = 0;
  private completedSeen = 0;
  private armed = false;
  private wakeScheduled = false;
  private state: 'starting' | 'running' | 'gone' = 'starting';
  /** Settles once the thread runs (true) or could not start (false). */
  readonly ready: Promise<boolean>;

  constructor() {
    const buffer = new SharedArrayBuffer(DATA_OFFSET + SLOTS * SLOT_BYTES);
    this.control = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.meta = new Float64Array(buffer, META_OFFSET, SLOTS * FIELDS);
    this.bytes = Buffer.from(buffer);
    for (let slot = SLOTS - 1; slot >= 0; slot--) this.free.push(slot);
    const layout: Layout = {
      buffer,
      slots: SLOTS,
      slotBytes: SLOT_BYTES,
      fields: FIELDS,
      metaOffset: META_OFFSET,
      dataOffset: DATA_OFFSET,
      openFlags: OPEN_FLAGS,
      codes: CODES,
    };
    this.worker = new Worker(`(${threadMain.toString()})()`, { eval: true, workerData: layout, stdout: false, stderr: false });
    // The thread must never keep a process alive that has nothing else to do.
    this.worker.unref();
    this.waker = new MessageChannel();
    this.waker.port1.on('message', this.wake);
    this.waker.port1.unref();
    this.ready = new Promise((resolve) => {
      this.worker.once('online', () => {
        if (this.state === 'starting') this.state = 'running';
        resolve(this.state === 'running');
      });
      this.worker.once('error', () => resolve(false));
      this.worker.once('exit', () => resolve(false));
    });
    this.worker.on('error', this.retire);
    this.worker.once('exit', this.retire);
  }

  /**
   * Probes `path` on the thread: `done` gets a `Candidate` like `openCandidate`'s, except that a regular file
   * of at most ONE_READ_LIMIT bytes comes with its `body` and no descriptor (`fd` -1), and a larger one is
   * opened through libuv by `openCandidate` itself. `done` runs in the caller's async context. Returns false,
   * without calling `done`, when the thread cannot take it now.
   */
  probe(path: string, done: Done, statOnly = false, sidecars = 0): boolean {
    // Three bytes per UTF-16 unit covers any path; longer ones (far past PATH_MAX anyway) go the other way.
    if (this.state !== 'running' || path.length * 3 > SLOT_BYTES) return false;
    const slot = this.free.pop();
    if (slot === undefined) return false;
    const base = slot * FIELDS;
    this.meta[base + PATH_BYTES] = this.bytes.write(path, DATA_OFFSET + slot * SLOT_BYTES, SLOT_BYTES, 'utf8');
    this.meta[base + STAT_ONLY] = statOnly ? 1 : 0;
    this.meta[base + SIDECARS_WANTED] = sidecars;
    // The answer comes back through a wait shared by the whole batch: run it in this request's context, as a
    // libuv callback would be (AsyncLocalStorage: request ids, tracing spans). A resource and
    // `runInAsyncScope` cost about 60 ns; `AsyncResource.bind` about 9 µs (it redefines the bound function's
    // properties), which halved the 1 KB rate.
    this.waiting[slot] = done;
    this.contexts[slot] = new AsyncResource(ASYNC_RESOURCE_TYPE);
    this.paths[slot] = path;
    this.inFlight++;
    Atomics.store(this.control, STATE_BASE + slot, PENDING);
    Atomics.add(this.control, SUBMITTED, 1);
    // One wake-up for everything submitted in this turn of the event loop, not one per request: each
    // wake-up is a switch to the thread and back.
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      this.waker.port2.postMessage(null);
    }
    this.arm();
    return true;
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    if (Atomics.load(this.control, SLEEPING) === 1) Atomics.notify(this.control, SUBMITTED);
  };

  /** Stops the thread; probes in flight are answered through the fallback. For tests. */
  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  private arm(): void {
    if (this.armed || this.inFlight === 0) return;
    this.armed = true;
    const wait = Atomics.waitAsync(this.control, COMPLETED, this.completedSeen);
    if (wait.async) void wait.value.then(this.collect);
    else queueMicrotask(this.collect);
  }

  /**
   * Takes every finished slot, frees it, then calls back (a callback may probe again). A callback that throws
   * does not keep the others from running; the first error is rethrown after them, so it surfaces as it
   * would from a libuv callback.
   */
  private readonly collect = (): void => {
    this.armed = false;
    if (this.state === 'gone') return;
    this.completedSeen = Atomics.load(this.control, COMPLETED);
    const answers: [Done, Candidate | undefined, string, AsyncResource][] = [];
    for (let slot = 0; slot < SLOTS && answers.length < this.inFlight; slot++) {
      if (Atomics.load(this.control, STATE_BASE + slot) !== DONE) continue;
      const candidate = this.candidateOf(slot);
      let done = this.waiting[slot] as Done;
      const base = slot * FIELDS;
      if (candidate === undefined && this.meta[base + KIND] === LARGE && this.meta[base + SIDECARS_WANTED] !== 0) {
        // The file is opened again through libuv; what the thread found beside it still holds (the lookup
        // judges the sidecar it picks against the file opened), so it is not looked for a second time.
        const sidecars = this.meta[base + SIDECARS_FOUND] as number;
        const caller = done;
        done = (opened) => caller(opened.kind === 'file' ? { ...opened, sidecars } : opened);
      }
      answers.push([done, candidate, this.paths[slot] as string, this.contexts[slot] as AsyncResource]);
      this.release(slot);
    }
    this.inFlight -= answers.length;
    this.answered += answers.length;
    this.arm();
    let thrown: { error: unknown } | undefined;
    for (const [done, candidate, path, context] of answers) {
      try {
        // No answer to hand on (a large file, or one that changed while read): libuv opens it, as without
        // the thread.
        if (candidate === undefined) context.runInAsyncScope(openCandidate, null, path, undefined, done);
        else context.runInAsyncScope(done, null, candidate);
      } catch (error) {
        thrown ??= { error };
      }
    }
    if (thrown !== undefined) throw thrown.error;
  };

  private release(slot: number): void {
    this.waiting[slot] = undefined;
    this.contexts[slot] = undefined;
    this.paths[slot] = '';
    Atomics.store(this.control, STATE_BASE + slot, FREE);
    this.free.push(slot);
  }

  /** What the slot's answer means, or undefined when the caller must open the file itself. */
  private candidateOf(slot: number): Candidate | undefined {
    const meta = this.meta;
    const base = slot * FIELDS;
    const offset = DATA_OFFSET + slot * SLOT_BYTES;
    switch (meta[base + KIND]) {
      case BODY: {
        const size = meta[base + OUT_BYTES] as number;
        const body = Buffer.allocUnsafe(size);
        this.bytes.copy(body, 0, offset, offset + size);
        return { kind: 'file', fd: -1, stat: statsOf(meta, base), body, sidecars: meta[base + SIDECARS_FOUND] as number };
      }
      case STATTED:
        return { kind: 'file', fd: -1, stat: statsOf(meta, base), sidecars: meta[base + SIDECARS_FOUND] as number };
      case DIRECTORY:
        return DIRECTORY_CANDIDATE;
      case OTHER:
        return OTHER_CANDIDATE;
      case ERROR:
        return { kind: 'error', error: this.errorOf(slot) };
      default:
        return undefined;
    }
  }

  /** The error the thread described, with the fields a libuv error has (path included). */
  private errorOf(slot: number): NodeJS.ErrnoException {
    const base = slot * FIELDS;
    const offset = DATA_OFFSET + slot * SLOT_BYTES;
    const path = this.paths[slot] as string;
    const [code = '', syscall = '', message = ''] = this.bytes
      .toString('utf8', offset, offset + (this.meta[base + OUT_BYTES] as number))
      .split('\0');
    const error = errorWithoutStack(this.meta[base + MESSAGE_HAS_PATH] === 1 ? `${message} '${path}'` : message);
    if (code !== '') error.code = code;
    const errno = this.meta[base + ERRNO] as number;
    if (errno !== 0) error.errno = errno;
    if (syscall !== '') error.syscall = syscall;
    error.path = path;
    return error;
  }

  /**
   * The thread stopped (terminated, or crashed): answers already written are delivered, the rest are probed
   * again through the fallback, and so is everything after.
   */
  private readonly retire = (): void => {
    if (this.state === 'gone') return;
    this.collect();
    this.state = 'gone';
    this.waker.port1.close();
    for (let slot = 0; slot < SLOTS; slot++) {
      const done = this.waiting[slot];
      const context = this.contexts[slot];
      if (done === undefined || context === undefined) continue;
      const path = this.paths[slot] as string;
      const statOnly = this.meta[slot * FIELDS + STAT_ONLY] === 1;
      this.release(slot);
      this.inFlight--;
      if (statOnly) context.runInAsyncScope(statCandidate, null, path, done);
      else context.runInAsyncScope(openCandidate, null, path, undefined, done);
    }
  };
}

/** Whether `Error.stackTraceLimit` may be set (not under `--frozen-intrinsics`). */
const STACK_LIMIT_WRITABLE = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * An error without a captured stack trace. libuv's errors carry none worth reading either (they are made in a
 * callback from native code, with no caller's frames), and capturing one cost 7% of a miss's time: most misses
 * fall through, and the error is never looked at.
 */
function errorWithoutStack(message: string): NodeJS.ErrnoException {
  if (!STACK_LIMIT_WRITABLE) return new Error(message);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new Error(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * An `fs.Stats` from the numbers the thread wrote, with the Date fields Node 20 sets eagerly. The Dates are
 * rebuilt from the times of the thread's own Dates, so they (and the ETag and Last-Modified made from them)
 * are exactly what the runtime's fs gives on the main thread.
 */
function statsOf(meta: Float64Array, base: number): Stats {
  const at = base + STAT;
  const dates = base + DATES;
  const stats = Object.create(Stats.prototype) as { -readonly [K in keyof Stats]: Stats[K] };
  stats.dev = meta[at] as number;
  stats.mode = meta[at + 1] as number;
  stats.nlink = meta[at + 2] as number;
  stats.uid = meta[at + 3] as number;
  stats.gid = meta[at + 4] as number;
  stats.rdev = meta[at + 5] as number;
  stats.blksize = meta[at + 6] as number;
  stats.ino = meta[at + 7] as number;
  stats.size = meta[at + 8] as number;
  stats.blocks = meta[at + 9] as number;
  stats.atimeMs = meta[at + 10] as number;
  stats.mtimeMs = meta[at + 11] as number;
  stats.ctimeMs = meta[at + 12] as number;
  stats.birthtimeMs = meta[at + 13] as number;
  stats.atime = new Date(meta[dates] as number);
  stats.mtime = new Date(meta[dates + 1] as number);
  stats.ctime = new Date(meta[dates + 2] as number);
  stats.birthtime = new Date(meta[dates + 3] as number);
  return stats as Stats;
}

let shared: FileThread | null | undefined;
let scheduled = false;

/**
 * The thread is used on Node only. Bun and Deno run the same code through their `node:` modules, but their
 * workers and fs differ where it matters (a descriptor opened in one Deno isolate is unusable in another),
 * so there every probe takes the libuv path, as serve-static's do.
 */
function threadSupported(): boolean {
  return RUNTIME_IS_NODE && typeof Atomics.waitAsync === 'function' && typeof process.getBuiltinModule === 'function';
}

/**
 * Starts the process's file thread (once; shared by every middleware) and returns it, or null where it is not
 * used (Bun, Deno, a permission model without `--allow-worker`, a runtime without `Atomics.waitAsync`).
 */
export function startFileThread(): FileThread | null {
  if (shared === undefined) {
    try {
      shared = threadSupported() ? new FileThread() : null;
    } catch {
      shared = null;
    }
  }
  return shared;
}

/**
 * The probe for lookups that read the file and check no symlinks: on the file thread when it can take it,
 * else `openCandidate` through libuv. The thread is started shortly after the first request, so it costs
 * nothing at startup and the first response does not wait for it.
 */
export const probeOnThread: Probe = (path, done) => {
  if (!threadTakes(path, done, false, 0)) openCandidate(path, undefined, done);
};

/** `statCandidate` on the file thread when it can take it (lookups that need no body). */
export const statOnThread: Probe = (path, done) => {
  if (!threadTakes(path, done, true, 0)) statCandidate(path, done);
};

/**
 * `probeOnThread` or `statOnThread` that also looks for the sidecars in `sidecars` (a mask of `SIDECARS` bits)
 * beside a regular file found, in the same hop: a file with no sidecar then costs a failed `stat` per coding
 * on the thread, not a round trip each through libuv. The candidate says what it found in `sidecars`; one
 * answered through libuv leaves it unset.
 */
export function probeWithSidecars(statOnly: boolean, sidecars: number): Probe {
  if (sidecars === 0) return statOnly ? statOnThread : probeOnThread;
  return statOnly
    ? (path, done) => {
        if (!threadTakes(path, done, true, sidecars)) statCandidate(path, done);
      }
    : (path, done) => {
        if (!threadTakes(path, done, false, sidecars)) openCandidate(path, undefined, done);
      };
}

/**
 * `node:timers`' own `setTimeout`, taken when this module loads (a bundle would otherwise look it up at each
 * call): fake timers installed later do not swallow the thread's start.
 */
const realSetTimeout = timersSetTimeout;

/**
 * How long after the first request the thread starts. Creating it costs the main thread a few milliseconds and
 * its start-up competes for the CPU for tens more: the first responses go through libuv instead.
 */
const START_DELAY_MS = 100;

function threadTakes(path: string, done: Done, statOnly: boolean, sidecars: number): boolean {
  if (shared === undefined && !scheduled) {
    scheduled = true;
    realSetTimeout(startFileThread, START_DELAY_MS).unref();
  }
  return shared != null && shared.probe(path, done, statOnly, sidecars);
}
