#!/usr/bin/env node
// Soak test: brisk-static under sustained mixed load while files change on disk, watching for errors,
// wrong bodies, 5xx, and descriptors or memory that the server does not give back.
//
//   npm run build && npm run soak [-- --duration 60 --connections 128 --cache --warmup 3]
//
// Three processes: the server (bench/soak-server.mjs: dist/ on node:http, default options or `cache: true`),
// the load generator (bench/soak-load.mjs: node:http keep-alive agents, one connection per worker), and this
// orchestrator, which writes the tree, changes files while the load runs (atomic replace by write-then-rename;
// in-place truncation, growth and rewrite), and judges the run. Not part of `npm test`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { appendFile, rename, truncate, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { content, writeTree } from './soak-tree.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = join(HERE, '..');
const MB = 1024 * 1024;
/** RSS may grow by at most this much between the measurement after warm-up and the one after the load. */
const RSS_GROWTH_LIMIT = 20 * MB;
/** Time for closed connections to be released before the server is measured. */
const SETTLE_MS = 1000;

const USAGE = `usage: node bench/soak.mjs [--duration SECONDS] [--connections N] [--warmup SECONDS] [--cache]
  --duration     length of the measured run (default 60)
  --connections  concurrent keep-alive connections (default 128)
  --warmup       mixed load before the first measurement (default 3)
  --cache        serve with { cache: true } instead of the default options`;

function parseArguments(argv) {
  const options = { duration: 60, connections: 128, warmup: 3, cache: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const number = (name, min) => {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value < min) usage(`${name} needs a number ≥ ${min}`);
      return value;
    };
    if (arg === '--duration') options.duration = number('--duration', 1);
    else if (arg === '--connections') options.connections = Math.floor(number('--connections', 1));
    else if (arg === '--warmup') options.warmup = number('--warmup', 0);
    else if (arg === '--cache') options.cache = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else usage(`unknown argument ${arg}`);
  }
  return options;
}

function usage(message) {
  console.error(`soak: ${message}\n${USAGE}`);
  process.exit(2);
}

const options = parseArguments(process.argv.slice(2));

const DIST = join(PACKAGE, 'dist', 'index.js');
if (!existsSync(DIST)) {
  console.error('soak: dist/index.js is missing; run `npm run build` first.');
  process.exit(2);
}
const newestSource = Math.max(...readdirSync(join(PACKAGE, 'src')).map((name) => statSync(join(PACKAGE, 'src', name)).mtimeMs));
if (newestSource > statSync(DIST).mtimeMs) {
  console.error('soak: warning: src/ is newer than dist/; run `npm run build` to soak the current code.');
}

