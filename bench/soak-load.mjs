// The soak test's load generator: node:http with one keep-alive agent (one connection) per worker, mixed
// traffic, and a check of every response. Started by bench/soak.mjs with an IPC channel:
//   ← { type: 'setup', port, files, directories }
//   ← { type: 'phase', name, seconds, connections }   → { type: 'progress', ... } each second,
//                                                       then { type: 'phase-done', name, results }
// A phase ends when its time is up and every request in flight has settled; its connections are then closed,
// so the server can be measured with none open.
import { Agent, request } from 'node:http';
import { BLOCK_SIZE, block } from './soak-tree.mjs';

/** A request that has not settled after this long is a timeout (an error). */
const TIMEOUT_MS = 20_000;
/**
 * A cut this long after the last byte is not the server cutting a download whose file shrank (it does that
 * at once), but a body that stopped short of its Content-Length and a connection left idle until a timeout.
 */
const STALL_MS = 2000;
/** Error samples kept for the report. */
const MAX_SAMPLES = 20;

/** @type {number} */
let port = 0;
/** @type {import('./soak-tree.mjs').Entry[]} */
let files = [];
/** @type {string[]} */
let directories = [];
/** The last ETag seen per file name. */
const etags = new Map();
/** @type {ReturnType<typeof makeMix>} */
let mix;
/**
 * When each in-place shrink (truncation, or a rewrite, which truncates first) of a file ran, by file name,
 * as [start, end] in ms: reported by the orchestrator after each one.
 * @type {Map<string, [number, number][]>}
 */
const shrinks = new Map();
/** How long after a phase cuts wait for the report of a shrink that explains them. */
const SHRINK_REPORT_GRACE_MS = 500;

process.on('message', (message) => {
  if (message?.type === 'setup') {
    port = message.port;
    files = message.files;
    directories = message.directories;
    mix = makeMix();
  } else if (message?.type === 'shrink') {
    const list = shrinks.get(message.name) ?? [];
    list.push([message.start, message.end]);
    shrinks.set(message.name, list);
  } else if (message?.type === 'phase') {
    runPhase(message.name, message.seconds, message.connections).then((results) =>
      process.send?.({ type: 'phase-done', name: message.name, results }),
    );
  }
});
process.on('disconnect', () => process.exit(0));

function newResults() {
  return {
    /** From the first request to the last one settling. */
    seconds: 0,
    requests: 0,
    bytes: 0,
    /** Responses received (complete or not), by status. */
    statuses: /** @type {Record<string, number>} */ ({}),
    /** Downloads the client destroyed after the first chunk, on purpose. */
    deliberateAborts: 0,
    /** Downloads of an in-place-truncated file that the server cut: the file shrank under it. */
    cutOnTruncation: 0,
    /** Of those, cut before any response arrived: the file shrank between the server's fstat and first read. */
    cutBeforeHeaders: 0,
    /**
     * Cuts of in-place-changed files, judged at the end of the phase, once every shrink has been reported.
     * @type {Outcome[]}
     */
    pendingCuts: [],
    errors: {
      /** A connection reset or closed early that nothing here explains. */
      unexpectedReset: 0,
      /** A body that stopped short of its Content-Length, the connection then idling until it was closed. */
      stalledBody: 0,
      timeout: 0,
      /** A response that completed with a body length other than its Content-Length (or the file's size). */
      lengthMismatch: 0,
      /** Bytes that are not the file's (another file's, or two versions of a replaced file mixed). */
      contentMismatch: 0,
      unexpectedStatus: 0,
      /** Content-Range, Location or Content-Length not what the request called for. */
      badHeaders: 0,
      other: 0,
    },
    /** @type {string[]} */
    samples: [],
  };
}

/**
 * @param {string} name
 * @param {number} seconds
 * @param {number} connections
 */
async function runPhase(name, seconds, connections) {
  const results = newResults();
  /** @type {Agent[]} */
  const agents = [];
  const progress = setInterval(() => {
    process.send?.({ type: 'progress', name, requests: results.requests, errors: errorCount(results) });
  }, 1000);
  if (name === 'warmup') {
    // Learn every stable file's ETag, so conditional requests can expect a 304.
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    agents.push(agent);
    await Promise.all(
      files.filter((file) => file.kind === 'stable').map((file) => exchange(agent, headSpec(file)).then((o) => record(results, o))),
    );
  }
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    while (Date.now() < deadline) record(results, await exchange(agent, mix()));
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  results.seconds = (performance.now() - began) / 1000;
  clearInterval(progress);
  for (const agent of agents) agent.destroy();
  await new Promise((done) => setTimeout(done, SHRINK_REPORT_GRACE_MS));
  judgeCuts(results);
  return results;
}

