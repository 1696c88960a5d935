// Command-line flags (each also settable as BENCH_<NAME> in the environment, flags win) and their defaults.
import { parseArgs } from 'node:util';
import { SCENARIOS } from './scenarios.mjs';
import { ALL_SERVER_IDS } from './servers/index.mjs';

/** The phases, in the order they run. */
export const PHASES = ['scenarios', 'slow-readers', 'connections', 'growth'];

export const USAGE = `Usage: npm run bench -- [flags]      (or: node bench/run.mjs [flags])

  --quick               smoke test, about 2 minutes: 1 s runs, no warm-up, 1 round, roots of 10 and 10,000 files
  --duration S          seconds per timed run (default 4; quick 1)
  --warmup S            seconds of untimed load per server before timing, 0 for none (default 2; quick 0)
  --rounds N            timed runs per server and scenario; the median is reported (default 3; quick 1)
  --connections N       keep-alive connections for the scenarios (default 50)
  --threads N           wrk threads, all on the load core (default 1)
  --levels LIST         connection counts for the connections table (default 1,16,64,256)
  --counts LIST         file counts for the cost-growth table (default 10,10000,100000; quick 10,10000)
  --servers LIST        servers to run (default: all; nginx only when installed)
                        ${ALL_SERVER_IDS.join(', ')}
  --level-servers LIST  servers for the connections table (default ours,ours+cache,serve-static,sirv,raw)
  --scenarios LIST      scenarios (default all): 1k,30k,100k,index,304,miss,10m,range
  --phases LIST         scenarios,slow-readers,connections,growth (default all four)
  --stalled-clients N   slow-readers: clients that stall a 10 MB download at once (default 400)
  --stalled-hold S      slow-readers: seconds they are held before RSS is read, longer while it still moves
                        (default 5; quick 2)
  --load TOOL           wrk or autocannon (default: wrk when installed)
  --out DIR             where latest.md, latest.json and ratios.svg go (default bench/results)
  --help
Every flag can also be given as an environment variable: BENCH_DURATION=5, BENCH_QUICK=1, BENCH_LEVEL_SERVERS=...`;

const SPEC = /** @type {const} */ ({
  quick: { type: 'boolean' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  rounds: { type: 'string' },
  connections: { type: 'string' },
  threads: { type: 'string' },
  levels: { type: 'string' },
  counts: { type: 'string' },
  servers: { type: 'string' },
  'level-servers': { type: 'string' },
  scenarios: { type: 'string' },
  phases: { type: 'string' },
  'stalled-clients': { type: 'string' },
  'stalled-hold': { type: 'string' },
  load: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean' },
});

/**
 * @typedef {object} BenchOptions
 * @property {boolean} quick
 * @property {number} duration
 * @property {number} warmup
 * @property {number} rounds
 * @property {number} connections
 * @property {number} threads
 * @property {number[]} levels
 * @property {number[]} counts
 * @property {string[] | null} servers
 * @property {string[]} levelServers
 * @property {string[] | null} scenarios
 * @property {string[]} phases
 * @property {number} stalledClients
 * @property {number} stalledHold
 * @property {string | undefined} load
 * @property {string} out
 */

/** @returns {BenchOptions | 'help'} */
export function parseOptions(/** @type {string[]} */ argv, env = process.env) {
  const { values } = parseArgs({ args: argv, options: SPEC, strict: true });
  if (values.help) return 'help';
  /** @param {keyof typeof SPEC} name */
  const raw = (name) => {
    const flag = values[name];
    if (flag !== undefined) return String(flag);
    return env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  };
  const quick = raw('quick') !== undefined && !['0', 'false', ''].includes(/** @type {string} */ (raw('quick')));
  /** @param {keyof typeof SPEC} name @param {number} full @param {number} fast @param {number} min */
  const num = (name, full, fast, min) => {
    const text = raw(name);
    const value = text === undefined ? (quick ? fast : full) : Number(text);
    if (!Number.isInteger(value) || value < min) throw new TypeError(`--${name} must be an integer >= ${min}, got "${text}"`);
    return value;
  };
  /** @param {keyof typeof SPEC} name */
  const list = (name) => raw(name)?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
  /** @param {keyof typeof SPEC} name @param {number[]} fallback */
  const numbers = (name, fallback) => {
    const items = list(name);
    if (items === null) return fallback;
    const parsed = items.map(Number);
    if (parsed.some((n) => !Number.isInteger(n) || n < 1)) throw new TypeError(`--${name} must list positive integers`);
    return parsed;
  };
  const servers = list('servers');
  for (const id of [...(servers ?? []), ...(list('level-servers') ?? [])]) {
    if (!ALL_SERVER_IDS.includes(id)) throw new TypeError(`unknown server "${id}"; known: ${ALL_SERVER_IDS.join(', ')}`);
  }
  const phases = list('phases') ?? [...PHASES];
  for (const phase of phases) {
    if (!PHASES.includes(phase)) throw new TypeError(`unknown phase "${phase}"; known: ${PHASES.join(', ')}`);
  }
  for (const id of list('scenarios') ?? []) {
    if (id === 'slow-readers') throw new TypeError('slow-readers is a phase of its own: --phases slow-readers');
    if (!SCENARIOS.some((s) => s.id === id)) throw new TypeError(`unknown scenario "${id}"; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  }
  const load = raw('load');
  if (load !== undefined && load !== 'wrk' && load !== 'autocannon') throw new TypeError(`--load must be wrk or autocannon`);
  return {
    quick,
    duration: num('duration', 4, 1, 1),
    warmup: num('warmup', 2, 0, 0),
    rounds: num('rounds', 3, 1, 1),
    connections: num('connections', 50, 50, 1),
    threads: num('threads', 1, 1, 1),
    levels: numbers('levels', [1, 16, 64, 256]),
    counts: numbers('counts', quick ? [10, 10_000] : [10, 10_000, 100_000]),
    servers,
    levelServers: list('level-servers') ?? ['ours', 'ours+cache', 'serve-static', 'sirv', 'raw'],
    scenarios: list('scenarios'),
    phases,
    stalledClients: num('stalled-clients', 400, 400, 1),
    stalledHold: num('stalled-hold', 5, 2, 0),
    load,
    out: raw('out') ?? new URL('./results/', import.meta.url).pathname,
  };
}
