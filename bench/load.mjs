// The load generator, in its own process pinned to core 1: wrk when installed (a Lua `done` hook prints the
// summary as JSON), else autocannon (through autocannon-run.mjs). Both report the same shape.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinned, track } from './procs.mjs';

/**
 * @typedef {object} LoadResult
 * @property {number} requests      completed responses
 * @property {number} seconds       measured duration
 * @property {number} rps           requests / seconds
 * @property {number} p50ms
 * @property {number} p99ms
 * @property {number} bytes         bytes read (headers + bodies)
 * @property {number} statusErrors  responses outside 2xx/3xx
 * @property {number} socketErrors  connect/read/write errors and timeouts
 * @property {number} [foreignCpu]  % of a core other processes used meanwhile (added by run.mjs)
 */

/**
 * @typedef {object} LoadRequest
 * @property {number} port
 * @property {string} path
 * @property {Record<string, string>} [headers]
 * @property {number} connections
 * @property {number} seconds
 * @property {number} [spread]  instead of `path`, cycle over files 0..spread-1 of a many-file root
 */

const REPORT_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

// Cycles over /d<i/1000>/f<i>.txt (see fixtures.mjs manyPath); the file count comes after `--`.
const SPREAD_LUA = `
local count, i = 1, 0
init = function(args) count = tonumber(args[1]) end
request = function()
  i = i + 1
  if i >= count then i = 0 end
  return wrk.format(nil, string.format('/d%d/f%d.txt', math.floor(i / 1000), i))
end
${REPORT_LUA}`;

/** Picks the tool: `preferred` ('wrk' | 'autocannon') or wrk when installed. */
export function loadTool(/** @type {string | undefined} */ preferred) {
  const wrk = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const hasWrk = !wrk.error;
  if (preferred === 'wrk' && !hasWrk) throw new Error('--load wrk: wrk is not installed');
  if (hasWrk && preferred !== 'autocannon') {
    const version = /wrk\s+(\S+)/.exec(`${wrk.stdout}${wrk.stderr}`)?.[1] ?? 'unknown';
    return { name: 'wrk', version };
  }
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../node_modules/autocannon/package.json', import.meta.url)), 'utf8'));
  return { name: 'autocannon', version: String(pkg.version) };
}

/** A driver bound to one tool; `scratch` is a temp dir for the Lua scripts. */
export function createLoad(/** @type {{ name: string }} */ tool, /** @type {string} */ scratch, threads = 1) {
  const reportScript = join(scratch, 'report.lua');
  const spreadScript = join(scratch, 'spread.lua');
  writeFileSync(reportScript, REPORT_LUA);
  writeFileSync(spreadScript, SPREAD_LUA);

  /** @param {LoadRequest} req @returns {Promise<LoadResult>} */
  async function wrk(req) {
    const args = ['-t', String(Math.max(1, Math.min(threads, req.connections))), '-c', String(req.connections)];
    args.push('-d', `${Math.max(1, Math.round(req.seconds))}s`, '--timeout', '10s', '--latency');
    args.push('-s', req.spread === undefined ? reportScript : spreadScript);
    for (const [name, value] of Object.entries(req.headers ?? {})) args.push('-H', `${name}: ${value}`);
    args.push(`http://127.0.0.1:${req.port}${req.spread === undefined ? req.path : '/'}`);
    if (req.spread !== undefined) args.push('--', String(req.spread));
    const out = await run(pinned(1, ['wrk', ...args]));
    const line = out.split('\n').find((/** @type {string} */ l) => l.startsWith('BENCH_JSON '));
    if (line === undefined) throw new Error(`wrk printed no summary:\n${out}`);
    const s = JSON.parse(line.slice('BENCH_JSON '.length));
    const seconds = s.duration_us / 1e6;
    return {
      requests: s.requests,
      seconds,
      rps: s.requests / seconds,
      p50ms: s.p50_us / 1000,
      p99ms: s.p99_us / 1000,
      bytes: s.bytes,
      statusErrors: s.status,
      socketErrors: s.connect + s.read + s.write + s.timeout,
    };
  }

  /** @param {LoadRequest} req @returns {Promise<LoadResult>} */
  async function autocannon(req) {
    const script = fileURLToPath(new URL('./autocannon-run.mjs', import.meta.url));
    const out = await run(pinned(1, [process.execPath, script, JSON.stringify(req)]));
    return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
  }

  return tool.name === 'wrk' ? wrk : autocannon;
}

/** Runs argv to completion; resolves with stdout, rejects with stderr on a non-zero exit. */
function run(/** @type {string[]} */ argv) {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    const child = track(spawn(/** @type {string} */ (command), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}: ${stderr || stdout}`))));
  });
}
