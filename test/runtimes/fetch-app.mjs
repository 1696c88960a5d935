// The app that test/fetch.test.ts runs under Bun (`Bun.serve({ fetch })`), Deno (`Deno.serve(handler)`) and
// Node (`node:http` with @hono/node-server's `getRequestListener`): the fetch door of the built package on the
// runtime's own server. Arguments: the built package (an absolute path to dist/index.js), the directory to
// serve, and a lifetime in milliseconds.
//
// Three servers on 127.0.0.1, port 0 each, with the same app in front of a different handler:
// - plain: `serveStaticFetch(root)`, the defaults;
// - precompressed: `serveStaticFetch(root, { precompressed: true })`;
// - spa: the issue-11 options as a single-page app's deploy uses them, on the subtree `root/spa` (the test
//   writes it: an index.html, hashed assets, a sidecar): `{ spa: true, etag: 'content', precompressed: true,
//   maxAge: '1y', immutable: true }`.
// The app answers `/__control/...` itself with hand-made `Response`s (below), passes everything else to the
// handler, and answers `undefined` from it with 404 `app 404`.
//
// The control routes build the same kinds of Response the fetch door builds (a null body with a
// Content-Length for HEAD, a ReadableStream body with a Content-Length, a 304 with validators, an encoded body
// with Vary), without the package: when a runtime changes a header on the package's answer, the control in
// the same process tells whether the runtime does that to any such Response.
//
// When all listen, one JSON line goes to stdout:
// `{"runtime":"bun 1.4.5","plain":PORT,"precompressed":PORT,"spa":PORT}`.
// The child never outlives its test: it exits after its lifetime, and as soon as its stdin closes (see
// common.mjs).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { announce, childArguments } from './common.mjs';

const { distPath, root } = childArguments('fetch-app.mjs');

const { serveStaticFetch } = await import(pathToFileURL(distPath).href);

/** Bytes 0, 1, ..., 255, 0, ... of the given size: recognisable, and the same on every runtime. */
function pattern(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

/** A stream handing out `bytes` one 16 KiB chunk per pull, as the package's file stream does. */
function streamOf(bytes) {
  let offset = 0;
  return new ReadableStream(
    {
      pull(controller) {
        const end = Math.min(offset + 16 * 1024, bytes.length);
        controller.enqueue(bytes.slice(offset, end));
        offset = end;
        if (offset >= bytes.length) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

const CONTROL_LAST_MODIFIED = 'Thu, 01 Jan 2026 00:00:00 GMT';

/** The control responses; `size` (query) is the body length where there is one. */
function control(request, url) {
  const size = Number(url.searchParams.get('size') ?? '1000');
  const head = request.method === 'HEAD';
  const type = { 'Content-Type': 'text/plain; charset=utf-8' };
  switch (url.pathname) {
    // What the fetch door does for HEAD: no body, the file's Content-Length.
    case '/__control/head':
      return new Response(head ? null : pattern(size), { headers: { ...type, 'Content-Length': String(size) } });
    // A streamed body with its length declared, as the door sends files above 64 KiB.
    case '/__control/stream':
      return new Response(head ? null : streamOf(pattern(size)), { headers: { ...type, 'Content-Length': String(size) } });
    // A 304 with the headers the door keeps on one.
    case '/__control/304':
      return new Response(null, {
        status: 304,
        headers: {
          ETag: 'W/"3e8-control"',
          'Last-Modified': CONTROL_LAST_MODIFIED,
          'Cache-Control': 'public, max-age=0',
          'Accept-Ranges': 'bytes',
          Vary: 'Accept-Encoding',
        },
      });
    // An already-encoded body, as a sidecar is sent: the runtime must neither re-encode it nor drop Vary.
    case '/__control/encoded':
      return new Response(head ? null : pattern(size), {
        headers: { ...type, 'Content-Encoding': 'br', Vary: 'Accept-Encoding', 'Content-Length': String(size) },
      });
    default:
      return new Response('no such control', { status: 400, headers: type });
  }
}

function app(handler) {
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/__control/')) return control(request, url);
    const response = await handler(request);
    return response ?? new Response('app 404', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  };
}

const apps = {
  plain: app(serveStaticFetch(root)),
  precompressed: app(serveStaticFetch(root, { precompressed: true })),
  spa: app(serveStaticFetch(join(root, 'spa'), { spa: true, etag: 'content', precompressed: true, maxAge: '1y', immutable: true })),
};

/** Serves `fetch` on 127.0.0.1, port 0, with the runtime's own server; resolves to the port. */
async function listen(fetch) {
  if (typeof globalThis.Bun === 'object') {
    return globalThis.Bun.serve({ hostname: '127.0.0.1', port: 0, fetch }).port;
  }
  if (typeof globalThis.Deno === 'object') {
    return await new Promise((resolve) => {
      globalThis.Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => resolve(port) }, fetch);
    });
  }
  const [{ createServer }, { getRequestListener }] = await Promise.all([import('node:http'), import('@hono/node-server')]);
  const server = createServer(getRequestListener(fetch));
  return await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

announce({ plain: await listen(apps.plain), precompressed: await listen(apps.precompressed), spa: await listen(apps.spa) });
