// The slow-readers phase: what a stalled download costs the server. Per server: a fresh process, a warm-up
// (small files, then one full 10 MB download), its RSS and descriptor count; then `clients` connections from
// slow-readers-client.mjs (another process, on the load core) that each start a GET of the 10 MB file and stop
// reading after the first bytes. Once every client has its first bytes, they are held for `holdSeconds` and
// until the server's RSS settles; the growth is that settled RSS minus the one before. Then the clients are
// destroyed and the server's descriptors must come back to their count before. RSS is VmRSS from
// /proc/<pid>/status (rssMB); nothing forces a GC in any server.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fdCount, get, pinned, rssMB, track } from './procs.mjs';
import { slowReaderNotes } from './report.mjs';

export const SLOW_READERS_FILE = '10m.txt';
const PATH = `/${SLOW_READERS_FILE}`;
/** RSS is sampled this often, from the first connection to the destroy. */
const SAMPLE_MS = 250;
/** Settled: over the last SETTLE_SAMPLES samples (2 s), RSS moved by at most 1 MB or 2% of the growth. */
const SETTLE_SAMPLES = 8;
/** After the hold time, give RSS this long to settle before taking it as it is. */
const SETTLE_LIMIT_MS = 20_000;
/** Descriptors may exceed the count before by this much and still count as back. */
const FD_SLACK = 2;
const FD_WAIT_MS = 10_000;

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} SlowReadersContext
 * @property {import('./servers/index.mjs').ServerSpec[]} servers
 * @property {string} root                  the main root
 * @property {Record<string, Buffer>} bodies main-root file name → bytes
 * @property {number} clients
 * @property {number} holdSeconds
 * @property {(spec: import('./servers/index.mjs').ServerSpec, root: string) => Promise<any>} launch
 * @property {(instance: any) => Promise<void>} shutdown
 * @property {(line: string) => void} log
 * @property {(error: unknown) => string} message
 */

/** @param {SlowReadersContext} ctx */
export async function runSlowReaders(ctx) {
  ctx.log(`slow readers: ${ctx.clients} clients stall a GET ${PATH}, held ${ctx.holdSeconds} s and until RSS settles`);
  /** @type {Record<string, any>} */
  const results = {};
  for (const spec of ctx.servers) {
    let instance;
    try {
      instance = await ctx.launch(spec, ctx.root);
      const cell = await measure(instance, ctx);
      results[spec.id] = cell;
      const notes = slowReaderNotes(cell, ctx.clients);
      ctx.log(
        `  ${spec.id}: RSS ${cell.rssBeforeMB.toFixed(1)} → ${cell.rssHeldMB.toFixed(1)} MB with ${cell.stalled} stalled ` +
          `(+${cell.growthMB.toFixed(1)} MB, ${cell.perClientMB.toFixed(3)} MB each); descriptors ${cell.fdsBefore} → ${cell.fdsHeld} → ${cell.fdsAfter}` +
          `${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`,
      );
    } catch (error) {
      results[spec.id] = { failed: ctx.message(error) };
      ctx.log(`  ${spec.id}: failed: ${ctx.message(error)}`);
    } finally {
      if (instance !== undefined) await ctx.shutdown(instance);
    }
  }
  return { clients: ctx.clients, holdSeconds: ctx.holdSeconds, path: PATH, fdSlack: FD_SLACK, fdWaitMs: FD_WAIT_MS, results };
}

