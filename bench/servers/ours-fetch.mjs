// brisk-static's fetch door (serveStaticFetch, built dist/) on node:http behind @hono/node-server's request
// listener: the way a Hono-on-Node user runs it. `undefined` (where the Connect door calls `next()`) is answered
// as serve-static.mjs's `next` answers a miss: 404 `Not Found`.
// Usage: node ours-fetch.mjs <root> <port>
import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { serveStaticFetch } from '../../dist/index.js';

const [root = '.', port = '0'] = process.argv.slice(2);
const handler = serveStaticFetch(root);
const listener = getRequestListener(
  async (request) => (await handler(request)) ?? new Response('Not Found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
);
createServer(listener).listen(Number(port), '127.0.0.1');
