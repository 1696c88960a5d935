// The soak test's server: brisk-static (built dist/) with default options, or `cache: true`, on node:http,
// in its own process. Started by bench/soak.mjs with an IPC channel:
//   → { type: 'listening', port }                once it accepts connections
//   ← { type: 'measure' }  → { type: 'measure', fds, rss, heapUsed, connections, counters }
//     after a forced GC (when run with --expose-gc): descriptors from /proc/self/fd, resident set size.
// Usage: node --expose-gc soak-server.mjs <root> [--cache]
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import serveStatic from '../dist/index.js';

const [root, flag] = process.argv.slice(2);
if (root === undefined || process.send === undefined) {
  process.stderr.write('soak-server: started by bench/soak.mjs (needs <root> and an IPC channel)\n');
  process.exit(2);
}
const files = serveStatic(root, flag === '--cache' ? { cache: true } : {});

const counters = {
  /** Responses the server finished, by status. */
  finished: /** @type {Record<string, number>} */ ({}),
  /** Responses whose connection closed before they finished (client aborts, cuts on truncation). */
  unfinished: 0,
  /** What reached the final handler through next(err), by `<status> <code or name>`. */
  nextErrors: /** @type {Record<string, number>} */ ({}),
  /** Unparseable requests and socket errors before a request (`clientError`). */
  clientErrors: /** @type {Record<string, number>} */ ({}),
};
const bump = (table, key) => {
  table[key] = (table[key] ?? 0) + 1;
};

/** The next middleware: next() is a 404, next(err) answers err.status, as Express's final handler does. */
function finalHandler(res, err) {
  if (err !== undefined && err !== null) bump(counters.nextErrors, `${err.status ?? 500} ${err.code ?? err.name}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = err ? (err.status ?? 500) : 404;
  const body = err ? `${status}\n` : 'not found\n';
  res.statusCode = status;
  if (err?.headers) for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

const server = createServer((req, res) => {
  res.on('close', () => {
    if (res.writableFinished) bump(counters.finished, String(res.statusCode));
    else counters.unfinished++;
  });
  files(req, res, (err) => finalHandler(res, err));
});
server.on('clientError', (error, socket) => {
  bump(counters.clientErrors, /** @type {NodeJS.ErrnoException} */ (error).code ?? error.message);
  socket.destroy();
});

async function measure() {
  if (typeof globalThis.gc === 'function') {
    // Twice, a turn apart: the first pass runs finalizers that free more on the second.
    globalThis.gc();
    await new Promise((done) => setTimeout(done, 50));
    globalThis.gc();
  }
  const connections = await new Promise((done) => server.getConnections((error, count) => done(error ? -1 : count)));
  const memory = process.memoryUsage();
  return {
    type: 'measure',
    // The listing itself holds one descriptor while it runs; it is the same every time.
    fds: readdirSync('/proc/self/fd').length,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    connections,
    gc: typeof globalThis.gc === 'function',
    counters,
  };
}

process.on('message', (message) => {
  if (message?.type === 'measure') measure().then((result) => process.send?.(result));
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 });
});
