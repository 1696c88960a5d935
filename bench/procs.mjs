// Child processes, temp dirs and cleanup: everything the bench starts or creates is registered here, and
// `cleanupSync` (wired to exit, Ctrl-C and crashes by `installCleanup`) kills and removes it all.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
/** @type {Set<import('node:child_process').ChildProcess>} */
const shortLived = new Set();
/** @type {Set<string>} */
const tempDirs = new Set();

/** True when `taskset` exists and there are at least two cores: servers go to core 0, the load to core 1. */
export const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/**
 * The command line for `argv`, prefixed with `taskset -c <core>` when pinning is possible.
 * @param {0 | 1} core
 * @param {string[]} argv
 * @returns {string[]}
 */
export function pinned(core, argv) {
  return canPin ? ['taskset', '-c', String(core), ...argv] : argv;
}

/** Makes a temp dir (world-readable, so nginx's unprivileged worker can read it) that cleanup removes. */
export function makeTempDir(prefix = 'brisk-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  spawnSync('chmod', ['755', dir]);
  tempDirs.add(dir);
  return dir;
}

/** Removes one temp dir now. @param {string} dir */
export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * Starts a long-running child in its own process group (so it and any workers can be killed together).
 * stdout is ignored; the last 4 KB of stderr are kept for error messages.
 * @param {string[]} argv
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string }} [options]
 */
export function startChild(argv, options = {}) {
  const [command, ...args] = argv;
  const child = spawn(/** @type {string} */ (command), args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  children.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.on('error', () => {
      children.delete(child);
      resolve({ code: -1, signal: null });
    });
  });
  return { child, exited, stderr: () => stderr };
}

/**
 * SIGTERM to the child's process group, SIGKILL after `graceMs` if it is still there.
 * @param {{ child: import('node:child_process').ChildProcess, exited: Promise<unknown> }} handle
 */
export async function stopChild(handle, graceMs = 2000) {
  if (handle.child.exitCode !== null || handle.child.signalCode !== null) return;
  killGroup(handle.child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(handle.child, 'SIGKILL'), graceMs);
  await handle.exited;
  clearTimeout(timer);
  killGroup(handle.child, 'SIGKILL'); // stray workers left in the group
}

/** @param {import('node:child_process').ChildProcess} child @param {NodeJS.Signals} signal */
function killGroup(child, signal) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Registers a short-lived child (a load generator run) so cleanup kills it too. */
export function track(/** @type {import('node:child_process').ChildProcess} */ child) {
  shortLived.add(child);
  child.on('exit', () => shortLived.delete(child));
  return child;
}

/** Kills every child and removes every temp dir, synchronously (usable from an 'exit' handler). */
export function cleanupSync() {
  for (const child of children) killGroup(child, 'SIGKILL');
  children.clear();
  for (const child of shortLived) child.kill('SIGKILL');
  shortLived.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Cleans up on normal exit, Ctrl-C, SIGTERM/SIGHUP and crashes. */
export function installCleanup() {
  process.on('exit', cleanupSync);
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
      cleanupSync();
      process.exit(130);
    });
  }
  const crash = (/** @type {unknown} */ error) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    cleanupSync();
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/**
 * Resident memory in MB of `pid` and all its descendants (nginx: master + worker), from /proc/<pid>/status.
 * @param {number} pid
 */
export function rssMB(pid) {
  let kB = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (match) kB += Number(match[1]);
    } catch {
      // exited meanwhile
    }
  }
  return kB / 1024;
}

/**
 * Open descriptors of `pid` and all its descendants (nginx: master + worker), from /proc/<pid>/fd.
 * @param {number} pid
 */
export function fdCount(pid) {
  let count = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      count += readdirSync(`/proc/${p}/fd`).length;
    } catch {
      // exited meanwhile
    }
  }
  return count;
}

/** Every process: pid → parent, CPU ticks used (user + system) and ticks of its reaped children. */
function processTable() {
  /** @type {Map<number, { ppid: number, ticks: number, childTicks: number }>} */
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      table.set(Number(name), { ppid: /** @type {number} */ (f[1]), ticks: /** @type {number} */ (f[11]) + /** @type {number} */ (f[12]), childTicks: /** @type {number} */ (f[13]) + /** @type {number} */ (f[14]) });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/**
 * A snapshot for `foreignCpu`: user + system ticks of the whole machine (/proc/stat) and of this bench (the
 * harness, its live descendants, and the children it has reaped, such as finished wrk runs).
 */
export function cpuSnapshot() {
  const [, user = 0, nice = 0, system = 0] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).map(Number) ?? [];
  const table = processTable();
  let ours = table.get(process.pid)?.childTicks ?? 0;
  for (const pid of [process.pid, ...descendants(process.pid, table)]) ours += table.get(pid)?.ticks ?? 0;
  return { at: performance.now(), machine: user + nice + system, ours };
}

/**
 * CPU used by anything but this bench between two snapshots, in % of one core: how busy the machine was with
 * something else while a run was timed.
 * @param {ReturnType<typeof cpuSnapshot>} before
 * @param {ReturnType<typeof cpuSnapshot>} after
 */
export function foreignCpu(before, after) {
  const ticks = after.machine - before.machine - (after.ours - before.ours);
  const seconds = (after.at - before.at) / 1000;
  return seconds > 0 ? Math.max(0, (ticks / CLOCK_TICKS / seconds) * 100) : 0;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** @param {number} pid @returns {number[]} */
function descendants(pid, table = processTable()) {
  /** @type {Map<number, number[]>} */
  const byParent = new Map();
  for (const [child, { ppid }] of table) byParent.set(ppid, [...(byParent.get(ppid) ?? []), child]);
  const out = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of byParent.get(/** @type {number} */ (queue.shift())) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * One GET on a fresh connection; resolves with status, headers and the whole body.
 * @param {number} port
 * @param {string} path
 * @param {Record<string, string>} [headers]
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, body: Buffer }>}
 */
export function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls `path` until it answers 200; resolves with the milliseconds since `startedAt` (performance.now()).
 * Rejects if the child exits first or `timeoutMs` passes.
 * @param {{ exited: Promise<{ code: number | null, signal: string | null }>, stderr: () => string }} handle
 * @param {number} port
 * @param {string} path
 * @param {number} startedAt
 */
export async function waitReady(handle, port, path, startedAt, timeoutMs = 120_000) {
  let exit = /** @type {{ code: number | null, signal: string | null } | undefined} */ (undefined);
  void handle.exited.then((value) => {
    exit = value;
  });
  for (;;) {
    if (exit !== undefined) {
      throw new Error(`exited (code ${exit.code}, signal ${exit.signal}) before answering: ${handle.stderr().trim()}`);
    }
    try {
      const res = await get(port, path);
      if (res.status === 200) return performance.now() - startedAt;
    } catch {
      // not listening yet
    }
    if (performance.now() - startedAt > timeoutMs) throw new Error(`no 200 on ${path} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
