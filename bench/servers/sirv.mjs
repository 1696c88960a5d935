// sirv in production mode on node:http: it walks the whole root at startup and serves from that table.
// `etag: true` so it sends an ETag and answers If-None-Match like the others (sirv's default is no ETag).
// Usage: node sirv.mjs <root> <port>
import { createServer } from 'node:http';
import sirv from 'sirv';

const [root = '.', port = '0'] = process.argv.slice(2);
const files = sirv(root, { dev: false, etag: true });
createServer((req, res) => files(req, res)).listen(Number(port), '127.0.0.1');
