import type { ServerResponse } from 'node:http';
import { createFetchHandler, type FetchHandler, type ServeStaticFetchOptions } from './fetch.js';
import { createNodeMiddleware, type StaticMiddleware } from './node.js';
import { createConfig, type ServeStaticOptions } from './options.js';

export type { CacheOptions, DotfilesMode, PrecompressedEncoding, ServeStaticOptions, SetHeaders } from './options.js';
export type { FetchHandler, FetchSetHeaders, ServeStaticFetchOptions } from './fetch.js';
export type { NextFunction, StaticMiddleware } from './node.js';
export type { SymlinkPolicy } from './symlinks.js';

/**
 * Creates middleware that serves files from `root`: a drop-in replacement for `express.static` and
 * serve-static 2.x (same options, defaults and responses).
 *
 * @param root - Directory to serve; relative paths are resolved against the current working directory.
 * @param options - See {@link ServeStaticOptions}.
 * @throws TypeError when `root` is missing or not a string, or an option has the wrong type.
 * @example
 * ```ts
 * import express from 'express';
 * import serveStatic from 'brisk-static';
 *
 * const app = express();
 * app.use(serveStatic('public', { maxAge: '1d' }));
 * app.use('/uploads', serveStatic('uploads'));
 * ```
 */
export function serveStatic<Res extends ServerResponse = ServerResponse>(
  root: string,
  options?: ServeStaticOptions<Res>,
): StaticMiddleware<Res> {
  return createNodeMiddleware<Res>(createConfig(root, options as ServeStaticOptions<never> | undefined));
}

/**
 * Creates a handler for `Request` → `Response` servers (Hono, Bun, Deno, edge handlers) with the same options,
 * statuses, headers, redirects, conditional and range answers as {@link serveStatic}. It resolves to
 * `undefined` where the middleware would call `next()`; a file body is a stream that reads the file as the
 * client takes it. `setHeaders` receives the response's `Headers`.
 *
 * @param root - Directory to serve; relative paths are resolved against the current working directory.
 * @param options - See {@link ServeStaticFetchOptions}.
 * @throws TypeError when `root` is missing or not a string, or an option has the wrong type.
 * @example
 * ```ts
 * import { serveStaticFetch } from 'brisk-static';
 *
 * const assets = serveStaticFetch('public', { precompressed: true });
 * Bun.serve({ fetch: async (request) => (await assets(request)) ?? new Response('Not found', { status: 404 }) });
 * ```
 */
export function serveStaticFetch(root: string, options?: ServeStaticFetchOptions): FetchHandler {
  return createFetchHandler(createConfig(root, options as ServeStaticOptions<never> | undefined));
}

// The CommonJS build (dist/index.cjs, which the ES module entry wraps) exports this function itself, as
// serve-static does (`module.exports = serveStatic`); these properties keep `require(...).serveStatic` and
// `require(...).default` working too, and let TypeScript's and bundlers' interop helpers find `.default`.
Object.defineProperties(serveStatic, {
  serveStatic: { value: serveStatic, enumerable: false },
  serveStaticFetch: { value: serveStaticFetch, enumerable: false },
  default: { value: serveStatic, enumerable: false },
});

export default serveStatic;
