import referenceServeStatic from 'serve-static';
import { describe, expect, it } from 'vitest';
import serveStaticDefault, { serveStatic } from '../src/index.js';
import { createConfig } from '../src/options.js';
import { FIXTURES, get, listen, serve } from './helpers.js';

describe('factory', () => {
  it('exports the same function as default and named export', () => {
    expect(serveStaticDefault).toBe(serveStatic);
    expect(typeof serveStatic(FIXTURES)).toBe('function');
  });

  it.each([
    [undefined, 'root path required'],
    ['', 'root path required'],
    [42, 'root path must be a string'],
    [{}, 'root path must be a string'],
  ])('rejects root %j with "%s"', (root, message) => {
    expect(() => serveStatic(root as string)).toThrow(new TypeError(message));
  });

  it.each([
    [{ setHeaders: 'x' }, 'option setHeaders must be function'],
    [{ dotfiles: 'maybe' }, 'dotfiles option must be "allow", "deny", or "ignore"'],
    [{ extensions: [1] }, 'extensions option must be array of strings or false'],
    [{ index: [false] }, 'index option must be array of strings or false'],
    [{ maxAge: '1 fortnight' }, `maxAge string "1 fortnight" is not understood; use milliseconds or an ms string such as '1d'`],
    [{ maxAge: {} }, 'maxAge must be a number of milliseconds or an ms string'],
  ])('rejects %j with a TypeError', (options, message) => {
    expect(() => serveStatic(FIXTURES, options as never)).toThrow(new TypeError(message));
  });
});

describe('Cache-Control', () => {
  it.each([
    [{}, 'public, max-age=0'],
    [{ maxAge: 5000 }, 'public, max-age=5'],
    [{ maxAge: 1999 }, 'public, max-age=1'],
    [{ maxAge: '1d' }, 'public, max-age=86400'],
    [{ maxage: '2h' }, 'public, max-age=7200'],
    [{ maxAge: -100 }, 'public, max-age=0'],
    [{ maxAge: Number.NaN }, 'public, max-age=0'],
    [{ maxAge: Infinity }, 'public, max-age=31536000'],
    [{ maxAge: '3y' }, 'public, max-age=31536000'],
    [{ maxAge: '1y', immutable: true }, 'public, max-age=31536000, immutable'],
    [{ immutable: true }, 'public, max-age=0, immutable'],
    [{ cacheControl: false, maxAge: '1d' }, undefined],
  ])('%j → %s', (options, expected) => {
    expect(createConfig(FIXTURES, options as never).cacheControl).toBe(expected);
  });

  it('sends the precomputed value and omits it with cacheControl: false', async () => {
    const on = await serve(FIXTURES, { maxAge: '1d', immutable: true });
    const off = await serve(FIXTURES, { cacheControl: false });
    try {
      const res = await get(`${on.url}/todo.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
      expect(await res.text()).toBe('- groceries\n');
      const bare = await get(`${off.url}/todo.txt`);
      expect(bare.status).toBe(200);
      expect(bare.headers.get('cache-control')).toBeNull();
    } finally {
      await on.close();
      await off.close();
    }
  });
});

describe('etag and lastModified', () => {
  it('omits the validators when disabled, and then never answers 304', async () => {
    const server = await serve(FIXTURES, { etag: false, lastModified: false });
    try {
      const res = await get(`${server.url}/todo.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBeNull();
      expect(res.headers.get('last-modified')).toBeNull();
      const conditional = await get(`${server.url}/todo.txt`, {
        headers: { 'If-Modified-Since': new Date().toUTCString(), 'If-None-Match': '*' },
      });
      expect(conditional.status).toBe(304);
      const dated = await get(`${server.url}/todo.txt`, { headers: { 'If-Modified-Since': new Date().toUTCString() } });
      expect(dated.status).toBe(200);
      expect(await dated.text()).toBe('- groceries\n');
    } finally {
      await server.close();
    }
  });
});

describe('option values read as serve-static reads them', () => {
  // send reads `opts.x !== undefined ? Boolean(opts.x) : default`: null and 0 turn a feature off.
  it('turns etag, lastModified, cacheControl and acceptRanges off with null, as serve-static does', async () => {
    const options = { etag: null, lastModified: null, cacheControl: null, acceptRanges: null } as never;
    const ours = await serve(FIXTURES, options);
    const reference = await listen((req, res) =>
      referenceServeStatic(FIXTURES, options)(req, res, () => {
        res.statusCode = 404;
        res.end();
      }),
    );
    try {
      for (const server of [ours, reference]) {
        const res = await get(`${server.url}/todo.txt`, { headers: { Range: 'bytes=0-1' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('etag')).toBeNull();
        expect(res.headers.get('last-modified')).toBeNull();
        expect(res.headers.get('cache-control')).toBeNull();
        expect(res.headers.get('accept-ranges')).toBeNull();
        expect(await res.text()).toBe('- groceries\n');
      }
    } finally {
      await ours.close();
      await reference.close();
    }
  });

  it.each([false, null, 0, ''])('ignores setHeaders: %j (the `isProd && hook` idiom)', async (value) => {
    const server = await serve(FIXTURES, { setHeaders: value } as never);
    try {
      const res = await get(`${server.url}/todo.txt`);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).not.toBeNull();
      expect(await res.text()).toBe('- groceries\n');
    } finally {
      await server.close();
    }
  });

  it('rejects dotfiles: null at factory time (serve-static throws it on every request)', () => {
    expect(() => serveStatic(FIXTURES, { dotfiles: null } as never)).toThrow(
      new TypeError('dotfiles option must be "allow", "deny", or "ignore"'),
    );
  });
});