// ---------------------------------------------------------------------------------------------------------
// Processes

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
const base = mkdtempSync(join(tmpdir(), 'brisk-soak-'));
let finished = false;

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  rmSync(base, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\nsoak: ${signal}, cleaning up`);
    process.exit(130);
  });
}

/** Server on core 0, load on core 1, when `taskset` exists and there are two cores. */
const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/**
 * A Node child with an IPC channel (it survives the `taskset` exec). Its messages go to `onMessage`;
 * an exit before the run is over fails the run.
 */
function startChild(label, core, nodeArgs, onMessage) {
  const argv = [process.execPath, ...nodeArgs];
  const [command, ...args] = canPin ? ['taskset', '-c', String(core), ...argv] : argv;
  const child = spawn(/** @type {string} */ (command), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: PACKAGE });
  children.add(child);
  child.on('message', onMessage);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (!finished) {
      console.error(`soak: FAIL: the ${label} process exited during the run (code ${code}, signal ${signal})`);
      process.exit(1);
    }
  });
  return child;
}

/** Resolves with the next message of `type` from a child. */
function nextMessage(waiters, type) {
  return new Promise((resolve) => waiters.set(type, resolve));
}

function dispatcher(waiters, extra = () => {}) {
  return (message) => {
    const waiter = waiters.get(message?.type);
    if (waiter !== undefined) {
      waiters.delete(message.type);
      waiter(message);
    } else extra(message);
  };
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// ---------------------------------------------------------------------------------------------------------
// Files changing on disk

/**
 * Every 100-300 ms, alternately: replace a `renamed` file by a new version of another size (write to
 * staging/, then rename over it: atomic), or change a `truncated` file in place (truncate it to at most
 * half, grow it, or rewrite it whole with O_TRUNC: all on the same inode).
 * @param {import('./soak-tree.mjs').Tree} tree
 */
function startMutator(tree, onShrink) {
  const stats = { renames: 0, truncations: 0, appends: 0, rewrites: 0 };
  const renamed = tree.files.filter((file) => file.kind === 'renamed');
  const inPlace = tree.files.filter((file) => file.kind === 'truncated');
  const versions = new Map(tree.files.map((file) => [file.name, 0]));
  const shapes = new Map(inPlace.map((file) => [file.name, 'full']));
  const between = (low, high) => low + Math.floor(Math.random() * (high - low + 1));
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  let stopped = false;
  let turn = 0;

  const step = async () => {
    if (turn++ % 2 === 0) {
      const file = pick(renamed);
      const version = versions.get(file.name) + 1;
      versions.set(file.name, version);
      const staged = join(tree.staging, `${file.name.replaceAll('/', '_')}.${version}`);
      await writeFile(staged, content(file.name, version, between(file.minSize, file.maxSize)));
      await rename(staged, join(tree.root, file.name));
      stats.renames++;
      return;
    }
    const file = pick(inPlace);
    const path = join(tree.root, file.name);
    const version = versions.get(file.name);
    const began = Date.now();
    if (shapes.get(file.name) !== 'full') {
      versions.set(file.name, version + 1);
      // O_TRUNC, then the writes: the file shrinks to nothing first.
      await writeFile(path, content(file.name, version + 1, file.size));
      onShrink(file.name, began, Date.now());
      shapes.set(file.name, 'full');
      stats.rewrites++;
    } else if (Math.random() < 0.65) {
      await truncate(path, between(0, Math.floor(file.size / 2)));
      onShrink(file.name, began, Date.now());
      shapes.set(file.name, 'truncated');
      stats.truncations++;
    } else {
      const grown = file.size + between(64 * 1024, MB);
      await appendFile(path, content(file.name, version, grown).subarray(file.size));
      shapes.set(file.name, 'grown');
      stats.appends++;
    }
  };

  const done = (async () => {
    while (!stopped) {
      await sleep(between(100, 300));
      if (!stopped) await step();
    }
  })();
  return {
    stats,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The run

console.log(
  `brisk-static soak: ${options.duration} s after ${options.warmup} s warm-up, ${options.connections} connections, ` +
    `${options.cache ? 'cache: true' : 'default options'}, node ${process.version}${canPin ? ', server and load pinned to separate cores' : ''}`,
);
const tree = writeTree(base);
console.log(`tree: ${tree.files.length} files (${Math.round(tree.files.reduce((sum, file) => sum + file.size, 0) / MB)} MB) in ${tree.root}`);

const serverWaiters = new Map();
const server = startChild('server', 0, ['--expose-gc', join(HERE, 'soak-server.mjs'), tree.root, ...(options.cache ? ['--cache'] : [])], dispatcher(serverWaiters));
const { port } = await nextMessage(serverWaiters, 'listening');

const loadWaiters = new Map();
let lastProgress = 0;
const load = startChild('load generator', 1, [join(HERE, 'soak-load.mjs')], dispatcher(loadWaiters, (message) => {
  if (message?.type !== 'progress' || message.name !== 'main') return;
  const now = Date.now();
  if (now - lastProgress < 10_000) return;
  lastProgress = now;
  console.log(`  … ${message.requests} requests, ${message.errors} errors`);
}));
load.send({ type: 'setup', port, files: tree.files, directories: tree.directories });

const measureServer = async () => {
  const reply = nextMessage(serverWaiters, 'measure');
  server.send({ type: 'measure' });
  return reply;
};
const runPhase = async (name, seconds) => {
  const reply = nextMessage(loadWaiters, 'phase-done');
  load.send({ type: 'phase', name, seconds, connections: options.connections });
  return (await reply).results;
};

const mutator = startMutator(tree, (name, start, end) => load.send({ type: 'shrink', name, start, end }));
const warmup = await runPhase('warmup', options.warmup);
await sleep(SETTLE_MS);
const start = await measureServer();
console.log(`warm-up: ${warmup.requests} requests; server: ${start.fds} descriptors, RSS ${mb(start.rss)}, ${start.connections} connections`);

lastProgress = Date.now();
const main = await runPhase('main', options.duration);
const elapsed = main.seconds;
await mutator.stop();
await sleep(SETTLE_MS);
let end = await measureServer();
// A leak never settles; a slow close does, so give descriptors a few more seconds before judging.
for (let i = 0; i < 8 && (end.fds > start.fds || end.connections > 0); i++) {
  await sleep(500);
  end = await measureServer();
}
finished = true;
for (const child of children) child.kill();

// ---------------------------------------------------------------------------------------------------------
// The report

function mb(bytes) {
  return `${(bytes / MB).toFixed(1)} MB`;
}

function table(record) {
  const entries = Object.entries(record).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${key}: ${count}`).join(', ');
}