function errorCount(results) {
  let total = 0;
  for (const count of Object.values(results.errors)) total += count;
  return total;
}

// ---------------------------------------------------------------------------------------------------------
// The traffic mix

/**
 * @typedef {{
 *   label: string, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>,
 *   file?: import('./soak-tree.mjs').Entry, expect: number[],
 *   length?: [number, number], offset?: number, block?: Buffer, derive?: boolean,
 *   contentRange?: RegExp, location?: string, abortAfter?: number,
 * }} Spec
 * length: the body length must lie in [min, max] on a 200/206. block: the known content pattern; derive:
 * take the pattern from the body itself (a replaced file: any one version, but only one). abortAfter: the
 * client destroys the request once this many body bytes have arrived (1: after the first chunk).
 */

function makeMix() {
  const stable = files.filter((file) => file.kind === 'stable');
  const stableSmall = stable.filter((file) => !file.large);
  const stableLarge = stable.filter((file) => file.large);
  const renamed = files.filter((file) => file.kind === 'renamed');
  const renamedSmall = renamed.filter((file) => !file.large);
  const renamedLarge = renamed.filter((file) => file.large);
  const truncated = files.filter((file) => file.kind === 'truncated');
  const truncatedSmall = truncated.filter((file) => !file.large);
  const truncatedLarge = truncated.filter((file) => file.large);
  /** @type {[number, () => Spec][]} */
  const table = [
    [28, () => getSpec(pick(stableSmall))],
    [4, () => getSpec(pick(stableLarge))],
    [12, () => conditionalSpec(pick(stable))],
    [10, () => rangeSpec(pick(stable))],
    [8, () => headSpec(pick(stable))],
    [9, missSpec],
    [3, directorySpec],
    [3, () => ({ ...getSpec(pick(stableLarge)), label: 'aborted download', abortAfter: 1 })],
    [1, () => {
      const file = pick(stableLarge);
      return { ...getSpec(file), label: 'aborted download', abortAfter: between(1, file.size - 1) };
    }],
    [1, () => unsatisfiableSpec(pick(stable))],
    [6, () => getSpec(pick(renamedSmall))],
    [2, () => getSpec(pick(renamedLarge))],
    [2, () => rangeSpec(pick(renamed))],
    [2, () => conditionalSpec(pick(renamed))],
    [2, () => getSpec(pick(truncatedSmall))],
    [4, () => getSpec(pick(truncatedLarge))],
    [2, () => rangeSpec(pick(truncated))],
  ];
  const total = table.reduce((sum, [weight]) => sum + weight, 0);
  return () => {
    let roll = Math.random() * total;
    for (const [weight, make] of table) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return /** @type {[number, () => Spec]} */ (table[0])[1]();
  };
}

/** @template T @param {T[]} list @returns {T} */
function pick(list) {
  return /** @type {T} */ (list[Math.floor(Math.random() * list.length)]);
}

/** @param {number} low @param {number} high inclusive */
function between(low, high) {
  return low + Math.floor(Math.random() * (high - low + 1));
}

const url = (/** @type {string} */ name) => `/${name}`;

/** @param {import('./soak-tree.mjs').Entry} file @returns {Spec} */
function getSpec(file) {
  /** @type {Spec} */
  const spec = { label: `GET ${file.kind}`, method: 'GET', path: url(file.name), headers: {}, file, expect: [200] };
  if (file.kind === 'stable') Object.assign(spec, { length: [file.size, file.size], block: block(file.name, 0), offset: 0 });
  if (file.kind === 'renamed') Object.assign(spec, { length: [file.minSize, file.maxSize], derive: true, offset: 0 });
  return spec;
}

/** @param {import('./soak-tree.mjs').Entry} file @returns {Spec} */
function headSpec(file) {
  return {
    label: `HEAD ${file.kind}`,
    method: 'HEAD',
    path: url(file.name),
    headers: {},
    file,
    expect: [200],
    ...(file.kind === 'stable' ? { length: /** @type {[number, number]} */ ([file.size, file.size]) } : {}),
  };
}

/** If-None-Match with the ETag last seen: a stable file must be a 304, a replaced one may be a 200. */
function conditionalSpec(file) {
  const etag = etags.get(file.name);
  if (etag === undefined) return getSpec(file);
  const spec = getSpec(file);
  spec.label = `conditional ${file.kind}`;
  spec.headers = { 'If-None-Match': etag };
  spec.expect = file.kind === 'stable' ? [304] : [200, 304];
  return spec;
}

