#!/usr/bin/env node
// `npm run bench`: brisk-static against its peers, side by side, in one run. Four phases:
//   scenarios    per scenario: fresh servers, answer check, warm-up, interleaved timed rounds, RSS
//   slow-readers RSS growth per stalled 10 MB download (slow-readers.mjs), descriptors back after
//   connections  the 1 KB file from 1 to 256 keep-alive connections
//   growth       startup, RSS and spread load on roots of 10 / 10,000 / 100,000 files
// then bench/results/latest.{json,md} and ratios.svg. See `node bench/run.mjs --help`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manyPath, writeMainRoot, writeManyRoot } from './fixtures.mjs';
import { createLoad, loadTool } from './load.mjs';
import { parseOptions, USAGE } from './options.mjs';
import {
  canPin, cpuSnapshot, foreignCpu, freePort, get, installCleanup, makeTempDir, pinned, removeTempDir, rssMB, startChild, stopChild, waitReady,
} from './procs.mjs';
import { median, writeReport } from './report.mjs';
import { SCENARIOS, checkAnswer } from './scenarios.mjs';
import { runSlowReaders } from './slow-readers.mjs';
import { availableServers, nginxVersion } from './servers/index.mjs';

installCleanup();
const startedAt = Date.now();

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench: ${/** @type {Error} */ (error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const opts = options;

const distIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(distIndex)) {
  process.stderr.write('bench: dist/index.js is missing; run `npm run build` (npm run bench does it first)\n');
  process.exit(1);
}

const tool = loadTool(opts.load);
const load = createLoad(tool, makeTempDir(), opts.threads);
const servers = availableServers(opts.servers);
const scenarios = SCENARIOS.filter((s) => opts.scenarios === null || opts.scenarios.includes(s.id));

const log = (/** @type {string} */ line) => {
  const t = Math.round((Date.now() - startedAt) / 1000);
  process.stderr.write(`[${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}] ${line}\n`);
};
const message = (/** @type {unknown} */ e) => (e instanceof Error ? e.message : String(e)).split('\n')[0]?.slice(0, 200) ?? '';

/**
 * @typedef {object} Instance
 * @property {import('./servers/index.mjs').ServerSpec} spec
 * @property {ReturnType<typeof startChild>} handle
 * @property {number} port
 * @property {string} dir
 * @property {number} startupMs
 */

/** Starts one server on `root`, pinned to core 0; resolves once it answers /index.html with 200. */
async function launch(/** @type {import('./servers/index.mjs').ServerSpec} */ spec, /** @type {string} */ root) {
  const port = await freePort();
  const dir = makeTempDir('brisk-bench-srv-');
  const argv = pinned(0, spec.argv(root, port, dir));
  const started = performance.now();
  const handle = startChild(argv, { env: { ...process.env, NODE_ENV: 'production' } });
  try {
    const startupMs = await waitReady(handle, port, '/index.html', started);
    return /** @type {Instance} */ ({ spec, handle, port, dir, startupMs });
  } catch (error) {
    await stopChild(handle);
    removeTempDir(dir);
    throw error;
  }
}

async function shutdown(/** @type {Instance} */ instance) {
  await stopChild(instance.handle);
  removeTempDir(instance.dir);
}

/** % of a core used by other processes during a timed run above which the run is flagged as disturbed. */
const NOISY_CPU = 10;
/** Times a disturbed run is repeated; the least disturbed attempt is kept. */
const RETRIES = 2;

/** Median req/s and p99 of the rounds, plus error counts; `expectErrors`: every response should be 4xx/5xx. */
function summarize(/** @type {import('./load.mjs').LoadResult[]} */ rounds, expectErrors = false) {
  const requests = rounds.reduce((n, x) => n + x.requests, 0);
  const statusErrors = rounds.reduce((n, x) => n + x.statusErrors, 0);
  return {
    rps: median(rounds.map((x) => x.rps)),
    p99ms: median(rounds.map((x) => x.p99ms)),
    unexpectedStatus: expectErrors ? requests - statusErrors : statusErrors,
    socketErrors: rounds.reduce((n, x) => n + x.socketErrors, 0),
    foreignCpu: Math.max(0, ...rounds.map((x) => /** @type {any} */ (x).foreignCpu ?? 0)),
    rounds,
  };
}

/**
 * Timed rounds over live servers, interleaved (round 1: A B C, round 2: B C A, ...), so drift on the machine
 * spreads over all of them. `run(entry)` does one timed run; a run during which other processes were busy is
 * repeated up to RETRIES times.
 * @template {{ id: string, runs: import('./load.mjs').LoadResult[], failed?: string }} T
 * @param {T[]} entries
 * @param {(entry: T) => Promise<import('./load.mjs').LoadResult>} run
 */
async function interleave(entries, run, /** @type {string} */ what) {
  for (let round = 0; round < opts.rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const entry = /** @type {T} */ (entries[(k + round) % entries.length]);
      if (entry.failed !== undefined) continue;
      try {
        let result;
        for (let attempt = 0; attempt <= RETRIES; attempt++) {
          const before = cpuSnapshot();
          const candidate = { ...(await run(entry)), foreignCpu: foreignCpu(before, cpuSnapshot()) };
          if (result === undefined || candidate.foreignCpu < result.foreignCpu) result = candidate;
          if (candidate.foreignCpu < NOISY_CPU) break;
          log(`${what} ${entry.id}: other processes used ${Math.round(candidate.foreignCpu)}% CPU during the run${attempt < RETRIES ? ', running it again' : ''}`);
        }
        result = /** @type {NonNullable<typeof result>} */ (result);
        entry.runs.push(result);
        const busy = result.foreignCpu >= NOISY_CPU ? `; disturbed (${Math.round(result.foreignCpu)}% CPU elsewhere)` : '';
        log(`${what} ${entry.id} round ${round + 1}/${opts.rounds}: ${Math.round(result.rps)} req/s, p99 ${result.p99ms.toFixed(2)} ms${busy}`);
      } catch (error) {
        entry.failed = message(error);
        log(`${what} ${entry.id}: load failed: ${entry.failed}`);
      }
    }
  }
}

