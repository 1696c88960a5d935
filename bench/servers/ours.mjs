// brisk-static (this package, built dist/) on node:http, the Connect door. `--cache` passes `{ cache: true }`;
// `--precompressed` passes `{ precompressed: true }` (on the bench's root, which has no sidecars, that measures
// what looking for them costs). Without flags the options are the defaults, passed as `{}`.
// Usage: node ours.mjs <root> <port> [--cache] [--precompressed]
import { createServer } from 'node:http';
import serveStatic from '../../dist/index.js';

const [root = '.', port = '0', ...flags] = process.argv.slice(2);
const OPTIONS = ['cache', 'precompressed'];
/** @type {Record<string, true>} */
const options = {};
for (const flag of flags) {
  const name = flag.slice(2);
  if (!flag.startsWith('--') || !OPTIONS.includes(name)) throw new TypeError(`ours.mjs: unknown flag ${flag}; known: --${OPTIONS.join(', --')}`);
  options[name] = true;
}
const files = serveStatic(root, options);
createServer((req, res) => files(req, res)).listen(Number(port), '127.0.0.1');
