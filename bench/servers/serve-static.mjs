// serve-static 2.2.1 on node:http, with the smallest `next` that answers a miss (as finalhandler would: 404).
// Usage: node serve-static.mjs <root> <port>
import { createServer } from 'node:http';
import serveStatic from 'serve-static';

const [root = '.', port = '0'] = process.argv.slice(2);
const files = serveStatic(root);
createServer((req, res) => {
  files(req, res, (/** @type {any} */ err) => {
    res.statusCode = err ? (err.status ?? 500) : 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(err ? 'Error' : 'Not Found');
  });
}).listen(Number(port), '127.0.0.1');