function difference(after, before) {
  const result = {};
  for (const [key, count] of Object.entries(after)) {
    const delta = count - (before[key] ?? 0);
    if (delta !== 0) result[key] = delta;
  }
  return result;
}

const sumErrors = (results) => Object.values(results.errors).reduce((sum, count) => sum + count, 0);
const errors = sumErrors(main) + sumErrors(warmup);
const fiveHundreds = (statuses) =>
  Object.entries(statuses).reduce((sum, [status, count]) => sum + (Number(status) >= 500 ? count : 0), 0);
const serverNextErrors = difference(end.counters.nextErrors, start.counters.nextErrors);
const server5xx =
  Object.entries(end.counters.nextErrors).reduce((sum, [key, count]) => sum + (Number(key.split(' ')[0]) >= 500 ? count : 0), 0) +
  fiveHundreds(end.counters.finished);
const client5xx = fiveHundreds(main.statuses) + fiveHundreds(warmup.statuses);
const rssGrowth = end.rss - start.rss;

const failures = [];
if (errors > 0) failures.push(`${errors} request errors`);
if (client5xx > 0 || server5xx > 0) failures.push(`5xx: ${client5xx} seen by the client, ${server5xx} by the server`);
if (end.fds > start.fds) failures.push(`descriptors grew from ${start.fds} to ${end.fds}`);
if (rssGrowth > RSS_GROWTH_LIMIT) failures.push(`RSS grew by ${mb(rssGrowth)} (limit ${mb(RSS_GROWTH_LIMIT)})`);

const lines = [
  '',
  `date                ${new Date().toISOString()}`,
  `duration            ${elapsed.toFixed(1)} s, ${options.connections} connections, ${options.cache ? 'cache: true' : 'default options'}`,
  `requests            ${main.requests} (${Math.round(main.requests / elapsed)} req/s, ${mb(main.bytes / elapsed)}/s of bodies)`,
  `responses           ${table(main.statuses)}`,
  `aborted on purpose  ${main.deliberateAborts} (client destroyed a large download after its first chunk, or at a random point)`,
  `cut on truncation   ${main.cutOnTruncation} (file shrank in place mid-download; server cut the connection; ${main.cutBeforeHeaders} before the headers)`,
  `errors              ${sumErrors(main)} (${table(main.errors)})`,
  `5xx                 ${fiveHundreds(main.statuses)}`,
  `server next(err)    ${table(serverNextErrors)}`,
  `server clientError  ${table(difference(end.counters.clientErrors, start.counters.clientErrors))} (sockets the client reset: the deliberate aborts)`,
  `file changes        ${table(mutator.stats)}`,
  `descriptors         ${start.fds} → ${end.fds} (open connections ${start.connections} → ${end.connections})`,
  `RSS                 ${mb(start.rss)} → ${mb(end.rss)} (${rssGrowth >= 0 ? '+' : ''}${mb(rssGrowth)}); heap ${mb(start.heapUsed)} → ${mb(end.heapUsed)}${end.gc ? ', after forced GC' : ''}`,
];
if (sumErrors(warmup) > 0) lines.push(`warm-up errors      ${sumErrors(warmup)} (${table(warmup.errors)})`);
const samples = [...warmup.samples, ...main.samples];
if (samples.length > 0) lines.push('', 'first errors:', ...samples.map((sample) => `  ${sample}`));
lines.push('', failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`);
console.log(lines.join('\n'));
process.exitCode = failures.length === 0 ? 0 : 1;