/** Phase 1: every scenario against every server. */
async function runScenarios(/** @type {string} */ root, /** @type {Record<string, Buffer>} */ bodies) {
  const out = [];
  for (const scenario of scenarios) {
    log(`scenario ${scenario.id}: ${scenario.title}`);
    /** @type {Record<string, any>} */
    const results = {};
    /** @type {{ id: string, instance: Instance, headers: Record<string, string>, bodyLength: number, runs: import('./load.mjs').LoadResult[], failed?: string }[]} */
    const live = [];
    for (const spec of servers) {
      try {
        const instance = await launch(spec, root);
        const check = await checkAnswer(instance.port, scenario, bodies);
        if (!check.ok) {
          results[spec.id] = { startupMs: instance.startupMs, wrong: check.reason };
          log(`  ${spec.id}: wrong answer: ${check.reason}; not timed`);
          await shutdown(instance);
          continue;
        }
        live.push({ id: spec.id, instance, headers: check.headers, bodyLength: check.bodyLength, runs: [] });
      } catch (error) {
        results[spec.id] = { failed: message(error) };
        log(`  ${spec.id}: failed to start: ${message(error)}`);
      }
    }
    const request = (/** @type {typeof live[number]} */ e, /** @type {number} */ seconds) =>
      load({ port: e.instance.port, path: scenario.path, headers: e.headers, connections: scenario.connections ?? opts.connections, seconds });
    if (opts.warmup > 0) {
      for (const e of live) await request(e, opts.warmup).catch((error) => (e.failed = message(error)));
    }
    await interleave(live, (e) => request(e, opts.duration), `  ${scenario.id}`);
    for (const e of live) {
      const rss = rssMB(/** @type {number} */ (e.instance.handle.child.pid));
      await shutdown(e.instance);
      if (e.failed !== undefined) {
        results[e.id] = { startupMs: e.instance.startupMs, failed: e.failed };
        continue;
      }
      const s = summarize(e.runs, scenario.expectStatus >= 400);
      results[e.id] = {
        ...s,
        startupMs: e.instance.startupMs,
        rssMB: rss,
        ...(scenario.mbps ? { mibps: median(e.runs.map((x) => x.bytes / x.seconds)) / 2 ** 20 } : {}),
      };
    }
    out.push({ ...scenario, requestHeaders: scenario.headers, connections: scenario.connections ?? opts.connections, results });
  }
  return out;
}

