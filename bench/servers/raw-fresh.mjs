// The ceiling for an always-fresh server (no cache, like serve-static and brisk-static's defaults): plain
// node:http making only the disk calls such a server cannot avoid, and nothing else (no URL decoding, no
// dotfile or containment rules, no options). A conditional request costs one `stat`; a body costs `open`,
// `fstat`, one `read` (a larger body: a read stream on the descriptor) and `close`; a miss one failed `open`.
// Same headers as raw.mjs. It shows what the thread-pool round trips alone cost on this machine.
// Usage: node raw-fresh.mjs <root> <port>
import { close, createReadStream, fstat, open, read, stat } from 'node:fs';
import { createServer } from 'node:http';
import { extname, resolve } from 'node:path';
import { pipeline } from 'node:stream';

const TYPES = /** @type {Record<string, string>} */ ({
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
});
const ONE_READ_LIMIT = 64 * 1024;
const CHUNK_SIZE = 256 * 1024;

const [rootArg = '.', port = '0'] = process.argv.slice(2);
const root = resolve(rootArg);

const etagOf = (/** @type {import('node:fs').Stats} */ stat) => `W/"${stat.size.toString(16)}-${stat.mtimeMs.toString(16)}"`;

function notFound(/** @type {import('node:http').ServerResponse} */ res) {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 9 });
  res.end('Not Found');
}

function sendFile(/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res, /** @type {string} */ file) {
  open(file, 'r', (openError, fd) => {
    if (openError) {
      notFound(res);
      return;
    }
    fstat(fd, (statError, stat) => {
      if (statError || !stat.isFile()) {
        close(fd, () => {});
        notFound(res);
        return;
      }
      const size = stat.size;
      let start = 0;
      let end = size - 1;
      const match = req.headers.range === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range);
      if (match !== null && Number(match[1]) < size) {
        start = Number(match[1]);
        end = Math.min(match[2] === '' ? size - 1 : Number(match[2]), size - 1);
        res.statusCode = 206;
        res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      }
      const length = end - start + 1;
      res.setHeader('Accept-Ranges', 'bytes');
      res.setHeader('Cache-Control', 'public, max-age=0');
      res.setHeader('Last-Modified', stat.mtime.toUTCString());
      res.setHeader('ETag', etagOf(stat));
      res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
      res.setHeader('Content-Length', length);
      if (length > ONE_READ_LIMIT) {
        pipeline(createReadStream('', { fd, start, end, highWaterMark: CHUNK_SIZE }), res, () => {});
        return;
      }
      const body = Buffer.allocUnsafe(length);
      read(fd, body, 0, length, start, (readError, bytesRead) => {
        close(fd, () => {});
        if (readError || bytesRead !== length) res.destroy();
        else res.end(body);
      });
    });
  });
}

createServer((req, res) => {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (path.includes('..')) {
    notFound(res);
    return;
  }
  const file = root + (path.endsWith('/') ? `${path}index.html` : path);
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch === undefined) {
    sendFile(req, res, file);
    return;
  }
  stat(file, (error, stat) => {
    if (error || !stat.isFile()) {
      notFound(res);
      return;
    }
    const etag = etagOf(stat);
    if (ifNoneMatch !== etag) {
      sendFile(req, res, file);
      return;
    }
    res.writeHead(304, { ETag: etag, 'Cache-Control': 'public, max-age=0', 'Last-Modified': stat.mtime.toUTCString() });
    res.end();
  });
}).listen(Number(port), '127.0.0.1');
