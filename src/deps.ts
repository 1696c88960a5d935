import { createRequire } from 'node:module';

/**
 * The runtime dependencies, all CommonJS, loaded with `require`. Importing CommonJS from ESM makes Node scan
 * each module's source for named exports (cjs-module-lexer) and load it through the asynchronous ESM loader;
 * `require` skips both, which takes about 30 ms off the time from `node` start to the first response.
 */
const require = createRequire(import.meta.url);

export const createError: typeof import('http-errors') = require('http-errors');
export const encodeUrl: typeof import('encodeurl') = require('encodeurl');
export const escapeHtml: typeof import('escape-html') = require('escape-html');
export const etag: typeof import('etag') = require('etag');
export const fresh: typeof import('fresh') = require('fresh');
export const mime: typeof import('mime-types') = require('mime-types');
export const ms: typeof import('ms') = require('ms');
export const parseRange: typeof import('range-parser') = require('range-parser');
export const parseUrl: typeof import('parseurl') = require('parseurl');