/** Warm-up, RSS and descriptors before, the stalled clients, RSS held, descriptors after. */
async function measure(/** @type {any} */ instance, /** @type {SlowReadersContext} */ ctx) {
  const pid = /** @type {number} */ (instance.handle.child.pid);
  const alive = () => {
    const child = instance.handle.child;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (code ${child.exitCode}, signal ${child.signalCode}): ${instance.handle.stderr().trim().slice(-300)}`);
    }
  };
  await warmUp(instance.port, ctx.bodies);
  await sleep(1000);
  const before = [];
  for (let i = 0; i < 4; i++) {
    before.push(rssMB(pid));
    await sleep(SAMPLE_MS);
  }
  before.sort((a, b) => a - b);
  const rssBeforeMB = (/** @type {number} */ (before[1]) + /** @type {number} */ (before[2])) / 2; // median
  const fdsBefore = fdCount(pid);
  alive();

  /** @type {{ at: number, rss: number }[]} */
  const samples = [];
  const sampler = setInterval(() => samples.push({ at: performance.now(), rss: rssMB(pid) }), SAMPLE_MS);
  const clients = startClients(instance.port, ctx.clients);
  try {
    const opened = /** @type {{ stalled: number, errors: Record<string, number>, firstBytesMs: number }} */ (await clients.line(120_000));
    alive();
    if (opened.stalled === 0) throw new Error(`no client got the first bytes: ${JSON.stringify(opened.errors)}`);
    const heldAt = performance.now();
    let settled = false;
    for (;;) {
      await sleep(SAMPLE_MS);
      alive();
      const now = performance.now();
      if (now - heldAt < ctx.holdSeconds * 1000) continue;
      const window = samples.slice(-SETTLE_SAMPLES).map((s) => s.rss);
      const last = /** @type {number} */ (window.at(-1));
      if (window.length === SETTLE_SAMPLES && Math.max(...window) - Math.min(...window) <= Math.max(1, 0.02 * (last - rssBeforeMB))) {
        settled = true;
        break;
      }
      if (now - heldAt >= ctx.holdSeconds * 1000 + SETTLE_LIMIT_MS) break;
    }
    clearInterval(sampler);
    const rssHeldMB = rssMB(pid);
    const rssPeakMB = Math.max(rssHeldMB, ...samples.map((s) => s.rss));
    const fdsHeld = fdCount(pid);
    const heldSeconds = (performance.now() - heldAt) / 1000;

    clients.send();
    const closed = /** @type {{ destroyed: number, closedEarly: number, clientBytesRead: number }} */ (await clients.line(30_000));
    const fdsWaitStart = performance.now();
    let fdsAfter = fdCount(pid);
    while (fdsAfter > fdsBefore + FD_SLACK && performance.now() - fdsWaitStart < FD_WAIT_MS) {
      await sleep(100);
      fdsAfter = fdCount(pid);
    }
    const fdsBack = fdsAfter <= fdsBefore + FD_SLACK;
    alive();
    const growthMB = rssHeldMB - rssBeforeMB;
    return {
      startupMs: instance.startupMs,
      stalled: opened.stalled,
      errors: opened.errors,
      firstBytesMs: opened.firstBytesMs,
      heldSeconds,
      settled,
      rssBeforeMB,
      rssHeldMB,
      rssPeakMB,
      growthMB,
      peakGrowthMB: rssPeakMB - rssBeforeMB,
      perClientMB: growthMB / opened.stalled,
      closedEarly: closed.closedEarly,
      clientBytesRead: closed.clientBytesRead,
      fdsBefore,
      fdsHeld,
      fdsAfter,
      fdsBack,
      fdsBackMs: fdsBack ? performance.now() - fdsWaitStart : null,
      rssAfterMB: rssMB(pid),
    };
  } finally {
    clearInterval(sampler);
    clients.kill();
  }
}

/** A few ordinary requests, the last a full download of the 10 MB file, each checked byte for byte. */
async function warmUp(/** @type {number} */ port, /** @type {Record<string, Buffer>} */ bodies) {
  const expect = async (/** @type {string} */ name) => {
    const res = await get(port, `/${name}`);
    const body = /** @type {Buffer} */ (bodies[name]);
    if (res.status !== 200 || !res.body.equals(body)) {
      throw new Error(`warm-up GET /${name}: status ${res.status}, ${res.body.length} bytes, expected 200 with the file's ${body.length}`);
    }
  };
  await expect('1k.txt');
  await expect('1k.txt');
  await sleep(300); // ours' file thread starts 100 ms after the first request
  await expect('1k.txt');
  await expect('100k.txt');
  await expect(SLOW_READERS_FILE);
}

/** Starts slow-readers-client.mjs on the load core; `line()` awaits its next JSON line, `send()` releases the clients. */
function startClients(/** @type {number} */ port, /** @type {number} */ clients) {
  const script = fileURLToPath(new URL('./slow-readers-client.mjs', import.meta.url));
  const [command, ...args] = pinned(1, [process.execPath, script, JSON.stringify({ port, path: PATH, clients })]);
  const child = track(spawn(/** @type {string} */ (command), args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
  const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) })[Symbol.asyncIterator]();
  return {
    /** @returns {Promise<unknown>} */
    async line(/** @type {number} */ timeoutMs) {
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the clients said nothing within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const next = await Promise.race([lines.next(), timeout]);
        const value = /** @type {IteratorResult<string>} */ (next);
        if (value.done) throw new Error(`the clients exited early: ${stderr.trim()}`);
        return JSON.parse(value.value);
      } finally {
        clearTimeout(timer);
      }
    },
    send() {
      child.stdin?.write('destroy\n');
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