/** One slice, as `bytes=a-b` or, now and then, `bytes=-n`. */
function rangeSpec(file) {
  const size = file.kind === 'renamed' ? file.minSize : file.size;
  const start = between(0, size - 1);
  const end = Math.min(size - 1, start + between(0, 256 * 1024));
  const suffix = file.kind === 'stable' && Math.random() < 0.25;
  const header = suffix ? `bytes=-${size - start}` : `bytes=${start}-${end}`;
  const last = suffix ? size - 1 : end;
  /** @type {Spec} */
  const spec = {
    label: `range ${file.kind}`,
    method: 'GET',
    path: url(file.name),
    headers: { Range: header },
    file,
    expect: [206],
    offset: start,
  };
  if (file.kind === 'stable') {
    Object.assign(spec, {
      length: [last - start + 1, last - start + 1],
      block: block(file.name, 0),
      contentRange: new RegExp(`^bytes ${start}-${last}/${size}$`),
    });
  } else if (file.kind === 'renamed') {
    Object.assign(spec, {
      length: [end - start + 1, end - start + 1],
      derive: true,
      contentRange: new RegExp(`^bytes ${start}-${end}/\\d+$`),
    });
  } else {
    // In place: it may be shorter now (a shorter 206, or a 416 when it no longer reaches `start`).
    Object.assign(spec, { expect: [206, 416], contentRange: new RegExp(`^bytes (${start}-\\d+/\\d+|\\*/\\d+)$`) });
  }
  return spec;
}

function unsatisfiableSpec(file) {
  return {
    label: 'range unsatisfiable',
    method: /** @type {const} */ ('GET'),
    path: url(file.name),
    headers: { Range: `bytes=${file.size}-` },
    file,
    expect: [416],
    contentRange: new RegExp(`^bytes \\*/${file.size}$`),
  };
}

/** @returns {Spec} */
function missSpec() {
  const n = between(0, 1e6);
  const paths = [`/s/missing-${n}.txt`, `/nope/${n}/x.html`, `/l/${n % 8}.bin.gz`, `/r/small-${n}.bin`];
  return { label: 'miss', method: 'GET', path: pick(paths), headers: {}, expect: [404] };
}

/** @returns {Spec} */
function directorySpec() {
  const dir = pick(directories);
  if (Math.random() < 0.5) {
    return { label: 'directory redirect', method: 'GET', path: `/${dir}`, headers: {}, expect: [301], location: `/${dir}/` };
  }
  const file = /** @type {import('./soak-tree.mjs').Entry} */ (files.find((f) => f.name === `${dir}/index.html`));
  return { ...getSpec(file), label: 'directory index', path: `/${dir}/` };
}

// ---------------------------------------------------------------------------------------------------------
// One exchange

/**
 * @typedef {{
 *   spec: Spec, kind: 'complete' | 'cut' | 'aborted' | 'reset' | 'timeout', began: number, ended: number,
 *   quietFor: number,
 *   status?: number, headers?: import('node:http').IncomingHttpHeaders, received: number,
 *   contentFailure?: string, code?: string,
 * }} Outcome
 */

/**
 * @param {Agent} agent
 * @param {Spec} spec
 * @returns {Promise<Outcome>}
 */
function exchange(agent, spec) {
  return new Promise((resolve) => {
    let settled = false;
    /** @type {import('node:http').IncomingMessage | undefined} */
    let response;
    let received = 0;
    /** @type {BodyChecker | undefined} */
    let checker;
    const began = Date.now();
    let lastData = began;
    const finish = (/** @type {Outcome['kind']} */ kind, /** @type {string | undefined} */ code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const contentFailure = checker?.end();
      resolve({
        spec,
        kind,
        began,
        ended: Date.now(),
        quietFor: Date.now() - lastData,
        received,
        ...(response ? { status: response.statusCode, headers: response.headers } : {}),
        ...(contentFailure !== undefined ? { contentFailure } : {}),
        ...(code !== undefined ? { code } : {}),
      });
    };
    const req = request({ host: '127.0.0.1', port, method: spec.method, path: spec.path, headers: spec.headers, agent });
    const timer = setTimeout(() => {
      finish('timeout');
      req.destroy();
    }, TIMEOUT_MS);
    req.on('error', (error) => finish(response ? 'cut' : 'reset', /** @type {NodeJS.ErrnoException} */ (error).code));
    req.on('response', (res) => {
      response = res;
      if (spec.block !== undefined || spec.derive === true) {
        const status = res.statusCode;
        if (status === 200 || status === 206) checker = new BodyChecker(spec, spec.offset ?? 0);
      }
      res.on('data', (/** @type {Buffer} */ chunk) => {
        received += chunk.length;
        checker?.push(chunk);
        lastData = Date.now();
        if (spec.abortAfter !== undefined && received >= spec.abortAfter && !settled) {
          finish('aborted');
          req.destroy();
        }
      });
      res.on('end', () => finish('complete'));
      res.on('error', (error) => finish('cut', /** @type {NodeJS.ErrnoException} */ (error).code));
      res.on('close', () => finish(res.complete ? 'complete' : 'cut'));
    });
    req.end();
  });
}

