'use strict';
// An app as a CommonJS project writes one, bundled by esbuild (test/packaging.test.ts) and run with and without
// node_modules. /control/ is served by serve-static from the same directory. It also imports the package
// dynamically: `import` and `require` must meet the same module in the bundle.
const { createServer } = require('node:http');
const { join } = require('node:path');
const serveStatic = require('brisk-static');
const referenceServeStatic = require('serve-static');

const publicDir = join(process.cwd(), 'public');
const ours = serveStatic(publicDir);
const reference = referenceServeStatic(publicDir);

const server = createServer((req, res) => {
  const notFound = () => {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('app 404');
  };
  if (req.url.startsWith('/control/')) {
    req.url = req.url.slice('/control'.length);
    reference(req, res, notFound);
  } else {
    ours(req, res, notFound);
  }
});
import('brisk-static').then((imported) => {
  const sameInstance = imported.default === serveStatic && imported.serveStatic === serveStatic && serveStatic.default === serveStatic;
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ port: server.address().port, typeofDefault: typeof serveStatic, sameInstance }));
  });
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
