/**
 * The runtime dependencies, all CommonJS, imported statically so that bundlers follow and inline them. The
 * published code is the CommonJS build (`dist/index.cjs`, which the ES module entry wraps), where these imports
 * become plain `require` calls: no named-export scan of each dependency (cjs-module-lexer) and no trip through
 * the asynchronous ESM loader, which keeps the time from `node` start to the first response at serve-static's.
 *
 * Default imports, because each package's value is its `module.exports`: that is what a default import of CommonJS
 * is in Node, in TypeScript under `module: NodeNext` (whatever `esModuleInterop` says), and in esbuild's output,
 * `__toESM(require(name), 1).default`. `verbatimModuleSyntax` leaves the imports as written for esbuild to compile.
 */
import createError from 'http-errors';
import encodeUrl from 'encodeurl';
import escapeHtml from 'escape-html';
import etag from 'etag';
import fresh from 'fresh';
import mime from 'mime-types';
import ms from 'ms';
import Negotiator from 'negotiator';
import parseRange from 'range-parser';
import parseUrl from 'parseurl';
import vary from 'vary';

export { createError, encodeUrl, escapeHtml, etag, fresh, mime, ms, Negotiator, parseRange, parseUrl, vary };
