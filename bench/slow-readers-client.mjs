// The stalled clients of the slow-readers phase, in their own process (pinned to the load core like wrk):
// `clients` raw TCP connections, each sending one GET of `path` and reading only its first bytes: each socket
// reads into its own 4 KiB buffer (`onread`) and stops reading (pause) as soon as it has the status line. Then
// the kernel's receive buffer fills and the server's writes back up, as with a client on a slow link. Prints one JSON line once every client has its
// first bytes (or failed), holds them until a line arrives on stdin, destroys them all, prints a second JSON
// line and exits. Usage: node slow-readers-client.mjs '{"port":8080,"path":"/10m.txt","clients":400}'
import { connect } from 'node:net';

const { port, path, clients } = JSON.parse(process.argv[2] ?? '{}');
/** Connections waiting for their first bytes at any time, so the server's accept queue never overflows. */
const IN_FLIGHT = 50;
const FIRST_BYTES_TIMEOUT_MS = 20_000;
const STATUS = Buffer.from('HTTP/1.1 200 ');

/** @type {import('node:net').Socket[]} */
const stalled = [];
/** @type {Record<string, number>} */
const errors = {};
let closedEarly = 0;
let destroying = false;
const startedAt = performance.now();

/** Opens one client; resolves true once it has the start of a 200 response and is paused. */
function stall() {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    const socket = connect({
      host: '127.0.0.1',
      port,
      onread: {
        buffer: Buffer.alloc(4096),
        // false: pause, which with `onread` stops reading from the kernel at once
        callback: (/** @type {number} */ bytes, /** @type {Buffer} */ buffer) => {
          head = Buffer.concat([head, buffer.subarray(0, bytes)]);
          if (head.length < STATUS.length) return true;
          done(head.subarray(0, STATUS.length).equals(STATUS) ? null : `answered ${JSON.stringify(head.subarray(0, 12).toString('latin1'))}`);
          return false;
        },
      },
    });
    let settled = false;
    const done = (/** @type {string | null} */ error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === null) {
        stalled.push(socket);
        socket.on('close', () => {
          if (!destroying) closedEarly++;
        });
        resolve(true);
        return;
      }
      errors[error] = (errors[error] ?? 0) + 1;
      socket.destroy();
      resolve(false);
    };
    const timer = setTimeout(() => done(`no first bytes within ${FIRST_BYTES_TIMEOUT_MS} ms`), FIRST_BYTES_TIMEOUT_MS);
    socket.on('error', (error) => done(/** @type {NodeJS.ErrnoException} */ (error).code ?? error.message));
    socket.on('close', () => done('closed before the first bytes'));
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(IN_FLIGHT, clients) }, async () => {
    while (next < clients) {
      next++;
      await stall();
    }
  }),
);
process.stdout.write(`${JSON.stringify({ stalled: stalled.length, errors, firstBytesMs: performance.now() - startedAt })}\n`);

process.stdin.once('data', () => {
  destroying = true;
  // bytesRead: what reached this process (its paused buffers), the rest sits in the kernel's buffers.
  const bytesRead = stalled.reduce((n, s) => n + s.bytesRead, 0);
  const open = stalled.filter((s) => !s.destroyed).length;
  for (const socket of stalled) socket.destroy();
  process.stdout.write(`${JSON.stringify({ destroyed: open, closedEarly, clientBytesRead: bytesRead })}\n`, () => process.exit(0));
});
