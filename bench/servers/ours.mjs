// brisk-static (this package, built dist/) on node:http, the Connect door. `--cache` passes `{ cache: true }`;
// `--precompressed` passes `{ precompressed: true }` (on the bench's root, which has no sidecars, that measures
// what looking for them costs); `--etag=content` passes `{ etag: 'content' }` (strong SHA-256 ETags, each file's
// digest computed once and remembered: the steady state is what is timed). Without flags the options are the
// defaults, passed as `{}`.
// Usage: node ours.mjs <root> <port> [--cache] [--precompressed] [--etag=content]
import { createServer } from 'node:http';
import serveStatic from '../../dist/index.js';

const [root = '.', port = '0', ...flags] = process.argv.slice(2);
/** Each flag's option and the values it may take after `=`; `true` is the flag alone. */
const OPTIONS = { cache: [true], precompressed: [true], etag: ['content'] };
/** @type {Record<string, true | string>} */
const options = {};
for (const flag of flags) {
  const [name = '', value = true] = flag.slice(2).split(/=(.*)/s);
  const allowed = /** @type {Record<string, (true | string)[]>} */ (OPTIONS)[name];
  if (!flag.startsWith('--') || allowed === undefined || !allowed.includes(value)) {
    const known = Object.entries(OPTIONS).flatMap(([option, values]) => values.map((v) => (v === true ? `--${option}` : `--${option}=${v}`)));
    throw new TypeError(`ours.mjs: unknown flag ${flag}; known: ${known.join(', ')}`);
  }
  options[name] = value;
}
const files = serveStatic(root, options);
createServer((req, res) => files(req, res)).listen(Number(port), '127.0.0.1');