/** Phase 2: the 1 KB file at each connection count, on one set of live servers. */
async function runConnections(/** @type {string} */ root, /** @type {Record<string, Buffer>} */ bodies) {
  const scenario = /** @type {import('./scenarios.mjs').Scenario} */ (SCENARIOS.find((s) => s.id === '1k'));
  /** @type {Record<string, any>} */
  const results = {};
  /** @type {{ id: string, instance: Instance, runs: import('./load.mjs').LoadResult[], failed?: string }[]} */
  const live = [];
  log(`connections: 1 KB file at ${opts.levels.join(', ')} connections`);
  for (const spec of servers.filter((s) => opts.levelServers.includes(s.id))) {
    try {
      const instance = await launch(spec, root);
      const check = await checkAnswer(instance.port, scenario, bodies);
      if (!check.ok) {
        results[spec.id] = { wrong: check.reason };
        await shutdown(instance);
        continue;
      }
      results[spec.id] = { startupMs: instance.startupMs, levels: {} };
      live.push({ id: spec.id, instance, runs: [] });
    } catch (error) {
      results[spec.id] = { failed: message(error) };
    }
  }
  const request = (/** @type {typeof live[number]} */ e, /** @type {number} */ connections, /** @type {number} */ seconds) =>
    load({ port: e.instance.port, path: scenario.path, connections, seconds });
  if (opts.warmup > 0) {
    for (const e of live) await request(e, opts.connections, opts.warmup).catch((error) => (e.failed = message(error)));
  }
  for (const level of opts.levels) {
    for (const e of live) e.runs = [];
    await interleave(live, (e) => request(e, level, opts.duration), `  c=${level}`);
    for (const e of live) {
      results[e.id].levels[level] =
        e.failed === undefined ? { ...summarize(e.runs), rssMB: rssMB(/** @type {number} */ (e.instance.handle.child.pid)) } : { failed: e.failed };
    }
  }
  for (const e of live) await shutdown(e.instance);
  return { levels: opts.levels, results };
}

