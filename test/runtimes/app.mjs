// The app that test/runtimes.test.ts runs under Bun and Deno (it runs under Node too). Arguments: the built
// package (an absolute path to dist/index.js), the directory to serve, and a lifetime in milliseconds.
//
// Two servers on 127.0.0.1, port 0 each:
// - plain: `node:http` with `serveStatic(root)` alone; its `next()` answers 404 `plain 404`.
// - express: an Express 5 app with `/static` (this package), `/reference` (serve-static, the control), then
//   a 404 handler answering `app 404`.
// When both listen, one JSON line goes to stdout: `{"runtime":"bun 1.4.5","plain":PORT,"express":PORT}`.
//
// The child never outlives its test: it exits after its lifetime, and as soon as its stdin closes (the test
// process ended or closed the pipe); see common.mjs.
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import express from 'express';
import referenceStatic from 'serve-static';
import { announce, childArguments } from './common.mjs';

const { distPath, root } = childArguments('app.mjs');

const { default: serveStatic } = await import(pathToFileURL(distPath).href);

const plainStatic = serveStatic(root);
const plain = createServer((req, res) => {
  plainStatic(req, res, (err) => {
    res.statusCode = err ? (err.status ?? 500) : 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(err ? `plain error ${String(err.status)}` : 'plain 404');
  });
});

const app = express();
app.use('/static', serveStatic(root));
app.use('/reference', referenceStatic(root));
app.use((_req, res) => {
  res.status(404).type('text/plain').send('app 404');
});
const expressServer = createServer(app);

/** @param {import('node:http').Server} server */
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

announce({ plain: await listen(plain), express: await listen(expressServer) });
