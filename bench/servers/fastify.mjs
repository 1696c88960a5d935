// @fastify/static on fastify (logger off); misses reach fastify's own 404.
// Usage: node fastify.mjs <root> <port>
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';

const [root = '.', port = '0'] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(fastifyStatic, { root: resolve(root) });
await app.listen({ port: Number(port), host: '127.0.0.1' });