/**
 * Checks a body against the content pattern without holding it: the first aligned block (known, or taken
 * from the body for a replaced file), then the first and last 64 bytes of every chunk.
 */
class BodyChecker {
  /** @param {Spec} spec @param {number} offset of the first body byte in the file */
  constructor(spec, offset) {
    this.name = /** @type {import('./soak-tree.mjs').Entry} */ (spec.file).name;
    this.known = spec.block;
    this.offset = offset;
    this.position = offset;
    /** @type {Buffer | undefined} */
    this.block = undefined;
    /** @type {Buffer[] | undefined} */
    this.head = [];
    this.headLength = 0;
    /** @type {string | undefined} */
    this.failure = undefined;
  }

  /** @param {Buffer} chunk */
  push(chunk) {
    if (this.failure !== undefined) return;
    if (this.head !== undefined) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      this.position += chunk.length;
      const skip = (BLOCK_SIZE - (this.offset % BLOCK_SIZE)) % BLOCK_SIZE;
      if (this.headLength < skip + BLOCK_SIZE) return;
      const head = Buffer.concat(this.head);
      this.head = undefined;
      const found = Buffer.from(head.subarray(skip, skip + BLOCK_SIZE));
      const label = found.toString('latin1');
      if (!label.startsWith(`${this.name}#`) || !label.endsWith('\n')) {
        this.failure = `at ${this.offset + skip}: expected a block of ${this.name}, got ${JSON.stringify(label.slice(0, 40))}`;
        return;
      }
      if (this.known !== undefined && !found.equals(this.known)) {
        this.failure = `at ${this.offset + skip}: expected ${JSON.stringify(this.known.toString('latin1').split('.')[0])}, got ${JSON.stringify(label.split('.')[0])}`;
        return;
      }
      this.block = found;
      this.verify(head, this.offset, head.length);
      return;
    }
    this.verify(chunk, this.position, BLOCK_SIZE);
    this.position += chunk.length;
  }

  /** @returns {string | undefined} the first mismatch, if any */
  end() {
    if (this.failure === undefined && this.head !== undefined && this.known !== undefined) {
      // Shorter than one aligned block: compare what there is with the known pattern.
      this.block = this.known;
      this.verify(Buffer.concat(this.head), this.offset, this.headLength);
    }
    return this.failure;
  }

  /**
   * @param {Buffer} bytes starting at file offset `at`
   * @param {number} edge how many bytes to check at each end (all when ≥ half the length)
   */
  verify(bytes, at, edge) {
    const block = /** @type {Buffer} */ (this.block);
    const length = bytes.length;
    const check = (/** @type {number} */ j) => {
      if (bytes[j] !== block[(at + j) % BLOCK_SIZE]) {
        const start = Math.max(0, j - ((at + j) % BLOCK_SIZE));
        this.failure = `at ${at + j}: expected ${JSON.stringify(block.toString('latin1').split('.')[0])}, got ${JSON.stringify(bytes.subarray(start, start + BLOCK_SIZE).toString('latin1').split('.')[0])}`;
        return false;
      }
      return true;
    };
    const front = Math.min(edge, length);
    for (let j = 0; j < front; j++) if (!check(j)) return;
    for (let j = Math.max(front, length - edge); j < length; j++) if (!check(j)) return;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Judging an outcome

/**
 * @param {ReturnType<typeof newResults>} results
 * @param {Outcome} outcome
 */
function record(results, outcome) {
  const { spec, kind, status, headers } = outcome;
  results.requests++;
  results.bytes += outcome.received;
  if (status !== undefined) results.statuses[status] = (results.statuses[status] ?? 0) + 1;
  const truncatable = spec.file?.kind === 'truncated';
  const fail = (/** @type {keyof ReturnType<typeof newResults>['errors']} */ category, /** @type {string} */ detail) => {
    results.errors[category]++;
    if (results.samples.length < MAX_SAMPLES) {
      results.samples.push(`${category}: ${spec.method} ${spec.path} ${JSON.stringify(spec.headers)} (${spec.label}): ${detail}`);
    }
  };

  switch (kind) {
    case 'timeout':
      fail('timeout', `no answer within ${TIMEOUT_MS} ms (status ${status ?? 'none'}, ${outcome.received} bytes)`);
      return;
    case 'reset':
      // The server may also cut before the headers, when the file shrank between fstat and the first read.
      if (truncatable) results.pendingCuts.push(outcome);
      else fail('unexpectedReset', `${outcome.code ?? 'closed'} before a response`);
      return;
    case 'cut':
      if (outcome.quietFor >= STALL_MS) {
        fail('stalledBody', `${outcome.received} of ${headers?.['content-length']} bytes, then nothing for ${outcome.quietFor} ms until ${outcome.code ?? 'closed'}`);
      } else if (truncatable && (status === 200 || status === 206)) results.pendingCuts.push(outcome);
      else fail('unexpectedReset', `${outcome.code ?? 'closed'} after ${outcome.received} of ${headers?.['content-length']} bytes, status ${status}`);
      return;
    case 'aborted':
      if (status === 200) results.deliberateAborts++;
      else fail('unexpectedStatus', `status ${status} for a download to abort`);
      if (outcome.contentFailure !== undefined) fail('contentMismatch', outcome.contentFailure);
      return;
    case 'complete':
      break;
  }

  const statusCode = /** @type {number} */ (status);
  if (!spec.expect.includes(statusCode)) {
    fail('unexpectedStatus', `status ${statusCode}, expected ${spec.expect.join(' or ')}`);
    return;
  }
  const declared = headers?.['content-length'];
  const hasBody = spec.method !== 'HEAD' && statusCode !== 304;
  if (hasBody && declared !== undefined && Number(declared) !== outcome.received) {
    fail('lengthMismatch', `received ${outcome.received} bytes, Content-Length ${declared}, status ${statusCode}`);
    return;
  }
  if (!hasBody && outcome.received !== 0) {
    fail('lengthMismatch', `received ${outcome.received} bytes for a ${spec.method} ${statusCode}`);
    return;
  }
  if (statusCode === 200 || statusCode === 206) {
    if (declared === undefined) {
      fail('badHeaders', 'no Content-Length');
      return;
    }
    if (spec.length !== undefined && (Number(declared) < spec.length[0] || Number(declared) > spec.length[1])) {
      fail('lengthMismatch', `Content-Length ${declared}, expected ${spec.length[0]}..${spec.length[1]}`);
      return;
    }
    const etag = headers?.etag;
    if (spec.file !== undefined && typeof etag === 'string') etags.set(spec.file.name, etag);
  }
  if (spec.contentRange !== undefined && (statusCode === 206 || statusCode === 416)) {
    const value = headers?.['content-range'] ?? '';
    if (!spec.contentRange.test(value)) {
      fail('badHeaders', `Content-Range ${JSON.stringify(value)}, expected ${spec.contentRange}`);
      return;
    }
  }
  if (spec.location !== undefined && headers?.location !== spec.location) {
    fail('badHeaders', `Location ${JSON.stringify(headers?.location)}, expected ${spec.location}`);
    return;
  }
  if (outcome.contentFailure !== undefined) fail('contentMismatch', outcome.contentFailure);
}

/**
 * A cut is the server's answer to a file that shrank under a download: it is excused only when the file was
 * truncated or rewritten in place while the request was in flight. Any other cut is an error.
 * @param {ReturnType<typeof newResults>} results
 */
function judgeCuts(results) {
  for (const outcome of results.pendingCuts) {
    const name = /** @type {import('./soak-tree.mjs').Entry} */ (outcome.spec.file).name;
    const explained = (shrinks.get(name) ?? []).some(([start, end]) => start <= outcome.ended && end >= outcome.began);
    if (explained) {
      results.cutOnTruncation++;
      if (outcome.kind === 'reset') results.cutBeforeHeaders++;
      continue;
    }
    results.errors.unexpectedReset++;
    if (results.samples.length < MAX_SAMPLES) {
      results.samples.push(
        `unexpectedReset: GET ${outcome.spec.path} ${JSON.stringify(outcome.spec.headers)}: cut after ${outcome.received} bytes ` +
          `(status ${outcome.status ?? 'none'}) with no truncation of the file during the request`,
      );
    }
  }
  results.pendingCuts = [];
}
