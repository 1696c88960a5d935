// The servers under test: id, label, and how to start one serving `root` on `port`. Every Node server is its
// own script in this folder, started as `node <script> <root> <port>`; nginx gets a generated config.
import { fileURLToPath } from 'node:url';
import { nginxCommand, nginxVersion } from './nginx.mjs';

/**
 * @typedef {object} ServerSpec
 * @property {string} id
 * @property {string} label
 * @property {string} note
 * @property {(root: string, port: number, dir: string) => string[]} argv  `dir`: a private temp dir
 */

/** @param {string} file @param {string[]} [extra] */
const node = (file, extra = []) => (/** @type {string} */ root, /** @type {number} */ port) => [
  process.execPath,
  fileURLToPath(new URL(file, import.meta.url)),
  root,
  String(port),
  ...extra,
];

/** @type {ServerSpec[]} */
const ALL = [
  { id: 'ours', label: 'ours', note: 'brisk-static, default options, node:http', argv: node('./ours.mjs') },
  { id: 'ours+cache', label: 'ours+cache', note: 'brisk-static with { cache: true }, node:http', argv: node('./ours.mjs', ['--cache']) },
  {
    id: 'ours-precompressed',
    label: 'ours-precompressed',
    note: 'brisk-static with { precompressed: true }, node:http, on the same root (no sidecars)',
    argv: node('./ours.mjs', ['--precompressed']),
  },
  {
    id: 'ours-content-etag',
    label: 'ours-content-etag',
    note: "brisk-static with { etag: 'content' } (strong SHA-256 ETags, remembered per file version), node:http",
    argv: node('./ours.mjs', ['--etag=content']),
  },
  {
    id: 'ours-fetch',
    label: 'ours-fetch',
    note: 'brisk-static fetch door, serveStaticFetch behind @hono/node-server getRequestListener on node:http',
    argv: node('./ours-fetch.mjs'),
  },
  { id: 'serve-static', label: 'serve-static', note: 'serve-static 2.2.1, node:http', argv: node('./serve-static.mjs') },
  { id: 'express', label: 'express', note: 'express 5 + express.static', argv: node('./express.mjs') },
  { id: 'sirv', label: 'sirv', note: 'sirv { dev: false, etag: true }, node:http', argv: node('./sirv.mjs') },
  { id: 'fastify', label: 'fastify', note: '@fastify/static on fastify', argv: node('./fastify.mjs') },
  {
    id: 'raw-fresh',
    label: 'raw-fresh',
    note: 'node:http making only the disk calls an always-fresh server needs (ceiling without a cache)',
    argv: node('./raw-fresh.mjs'),
  },
  { id: 'raw', label: 'raw', note: 'node:http from preloaded Buffers (ceiling for Node)', argv: node('./raw.mjs') },
  { id: 'nginx', label: 'nginx', note: 'nginx, 1 worker, sendfile on, access_log off', argv: nginxCommand },
];

/** The servers available on this machine (nginx only when installed), optionally filtered by id. */
export function availableServers(/** @type {string[] | null} */ only = null) {
  const hasNginx = nginxVersion() !== null;
  return ALL.filter((s) => (s.id !== 'nginx' || hasNginx) && (only === null || only.includes(s.id)));
}

export const ALL_SERVER_IDS = ALL.map((s) => s.id);
export { nginxVersion };
