// The throughput scenarios, and the answer check each server must pass before it is timed.
import { get } from './procs.mjs';

/**
 * @typedef {object} Scenario
 * @property {string} id
 * @property {string} title
 * @property {string} path             request path
 * @property {Record<string, string>} [headers]  fixed request headers
 * @property {boolean} [conditional]    send If-None-Match with the ETag the server itself gave
 * @property {number} expectStatus
 * @property {string} [file]            main-root file whose bytes (or first `slice` bytes) are the body
 * @property {number} [slice]
 * @property {boolean} [mbps]           report MiB/s too (bytes read ÷ time, so partial bodies count)
 * @property {number} [connections]     instead of --connections: 50 × 10 MB in flight would finish no response
 *                                      within a short run (they share the bandwidth and end together)
 */

/** @type {Scenario[]} */
export const SCENARIOS = [
  { id: '1k', title: '1 KB file', path: '/1k.txt', expectStatus: 200, file: '1k.txt' },
  { id: '30k', title: '30 KB file', path: '/30k.txt', expectStatus: 200, file: '30k.txt' },
  { id: '100k', title: '100 KB file', path: '/100k.txt', expectStatus: 200, file: '100k.txt' },
  { id: 'index', title: '/ through the index (index.html, 1 KB)', path: '/', expectStatus: 200, file: 'index.html' },
  { id: '304', title: '304 via If-None-Match (1 KB file)', path: '/1k.txt', conditional: true, expectStatus: 304 },
  { id: 'miss', title: 'miss → 404', path: '/no/such/file.txt', expectStatus: 404 },
  { id: '10m', title: '10 MB file', path: '/10m.txt', expectStatus: 200, file: '10m.txt', mbps: true, connections: 8 },
  {
    id: 'range',
    title: '1 KB range of the 100 KB file (Range: bytes=0-1023 → 206)',
    path: '/100k.txt',
    headers: { Range: 'bytes=0-1023' },
    expectStatus: 206,
    file: '100k.txt',
    slice: 1024,
  },
];

/**
 * Asks the server once as the load generator will, and checks the answer. Resolves with the request headers
 * to time with (the server's own ETag for the 304 scenario) or with the reason the answer is wrong.
 * @param {number} port
 * @param {Scenario} scenario
 * @param {Record<string, Buffer>} bodies  main-root file name → bytes
 * @returns {Promise<{ ok: true, headers: Record<string, string>, bodyLength: number } | { ok: false, reason: string }>}
 */
export async function checkAnswer(port, scenario, bodies) {
  /** @type {Record<string, string>} */
  const headers = { ...scenario.headers };
  if (scenario.conditional) {
    const first = await get(port, scenario.path);
    const etag = first.headers.etag;
    if (first.status !== 200 || typeof etag !== 'string') {
      return { ok: false, reason: `GET ${scenario.path} gave ${first.status} ${etag === undefined ? 'without an ETag' : ''}`.trim() };
    }
    headers['If-None-Match'] = etag;
  }
  const res = await get(port, scenario.path, headers);
  const problems = [];
  if (res.status !== scenario.expectStatus) problems.push(`status ${res.status}, expected ${scenario.expectStatus}`);
  if (scenario.expectStatus === 304 && res.body.length !== 0) problems.push(`304 with a ${res.body.length}-byte body`);
  if (scenario.file !== undefined) {
    const full = /** @type {Buffer} */ (bodies[scenario.file]);
    const expected = scenario.slice === undefined ? full : full.subarray(0, scenario.slice);
    const length = res.headers['content-length'];
    if (length !== String(expected.length)) problems.push(`Content-Length ${length}, expected ${expected.length}`);
    if (res.headers.etag === undefined) problems.push('no ETag');
    if (res.body.length !== expected.length) problems.push(`body ${res.body.length} bytes, expected ${expected.length}`);
    else if (!res.body.equals(expected)) problems.push('body differs from the file');
    if (scenario.slice !== undefined) {
      const want = `bytes 0-${scenario.slice - 1}/${full.length}`;
      if (res.headers['content-range'] !== want) problems.push(`Content-Range ${res.headers['content-range']}, expected ${want}`);
    }
  }
  return problems.length > 0 ? { ok: false, reason: problems.join('; ') } : { ok: true, headers, bodyLength: res.body.length };
}
