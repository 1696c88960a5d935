import { Stats } from 'node:fs';
import { Worker } from 'node:worker_threads';
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
 */

/** Probes in flight at once; more than this go through libuv's pool. Pages of a slot are touched only when used. */
const SLOTS = 128;
/** Bytes per slot: the path going in; the body, or an error description, coming back. */
const SLOT_BYTES = ONE_READ_LIMIT;
/** Float64 numbers per slot: see the per-slot fields below. */
const FIELDS = 20;

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
const DESCRIPTOR = 2;
const DIRECTORY = 3;
const OTHER = 4;
/** An error, described in the slot's bytes as JSON. */
const ERROR = 5;
/** A file found by `stat` alone. */
const STATTED = 6;

/** Per-slot Float64 fields. The 14 `fs.Stats` numbers start at STAT, in the order Node's Stats lists them. */
const PATH_BYTES = 0;
const KIND = 1;
const FD = 2;
const OUT_BYTES = 3;
const STAT = 4;
/** 1: only `stat` the path (HEAD, conditional GETs), as `statCandidate` does; 0: open and read. */
const STAT_ONLY = 18;

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
  descriptor: DESCRIPTOR,
  directory: DIRECTORY,
  other: OTHER,
  error: ERROR,
  statted: STATTED,
  pathBytes: PATH_BYTES,
  kind: KIND,
  fd: FD,
  outBytes: OUT_BYTES,
  stat: STAT,
  statOnly: STAT_ONLY,
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
  const { submitted, completed, sleeping, stateBase, pending, done, kind, fd: fdField, outBytes, stat: statField } = layout.codes;
  const control = new Int32Array(layout.buffer, 0, stateBase + slots);
  const meta = new Float64Array(layout.buffer, layout.metaOffset, slots * fields);
  const bytes = Buffer.from(layout.buffer);
  const codes = layout.codes;

  /** The 14 numbers of an `fs.Stats`, in the order `statsOf` reads them back. */
  const describe = (base: number, stat: import('node:fs').Stats): void => {
    const at = base + statField;
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
  };

  const fail = (base: number, offset: number, error: NodeJS.ErrnoException): void => {
    const text = JSON.stringify({ code: error.code, errno: error.errno, syscall: error.syscall, message: error.message });
    meta[base + outBytes] = bytes.write(text, offset, slotBytes, 'utf8');
    meta[base + kind] = codes.error;
  };

  const statOnly = (base: number, offset: number, path: string): void => {
    try {
      const stat = fs.statSync(path);
      describe(base, stat);
      meta[base + kind] = stat.isFile() ? codes.statted : stat.isDirectory() ? codes.directory : codes.other;
    } catch (caught) {
      fail(base, offset, caught as NodeJS.ErrnoException);
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
        meta[base + fdField] = fd;
        const size = stat.size;
        // A read that falls short (the file shrank) or fails is left to the caller, which handles both
        // already: the descriptor is handed over instead of the bytes.
        let bytesRead = -1;
        if (size <= slotBytes) {
          try {
            bytesRead = size === 0 ? 0 : fs.readSync(fd, bytes, offset, size, 0);
          } catch {
            bytesRead = -1;
          }
        }
        if (bytesRead === size) {
          fs.closeSync(fd);
          meta[base + outBytes] = size;
          meta[base + kind] = codes.body;
        } else {
          meta[base + kind] = codes.descriptor; // the caller owns fd now
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
      else fail(base, offset, error);
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
  private readonly free: number[] = [];
  private readonly waiting: (Done | undefined)[] = new Array<Done | undefined>(SLOTS).fill(undefined);
  private readonly paths: string[] = new Array<string>(SLOTS).fill('');
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
   * of at most ONE_READ_LIMIT bytes comes with its `body` (descriptor already closed, `fd` -1). Returns false,
   * without calling `done`, when the thread cannot take it now.
   */
  probe(path: string, done: Done, statOnly = false): boolean {
    // Three bytes per UTF-16 unit covers any path; longer ones (far past PATH_MAX anyway) go the other way.
    if (this.state !== 'running' || path.length * 3 > SLOT_BYTES) return false;
    const slot = this.free.pop();
    if (slot === undefined) return false;
    const base = slot * FIELDS;
    this.meta[base + PATH_BYTES] = this.bytes.write(path, DATA_OFFSET + slot * SLOT_BYTES, SLOT_BYTES, 'utf8');
    this.meta[base + STAT_ONLY] = statOnly ? 1 : 0;
    this.waiting[slot] = done;
    this.paths[slot] = path;
    this.inFlight++;
    Atomics.store(this.control, STATE_BASE + slot, PENDING);
    Atomics.add(this.control, SUBMITTED, 1);
    // One wake-up for everything submitted in this turn of the event loop, not one per request: each
    // wake-up is a switch to the thread and back.
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wake);
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

  /** Takes every finished slot, frees it, then calls back (a callback may probe again). */
  private readonly collect = (): void => {
    this.armed = false;
    if (this.state === 'gone') return;
    this.completedSeen = Atomics.load(this.control, COMPLETED);
    const answers: [Done, Candidate][] = [];
    for (let slot = 0; slot < SLOTS && answers.length < this.inFlight; slot++) {
      if (Atomics.load(this.control, STATE_BASE + slot) !== DONE) continue;
      answers.push([this.waiting[slot] as Done, this.candidateOf(slot)]);
      this.release(slot);
    }
    this.inFlight -= answers.length;
    this.answered += answers.length;
    this.arm();
    for (const [done, candidate] of answers) done(candidate);
  };

  private release(slot: number): void {
    this.waiting[slot] = undefined;
    this.paths[slot] = '';
    Atomics.store(this.control, STATE_BASE + slot, FREE);
    this.free.push(slot);
  }

  private candidateOf(slot: number): Candidate {
    const meta = this.meta;
    const base = slot * FIELDS;
    const offset = DATA_OFFSET + slot * SLOT_BYTES;
    switch (meta[base + KIND]) {
      case BODY: {
        const size = meta[base + OUT_BYTES] as number;
        const body = Buffer.allocUnsafe(size);
        this.bytes.copy(body, 0, offset, offset + size);
        return { kind: 'file', fd: -1, stat: statsOf(meta, base + STAT), body };
      }
      case DESCRIPTOR:
        return { kind: 'file', fd: meta[base + FD] as number, stat: statsOf(meta, base + STAT) };
      case STATTED:
        return { kind: 'file', fd: -1, stat: statsOf(meta, base + STAT) };
      case DIRECTORY:
        return DIRECTORY_CANDIDATE;
      case OTHER:
        return OTHER_CANDIDATE;
      default: {
        // ERROR: described in the slot's bytes.
        const text = this.bytes.toString('utf8', offset, offset + (meta[base + OUT_BYTES] as number));
        const described = JSON.parse(text) as { code?: string; errno?: number; syscall?: string; message?: string };
        const error: NodeJS.ErrnoException = new Error(described.message ?? 'file thread error');
        if (described.code !== undefined) error.code = described.code;
        if (described.errno !== undefined) error.errno = described.errno;
        if (described.syscall !== undefined) error.syscall = described.syscall;
        error.path = this.paths[slot] as string;
        return { kind: 'error', error };
      }
    }
  }

  /**
   * The thread stopped (terminated, or crashed): answers already written are delivered, the rest are probed
   * again through the fallback, and so is everything after.
   */
  private readonly retire = (): void => {
    if (this.state === 'gone') return;
    this.collect();
    this.state = 'gone';
    for (let slot = 0; slot < SLOTS; slot++) {
      const done = this.waiting[slot];
      if (done === undefined) continue;
      const path = this.paths[slot] as string;
      const statOnly = this.meta[slot * FIELDS + STAT_ONLY] === 1;
      this.release(slot);
      this.inFlight--;
      if (statOnly) statCandidate(path, done);
      else openCandidate(path, undefined, done);
    }
  };
}

/** An `fs.Stats` from the 14 numbers the thread wrote, with the Date fields Node 20 sets eagerly. */
function statsOf(meta: Float64Array, at: number): Stats {
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
  // Node rounds the milliseconds (a Date would truncate them), and ETags are built from these Dates.
  stats.atime = new Date(Math.round(stats.atimeMs));
  stats.mtime = new Date(Math.round(stats.mtimeMs));
  stats.ctime = new Date(Math.round(stats.ctimeMs));
  stats.birthtime = new Date(Math.round(stats.birthtimeMs));
  return stats as Stats;
}

let shared: FileThread | null | undefined;
let scheduled = false;

/**
 * Starts the process's file thread (once; shared by every middleware) and returns it, or null where threads
 * cannot be started (a permission model without `--allow-worker`, a runtime without `Atomics.waitAsync`).
 */
export function startFileThread(): FileThread | null {
  if (shared === undefined) {
    try {
      shared =
        typeof Atomics.waitAsync === 'function' && typeof process.getBuiltinModule === 'function' ? new FileThread() : null;
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
  if (!threadTakes(path, done, false)) openCandidate(path, undefined, done);
};

/** `statCandidate` on the file thread when it can take it (lookups that need no body). */
export const statOnThread: Probe = (path, done) => {
  if (!threadTakes(path, done, true)) statCandidate(path, done);
};

/**
 * How long after the first request the thread starts. Creating it costs the main thread a few milliseconds and
 * its start-up competes for the CPU for tens more: the first responses go through libuv instead.
 */
const START_DELAY_MS = 100;

function threadTakes(path: string, done: Done, statOnly: boolean): boolean {
  if (shared === undefined && !scheduled) {
    scheduled = true;
    setTimeout(startFileThread, START_DELAY_MS).unref();
  }
  return shared != null && shared.probe(path, done, statOnly);
}
