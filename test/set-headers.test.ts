import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, get, serve } from './helpers.js';

describe('setHeaders', () => {
  it('is called with res, the absolute path and the stat of the file', async () => {
    const calls: [string, Stats][] = [];
    const server = await serve(FIXTURES, {
      setHeaders: (res, path, stat) => {
        calls.push([path, stat]);
        res.setHeader('X-Served-By', 'brisk');
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
    const server = await serve(FIXTURES, {
      setHeaders: (res) => {
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Content-Type', 'text/x-custom');
        res.setHeader('Last-Modified', 'Mon, 01 Jan 2024 00:00:00 GMT');
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
    const server = await serve(FIXTURES, { extensions: ['html'], setHeaders: (_res, path) => paths.push(path) });
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
    const server = await serve(FIXTURES, { setHeaders: () => calls++ });
    try {
      expect((await get(`${server.url}/missing`)).status).toBe(404);
      expect((await get(`${server.url}/users`)).status).toBe(301);
      expect(calls).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('turns an exception in the hook into next(err) instead of a crash', async () => {
    const server = await serve(FIXTURES, {
      setHeaders: () => {
        throw new Error('hook failed');
      },
    });
    try {
      const res = await get(`${server.url}/todo.txt`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe('InternalServerError: Internal Server Error');
      expect((server.nexts.at(-1) as { cause?: Error }).cause?.message).toBe('hook failed');
    } finally {
      await server.close();
    }
  });
});
