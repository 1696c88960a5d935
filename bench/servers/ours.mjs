// brisk-static (this package, built dist/) on node:http; `--cache` passes `{ cache: true }`.
// Usage: node ours.mjs <root> <port> [--cache]
import { createServer } from 'node:http';
import serveStatic from '../../dist/index.js';

const [root = '.', port = '0', flag] = process.argv.slice(2);
const files = serveStatic(root, flag === '--cache' ? /** @type {object} */ ({ cache: true }) : {});
createServer((req, res) => files(req, res)).listen(Number(port), '127.0.0.1');
