// One autocannon run in its own process (so it can be pinned to the load core); prints a LoadResult (see
// load.mjs) as one JSON line. Usage: node autocannon-run.mjs '<LoadRequest as JSON>'
import autocannon from 'autocannon';
import { manyPath } from './fixtures.mjs';

const req = JSON.parse(process.argv[2] ?? '{}');
let i = 0;
const result = await autocannon({
  url: `http://127.0.0.1:${req.port}`,
  connections: req.connections,
  duration: req.seconds,
  timeout: 10,
  requests: [
    {
      method: 'GET',
      path: req.path,
      headers: req.headers ?? {},
      ...(req.spread === undefined
        ? {}
        : { setupRequest: (/** @type {any} */ r) => ({ ...r, path: manyPath((i = (i + 1) % req.spread)) }) }),
    },
  ],
});
const seconds = result.duration;
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    seconds,
    rps: result.requests.total / seconds,
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    bytes: result.throughput.total,
    statusErrors: result.non2xx - result['3xx'],
    socketErrors: result.errors + result.timeouts,
  })}\n`,
);
