/**
 * The two doors as one test matrix (after h3's `describeMatrix`): a behaviour suite written once runs against
 * the Connect door (`serveStatic` on `node:http`) and the fetch door (`serveStaticFetch` behind
 * `@hono/node-server`'s request listener, the adapter Hono users run on Node). Both servers have the same
 * "next middleware": a miss (`next()`, or `undefined` from the fetch door) is answered 404 `fell through` and
 * recorded as `null` in `nexts`.
 *
 * What differs, by design, and what suites must allow for:
 * - errors: the Connect door hands them to `next(err)` (recorded in `nexts`, answered by the final handler as
 *   `<name>: <message>`); the fetch door answers them itself with serve-static's HTML error page. Assert the
 *   status and headers on both, and the body or `nexts` only where `door.name === 'node'`;
 * - `setHeaders`: the Connect door's hook receives `res`, the fetch door's `Headers`. `door.hook` adapts one
 *   hook written against `{ getHeader, setHeader, removeHeader }` to either;
 * - request targets: the fetch door sees the WHATWG-parsed URL (`/a/../b` arrives as `/b`).
 */
import type { Stats } from 'node:fs';
import { getRequestListener } from '@hono/node-server';
import { describe } from 'vitest';
import { serveStaticFetch, type ServeStaticFetchOptions } from '../src/index.js';
import { FIXTURES, listen, serve, type TestServer } from './helpers.js';
import type { ServeStaticOptions } from '../src/index.js';

/** What a hook written once may do to the response's headers, through either door. */
export interface HeaderAccess {
  getHeader(name: string): unknown;
  setHeader(name: string, value: string | number): void;
  removeHeader(name: string): void;
}

export type PortableHook = (headers: HeaderAccess, path: string, stat: Stats) => void;

/** Options for either door; `setHeaders` is given as a portable hook. */
export type DoorOptions = Omit<ServeStaticOptions, 'setHeaders'> & { setHeaders?: PortableHook | undefined };

export interface Door {
  readonly name: 'node' | 'fetch';
  /** Serves `root` through this door on a real HTTP server on an ephemeral port. */
  serve(root?: string, options?: DoorOptions): Promise<TestServer>;
}

const nodeDoor: Door = {
  name: 'node',
  serve(root = FIXTURES, options) {
    const { setHeaders, ...rest } = options ?? {};
    const hook = setHeaders;
    return serve(root, hook === undefined ? rest : { ...rest, setHeaders: (res, path, stat) => hook(res, path, stat) });
  },
};

const fetchDoor: Door = {
  name: 'fetch',
  async serve(root = FIXTURES, options) {
    const { setHeaders, ...rest } = options ?? {};
    const hook = setHeaders;
    const fetchOptions: ServeStaticFetchOptions =
      hook === undefined
        ? rest
        : {
            ...rest,
            setHeaders: (headers, path, stat) =>
              hook(
                {
                  getHeader: (name) => headers.get(name) ?? undefined,
                  setHeader: (name, value) => headers.set(name, String(value)),
                  removeHeader: (name) => headers.delete(name),
                },
                path,
                stat,
              ),
          };
    const handler = serveStaticFetch(root, fetchOptions);
    const nexts: (unknown | null)[] = [];
    const listener = getRequestListener(async (request) => {
      const response = await handler(request);
      if (response !== undefined) return response;
      nexts.push(null);
      return new Response('fell through', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    });
    const server = await listen(listener);
    return { ...server, nexts };
  },
};

export const DOORS: readonly Door[] = [nodeDoor, fetchDoor];

/** Runs `suite` once per door, each under a `describe` named after it. */
export function describeDoors(name: string, suite: (door: Door) => void): void {
  describe.each(DOORS.map((door) => [door.name, door] as const))(`${name} (%s door)`, (_, door) => suite(door));
}
