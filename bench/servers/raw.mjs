// The ceiling for Node: plain node:http answering from Buffers read at startup (every file under root),
// with the headers the others send: Content-Type, Content-Length, ETag, Last-Modified, Cache-Control,
// Accept-Ranges. Handles just what the bench asks: `/` → index.html, If-None-Match → 304, one
// `Range: bytes=a-b` → 206, anything else missing → 404.
// Usage: node raw.mjs <root> <port>
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, relative, sep } from 'node:path';

const TYPES = /** @type {Record<string, string>} */ ({
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
});

const [root = '.', port = '0'] = process.argv.slice(2);

/** @type {Map<string, { body: Buffer, etag: string, headers: Record<string, string | number> }>} */
const files = new Map();
for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const abs = join(entry.parentPath ?? entry.path, entry.name);
  const stat = statSync(abs);
  const body = readFileSync(abs);
  const etag = `W/"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}"`;
  files.set(`/${relative(root, abs).split(sep).join('/')}`, {
    body,
    etag,
    headers: {
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'public, max-age=0',
      'Last-Modified': stat.mtime.toUTCString(),
      ETag: etag,
      'Content-Type': TYPES[extname(abs)] ?? 'application/octet-stream',
      'Content-Length': body.length,
    },
  });
}

createServer((req, res) => {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  const file = files.get(path.endsWith('/') ? `${path}index.html` : path);
  if (file === undefined) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 9 });
    res.end('Not Found');
    return;
  }
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, { ETag: file.etag, 'Cache-Control': file.headers['Cache-Control'], 'Last-Modified': file.headers['Last-Modified'] });
    res.end();
    return;
  }
  const range = req.headers.range === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range);
  if (range !== null) {
    const size = file.body.length;
    const start = Number(range[1]);
    const end = Math.min(range[2] === '' ? size - 1 : Number(range[2]), size - 1);
    if (start <= end) {
      res.writeHead(206, { ...file.headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
      res.end(file.body.subarray(start, end + 1));
      return;
    }
  }
  res.writeHead(200, file.headers);
  res.end(file.body);
}).listen(Number(port), '127.0.0.1');