/** Phase 3: startup and memory as the root grows, and load spread over every file. */
async function runGrowth() {
  /** @type {Record<string, Record<number, any>>} */
  const results = {};
  for (const count of opts.counts) {
    const root = makeTempDir('brisk-bench-many-');
    const t = Date.now();
    writeManyRoot(root, count);
    log(`growth: ${count} files written in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    for (const spec of servers) {
      const row = (results[spec.id] ??= {});
      try {
        const startups = [];
        let instance;
        for (let i = 0; i < opts.rounds; i++) {
          if (instance !== undefined) await shutdown(instance);
          instance = await launch(spec, root);
          startups.push(instance.startupMs);
        }
        instance = /** @type {Instance} */ (instance);
        const pid = /** @type {number} */ (instance.handle.child.pid);
        const cell = /** @type {any} */ ({ startupMs: median(startups), startups, rssIdleMB: rssMB(pid) });
        const last = manyPath(count - 1);
        const probe = await get(instance.port, last);
        if (probe.status !== 200 || probe.body.length !== 256) {
          cell.wrong = `GET ${last} gave ${probe.status} with ${probe.body.length} bytes`;
        } else {
          const before = cpuSnapshot();
          const spread = await load({ port: instance.port, path: '/', spread: count, connections: opts.connections, seconds: opts.duration });
          cell.spread = { ...spread, unexpectedStatus: spread.statusErrors, foreignCpu: foreignCpu(before, cpuSnapshot()) };
          cell.rssAfterMB = rssMB(pid);
        }
        await shutdown(instance);
        row[count] = cell;
        log(`  ${count} files ${spec.id}: startup ${Math.round(cell.startupMs)} ms, RSS ${cell.rssIdleMB.toFixed(1)} MB, spread ${cell.spread ? Math.round(cell.spread.rps) : cell.wrong} req/s`);
      } catch (error) {
        row[count] = { failed: message(error) };
        log(`  ${count} files ${spec.id}: failed: ${message(error)}`);
      }
    }
    removeTempDir(root);
  }
  return { counts: opts.counts, results };
}

function versions() {
  /** @type {Record<string, string>} */
  const out = {};
  for (const name of ['brisk-static', 'serve-static', 'express', 'sirv', 'fastify', '@fastify/static']) {
    const file = name === 'brisk-static' ? new URL('../package.json', import.meta.url) : new URL(`../node_modules/${name}/package.json`, import.meta.url);
    try {
      out[name] = JSON.parse(readFileSync(file, 'utf8')).version;
    } catch {
      out[name] = 'missing';
    }
  }
  const nginx = nginxVersion();
  if (nginx !== null) out.nginx = nginx;
  return out;
}

/** True when the built declarations mention a `cache` option (the cache work has landed). */
function cacheOptionKnown() {
  try {
    const dts = readFileSync(fileURLToPath(new URL('../dist/options.d.ts', import.meta.url)), 'utf8');
    return /^\s*cache\?:/m.test(dts);
  } catch {
    return false;
  }
}

const loadAtStart = loadavg().map((n) => n.toFixed(2)).join(' ');
log(`${tool.name} ${tool.version}; servers: ${servers.map((s) => s.id).join(', ')}; ${canPin ? 'pinned (server core 0, load core 1)' : 'not pinned'}; load average ${loadAtStart}`);
const mainRoot = makeTempDir('brisk-bench-root-');
const bodies = writeMainRoot(mainRoot);

const results = /** @type {any} */ ({ servers: servers.map(({ id, label, note }) => ({ id, label, note })) });
if (opts.phases.includes('scenarios')) results.scenarios = await runScenarios(mainRoot, bodies);
if (opts.phases.includes('slow-readers')) {
  results.slowReaders = await runSlowReaders({
    servers, root: mainRoot, bodies, clients: opts.stalledClients, holdSeconds: opts.stalledHold, launch, shutdown, log, message,
  });
}
if (opts.phases.includes('connections')) results.connections = await runConnections(mainRoot, bodies);
if (opts.phases.includes('growth')) results.growth = await runGrowth();

const elapsedSeconds = (Date.now() - startedAt) / 1000;
results.meta = {
  date: new Date(startedAt).toISOString(),
  elapsedSeconds,
  node: process.version,
  cpu: cpus()[0]?.model.trim() ?? 'unknown',
  cores: cpus().length,
  os: `${type()} ${release()}`,
  loadAverage: { start: loadAtStart, end: loadavg().map((n) => n.toFixed(2)).join(' ') },
  load: tool,
  pinned: canPin,
  noisyCpuPercent: NOISY_CPU,
  versions: versions(),
  cacheOptionKnown: cacheOptionKnown(),
  options: opts,
  command: ['node bench/run.mjs', ...process.argv.slice(2)].join(' '),
  gitCommit: (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  })(),
};

mkdirSync(opts.out, { recursive: true });
const jsonPath = join(opts.out, 'latest.json');
writeFileSync(`${jsonPath}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
renameSync(`${jsonPath}.tmp`, jsonPath);
writeReport(results, opts.out);
log(`done in ${Math.floor(elapsedSeconds / 60)} min ${Math.round(elapsedSeconds % 60)} s: ${join(opts.out, 'latest.md')}, latest.json, ratios.svg`);
