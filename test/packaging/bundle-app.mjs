// An app as an ES module project writes one, bundled by esbuild (test/packaging.test.ts) and run with and
// without node_modules. /control/ is served by serve-static from the same directory.
import { createServer } from 'node:http';
import { join } from 'node:path';
import serveStatic, { serveStatic as named } from 'brisk-static';
import referenceServeStatic from 'serve-static';

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
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port, typeofDefault: typeof serveStatic, sameAsNamed: serveStatic === named }));
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
