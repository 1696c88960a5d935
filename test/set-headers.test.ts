/**
 * The `setHeaders` hook through both doors, written once as a portable hook: called once per file served with
 * the absolute path and the stat, its headers winning over the defaults, called for index files and extension
 * fallbacks with their own paths, not called for misses and redirects, and an exception in it answered as a
 * 500 rather than a crash.
 */
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { FIXTURES, get } from './helpers.js';

describeDoors('setHeaders', (door) => {
  it('is called with the response headers, the absolute path and the stat of the file', async () => {
    const calls: [string, Stats][] = [];
    const server = await door.serve(FIXTURES, {
      setHeaders: (headers, path, stat) => {
        calls.push([path, stat]);
        headers.setHeader('X-Served-By', 'brisk');
      },
    });
    try {
      const res = await get(`${server.url}/todo.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-served-by')).toBe('brisk');
      expect(await res.text()).toBe('- groceries\n');
      expect(calls).toHaveLength(1);
      expect(calls[0]![0]).toBe(join(FIXTURES, 'todo.txt'));
      expect(calls[0]![1].size).toBe(12);
    } finally {
      await server.close();
    }
  });

  it('wins over the defaults it sets', async () => {
    const server = await door.serve(FIXTURES, {
      setHeaders: (headers) => {
        headers.setHeader('Cache-Control', 'no-store');
        headers.setHeader('Content-Type', 'text/x-custom');
        headers.setHeader('Last-Modified', 'Mon, 01 Jan 2024 00:00:00 GMT');
      },
    });
    try {
      const res = await get(`${server.url}/todo.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toBe('text/x-custom');
      expect(res.headers.get('last-modified')).toBe('Mon, 01 Jan 2024 00:00:00 GMT');
      expect(await res.text()).toBe('- groceries\n');
    } finally {
      await server.close();
    }
  });

  it('is called for the index file and the extension fallback, with their paths', async () => {
    const paths: string[] = [];
    const server = await door.serve(FIXTURES, { extensions: ['html'], setHeaders: (_headers, path) => paths.push(path) });
    try {
      expect((await get(`${server.url}/users/`)).status).toBe(200);
      expect((await get(`${server.url}/about`)).status).toBe(200);
      expect(paths).toEqual([join(FIXTURES, 'users', 'index.html'), join(FIXTURES, 'about.html')]);
    } finally {
      await server.close();
    }
  });

  it('is not called for misses and redirects', async () => {
    let calls = 0;
    const server = await door.serve(FIXTURES, { setHeaders: () => calls++ });
    try {
      expect((await get(`${server.url}/missing`)).status).toBe(404);
      expect((await get(`${server.url}/users`)).status).toBe(301);
      expect(calls).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('turns an exception in the hook into next(err) instead of a crash', async () => {
    const server = await door.serve(FIXTURES, {
      setHeaders: () => {
        throw new Error('hook failed');
      },
    });
    try {
      const res = await get(`${server.url}/todo.txt`);
      expect(res.status).toBe(500);
      if (door.name === 'node') {
        expect(await res.text()).toBe('InternalServerError: Internal Server Error');
        expect((server.nexts.at(-1) as { cause?: Error }).cause?.message).toBe('hook failed');
      } else {
        // The fetch door answers the error itself, with serve-static's page, and hands nothing on; a 500 does
        // not show the hook's message.
        expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
        expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        const body = await res.text();
        expect(body).toContain('<pre>Internal Server Error</pre>');
        expect(body).not.toContain('hook failed');
        expect(server.nexts).toEqual([]);
      }
    } finally {
      await server.close();
    }
  });
});
