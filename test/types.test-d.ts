/**
 * Type-level checks: the middleware fits the handler types of the frameworks it replaces express.static in.
 *
 * Express 4: the `express4` alias ships no declarations and there is no @types for Express 4 under an alias in
 * devDependencies, so `import type ... from 'express4'` cannot resolve; Express handler types are checked
 * against @types/express 5 only (whose RequestHandler has the same `(req, res, next)` shape as 4's).
 */
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextHandleFunction } from 'connect';
import express, { type RequestHandler, type Response } from 'express';
import { Hono, type MiddlewareHandler } from 'hono';
import referenceServeStatic from 'serve-static';
import { describe, expectTypeOf, it } from 'vitest';
import serveStatic, {
  serveStatic as named,
  serveStaticFetch,
  type DotfilesMode,
  type FetchHandler,
  type FetchSetHeaders,
  type PrecompressedEncoding,
  type ServeStaticFetchOptions,
  type ServeStaticOptions,
  type SetHeaders,
  type StaticMiddleware,
} from '../src/index.js';

describe('exports', () => {
  it('the default and named exports are the same function type', () => {
    expectTypeOf(serveStatic).toEqualTypeOf(named);
  });

  it('takes a root and options and returns the middleware', () => {
    expectTypeOf(serveStatic).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(serveStatic('x')).toEqualTypeOf<StaticMiddleware>();
    expectTypeOf(serveStatic('x')).returns.toEqualTypeOf<void>();
    expectTypeOf<DotfilesMode>().toEqualTypeOf<'allow' | 'deny' | 'ignore'>();
  });
});

describe('fits the frameworks', () => {
  it("is an Express 5 RequestHandler", () => {
    expectTypeOf(serveStatic('x')).toExtend<RequestHandler>();
    expectTypeOf(serveStatic('x', { maxAge: '1d' })).toExtend<RequestHandler>();
    express().use(serveStatic('x'));
    express().use('/static', serveStatic('x'), named('y'));
    express.Router().use(serveStatic('x'));
  });

  it("is a Connect NextHandleFunction", () => {
    expectTypeOf(serveStatic('x')).toExtend<NextHandleFunction>();
  });

  it('is a plain node:http request listener (next optional)', () => {
    expectTypeOf(serveStatic('x')).toExtend<(req: IncomingMessage, res: ServerResponse) => void>();
    expectTypeOf(serveStatic('x')).parameter(2).toEqualTypeOf<((err?: any) => void) | undefined>();
  });

  it('fits where a variable is typed as serve-static / express.static middleware', () => {
    // @types/serve-static passes `next` as `(err?: HttpError) => void`: our `next` must accept that.
    const fromServeStatic: ReturnType<typeof referenceServeStatic<Response>> = serveStatic<Response>('x');
    const fromExpress: ReturnType<typeof express.static> = serveStatic<Response>('x');
    void fromServeStatic;
    void fromExpress;
  });
});

describe('setHeaders', () => {
  it('receives (res, path: string, stat: fs.Stats)', () => {
    serveStatic('x', {
      setHeaders(res, path, stat) {
        expectTypeOf(res).toEqualTypeOf<ServerResponse>();
        expectTypeOf(path).toEqualTypeOf<string>();
        expectTypeOf(stat).toEqualTypeOf<Stats>();
      },
    });
    expectTypeOf<SetHeaders>().parameters.toEqualTypeOf<[ServerResponse, string, Stats]>();
  });

  it('types res as the framework response when given one', () => {
    const middleware = serveStatic<Response>('x', {
      setHeaders(res) {
        expectTypeOf(res).toEqualTypeOf<Response>();
        res.set('X-Served-By', 'brisk-static');
      },
    });
    expectTypeOf(middleware).toExtend<RequestHandler>();
  });

  it('accepts a hook that ignores some parameters', () => {
    serveStatic('x', { setHeaders: (res) => res.setHeader('X-A', '1') });
    serveStatic('x', { setHeaders: () => undefined });
  });
});

describe('options', () => {
  it('accepts every serve-static option with its types', () => {
    const options: ServeStaticOptions = {
      acceptRanges: false,
      cacheControl: true,
      dotfiles: 'deny',
      etag: false,
      extensions: ['html', 'htm'],
      fallthrough: false,
      immutable: true,
      index: ['index.html'],
      lastModified: false,
      maxAge: '1d',
      maxage: 1000,
      redirect: false,
    };
    serveStatic('x', options);
    serveStatic('x', { extensions: 'html', index: false });
    serveStatic('x', { extensions: false, index: 'default.htm' });
    serveStatic('x', {});
    serveStatic('x', undefined);
  });

  it('rejects wrong option types', () => {
    // @ts-expect-error dotfiles is 'allow' | 'deny' | 'ignore'
    serveStatic('x', { dotfiles: 'maybe' });
    // @ts-expect-error etag is a boolean
    serveStatic('x', { etag: 'weak' });
    // @ts-expect-error maxAge is a number or an ms string
    serveStatic('x', { maxAge: true });
    // @ts-expect-error extensions are strings
    serveStatic('x', { extensions: [1] });
    // @ts-expect-error index is a string, a list of strings, or false
    serveStatic('x', { index: true });
    // @ts-expect-error setHeaders is a function
    serveStatic('x', { setHeaders: 'X-A: 1' });
    // @ts-expect-error unknown options are refused
    serveStatic('x', { fallthru: false });
    // An explicit undefined means "the default", also under exactOptionalPropertyTypes.
    serveStatic('x', { etag: undefined, index: undefined, maxAge: undefined });
  });

  it('requires a string root', () => {
    // @ts-expect-error root is required
    serveStatic();
    // @ts-expect-error root is a string
    serveStatic(42);
    // @ts-expect-error root is a string, not a URL
    serveStatic(new URL('file:///srv/www'));
  });
});

describe('the fetch door', () => {
  it('is (Request) => Promise<Response | undefined>', () => {
    expectTypeOf(serveStaticFetch('x')).toEqualTypeOf<FetchHandler>();
    expectTypeOf<FetchHandler>().toEqualTypeOf<(request: Request) => Promise<globalThis.Response | undefined>>();
  });

  it('takes the same options, with a setHeaders that receives Headers', () => {
    expectTypeOf<FetchSetHeaders>().parameters.toEqualTypeOf<[Headers, string, Stats]>();
    serveStaticFetch('x', { maxAge: '1d', precompressed: ['br', 'gzip'], setHeaders: (headers, path) => headers.set('X-Path', path) });
    // @ts-expect-error the Connect door's hook takes `res`, not Headers
    serveStaticFetch('x', { setHeaders: (res: ServerResponse) => res.setHeader('X', '1') });
    expectTypeOf<ServeStaticFetchOptions['precompressed']>().toEqualTypeOf<boolean | readonly PrecompressedEncoding[] | undefined>();
    expectTypeOf<PrecompressedEncoding>().toEqualTypeOf<'br' | 'zstd' | 'gzip'>();
    // @ts-expect-error deflate is not a coding the option serves
    serveStatic('x', { precompressed: ['deflate'] });
  });

  it('fits a Hono middleware that falls through on undefined', () => {
    const assets = serveStaticFetch('x');
    const middleware: MiddlewareHandler = async (c, next) => (await assets(c.req.raw)) ?? next();
    new Hono().use('*', middleware);
  });
});
