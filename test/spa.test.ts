/**
 * The `spa` option over HTTP, through both doors: a page navigation (Chromium's `Accept`) to a path that
 * matches no file or directory gets the app's document (200, its bytes, its validators, `Cache-Control:
 * no-cache` whatever `maxAge`/`immutable` say, `Vary: Accept`), for GET, HEAD and a conditional revalidation
 * (304). Everything else answers exactly as without `spa`: missing files with an extension, non-navigations,
 * other methods, dotfiles, dot segments, directories with and without their slash, real files. The app's
 * document keeps `no-cache` however it is reached (`/`, `/index.html`) while other files keep the asset
 * lifetime. Also: a custom document (`'app.html'`, `'/shell/index.html'`), one missing on disk, factory-time
 * validation, `setHeaders` and `cacheControl: false`, `precompressed` and `cache`, `fallthrough: false`, and
 * the option mounted in Express 5 and Express 4 beside the app's own routes and 404 handler.
 */
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gzipSync } from 'node:zlib';
import etag from 'etag';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, serveStaticFetch } from '../src/index.js';
import { describeDoors, type DoorOptions } from './doors.js';
import { get, listen, rawRequest, tempDir, type RawResponse, type TestServer } from './helpers.js';

// `express4` is an npm alias of express@4 without its own type declarations; the API used here (use with a
// mount path, get, json) is the one typed by @types/express 5.
const express4 = createRequire(import.meta.url)('express4') as typeof express;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** What Chromium sends for a top-level navigation (and a reload). */
const NAVIGATION =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const ASSET_CACHE = 'public, max-age=31536000, immutable';
const ASSET_OPTIONS = { maxAge: '1y', immutable: true } as const;

const INDEX = '<!doctype html>\n<title>the app</title>\n<div id="app"></div>\n<script type="module" src="/assets/index-a1b2c3d4.js"></script>\n';
const APP_HTML = '<!doctype html>\n<title>app.html, a custom document</title>\n';
const SHELL = '<!doctype html>\n<title>shell/index.html, a nested document</title>\n';
const DOCS = '<!doctype html>\n<title>docs: a real directory index, not the app</title>\n';
const SCRIPT = "document.getElementById('app').textContent = 'booted';\n";

/*
 * site/
 *   index.html             the app's document for spa: true
 *   app.html               a custom document
 *   shell/index.html       a nested custom document
 *   assets/index-a1b2c3d4.js
 *   docs/index.html        a directory with its own index (not the app)
 *   empty/                 a directory without an index
 *   .env, .hidden/page     dotfiles
 */
function writeSite(root: string): void {
  const files: Record<string, string> = {
    'index.html': INDEX,
    'app.html': APP_HTML,
    'shell/index.html': SHELL,
    'assets/index-a1b2c3d4.js': SCRIPT,
    'docs/index.html': DOCS,
    '.env': 'SECRET=1\n',
    '.hidden/page': 'hidden page\n',
  };
  // An hour old: Last-Modified is a whole second in the past and never "now".
  const time = Math.floor(Date.now() / 1000) - 3600;
  for (const [name, text] of Object.entries(files)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    utimesSync(path, time, time);
  }
  mkdirSync(join(root, 'empty'));
}

function navigate(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return get(url, { ...init, headers: { Accept: NAVIGATION, ...init.headers } });
}

async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** The field's tokens, lower-cased; [] when absent. */
function tokens(value: string | null | undefined): string[] {
  return (value ?? '')
    .toLowerCase()
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '');
}

/** The headers a file response carries, as a record (what two answers are compared on). */
function fileHeaders(res: Response): Record<string, string | null> {
  const names = ['accept-ranges', 'cache-control', 'content-length', 'content-type', 'etag', 'last-modified', 'vary', 'content-encoding'];
  return Object.fromEntries(names.map((name) => [name, res.headers.get(name)]));
}

/** What a request answered, for comparing a server with spa against one without. */
interface Answer {
  status: number;
  body: string;
  contentType: string | null;
  location: string | null;
  cacheControl: string | null;
  vary: string | null;
}

async function answerOf(res: Response): Promise<Answer> {
  return {
    status: res.status,
    body: await res.text(),
    contentType: res.headers.get('content-type'),
    location: res.headers.get('location'),
    cacheControl: res.headers.get('cache-control'),
    vary: res.headers.get('vary'),
  };
}

function rawAnswerOf(res: RawResponse): Answer {
  return {
    status: res.status,
    body: res.body.toString(),
    contentType: res.headers['content-type'] ?? null,
    location: res.headers['location'] ?? null,
    cacheControl: res.headers['cache-control'] ?? null,
    vary: res.headers['vary'] ?? null,
  };
}

/** The 404 of the test servers' next handler: the request fell through. */
const FELL_THROUGH = { status: 404, body: 'fell through', contentType: 'text/plain; charset=utf-8' };

describeDoors('spa: a navigation that matches nothing gets the document', (door) => {
  const site = tempDir();
  let server: TestServer;
  let indexTag: string;
  let indexModified: string;

  beforeAll(async () => {
    writeSite(site.path);
    const stat = statSync(join(site.path, 'index.html'));
    indexTag = etag(stat);
    indexModified = stat.mtime.toUTCString();
    server = await door.serve(site.path, { spa: true, ...ASSET_OPTIONS });
  });
  afterAll(async () => {
    await server.close();
    site.remove();
  });

  it.each(['/inbox/42', '/settings/', '/a/b/c', '/inbox', '/users/ada/edit'])('GET %s: 200, index.html, no-cache, Vary: Accept', async (path) => {
    const res = await navigate(server.url + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(HTML);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(tokens(res.headers.get('vary'))).toContain('accept');
    expect(res.headers.get('etag')).toBe(indexTag);
    expect(res.headers.get('last-modified')).toBe(indexModified);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(INDEX)));
    expect((await bytesOf(res)).equals(Buffer.from(INDEX))).toBe(true);
    expect(server.nexts).toEqual([]);
  });

  it('answers a deep link with the headers of /index.html itself, plus Vary: Accept', async () => {
    const direct = await navigate(`${server.url}/index.html`);
    const fallback = await navigate(`${server.url}/inbox/42`);
    expect([direct.status, fallback.status]).toEqual([200, 200]);
    expect(direct.headers.get('vary')).toBeNull();
    expect({ ...fileHeaders(fallback), vary: null }).toEqual(fileHeaders(direct));
    expect((await bytesOf(fallback)).equals(await bytesOf(direct))).toBe(true);
  });

  it('takes Accept case-insensitively, and a bare text/html', async () => {
    for (const accept of ['text/html', 'TEXT/HTML', 'application/xhtml+xml, Text/Html;q=0.9']) {
      const res = await get(`${server.url}/inbox/42`, { headers: { Accept: accept } });
      expect([accept, res.status, res.headers.get('cache-control')]).toEqual([accept, 200, 'no-cache']);
      expect(await res.text()).toBe(INDEX);
    }
  });

  it('answers HEAD with the same headers and no body', async () => {
    const full = await navigate(`${server.url}/inbox/42`);
    const head = await navigate(`${server.url}/inbox/42`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(fileHeaders(head)).toEqual(fileHeaders(full));
    expect(tokens(head.headers.get('vary'))).toContain('accept');
    expect((await bytesOf(head)).length).toBe(0);
    expect(await full.text()).toBe(INDEX);
  });

  it('revalidates by ETag and by date: 304 with Vary: Accept, no-cache and the validators, no body', async () => {
    for (const condition of [{ 'If-None-Match': indexTag }, { 'If-Modified-Since': indexModified }]) {
      const res = await navigate(`${server.url}/inbox/42`, { headers: condition });
      expect(res.status).toBe(304);
      expect(tokens(res.headers.get('vary'))).toContain('accept');
      expect(res.headers.get('etag')).toBe(indexTag);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-type')).toBeNull();
      expect(res.headers.get('content-length')).toBeNull();
      expect((await bytesOf(res)).length).toBe(0);
    }
    // Another ETag is a full answer.
    const changed = await navigate(`${server.url}/inbox/42`, { headers: { 'If-None-Match': 'W/"0-0"' } });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toBe(INDEX);
  });

  it('answers a Range on the document as on the file (206 of index.html)', async () => {
    const res = await navigate(`${server.url}/inbox/42`, { headers: { Range: 'bytes=0-8' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 0-8/${String(Buffer.byteLength(INDEX))}`);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toBe(INDEX.slice(0, 9));
  });

  it('serves the app document at / and /index.html with no-cache (no Vary: Accept: no miss was answered)', async () => {
    for (const path of ['/', '/index.html']) {
      const res = await navigate(server.url + path);
      expect([path, res.status]).toEqual([path, 200]);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('vary')).toBeNull();
      expect(res.headers.get('etag')).toBe(indexTag);
      expect(await res.text()).toBe(INDEX);
    }
    // A fetch that is no navigation gets the same document the same way.
    const plain = await get(`${server.url}/`, { headers: { Accept: '*/*' } });
    expect([plain.status, plain.headers.get('cache-control'), await plain.text()]).toEqual([200, 'no-cache', INDEX]);
  });

  it('serves other files with the asset lifetime, navigation or not', async () => {
    const cases = [
      ['/assets/index-a1b2c3d4.js', JS, SCRIPT],
      ['/docs/', HTML, DOCS],
      ['/docs/index.html', HTML, DOCS],
      ['/app.html', HTML, APP_HTML],
      ['/shell/index.html', HTML, SHELL],
    ] as const;
    for (const [path, type, body] of cases) {
      for (const accept of [NAVIGATION, '*/*']) {
        const res = await get(server.url + path, { headers: { Accept: accept } });
        expect([path, res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([path, 200, type, ASSET_CACHE]);
        expect(res.headers.get('vary')).toBeNull();
        expect(await res.text()).toBe(body);
      }
    }
  });
});

describeDoors('spa: never the fallback (answers as without spa)', (door) => {
  const site = tempDir();
  const servers: Record<string, TestServer> = {};

  beforeAll(async () => {
    writeSite(site.path);
    const pairs: Record<string, DoorOptions> = {
      plain: { ...ASSET_OPTIONS },
      deny: { ...ASSET_OPTIONS, dotfiles: 'deny' },
      denyStrict: { ...ASSET_OPTIONS, dotfiles: 'deny', fallthrough: false },
      strict: { ...ASSET_OPTIONS, fallthrough: false },
    };
    for (const [name, options] of Object.entries(pairs)) {
      servers[name] = await door.serve(site.path, options);
      servers[`${name}Spa`] = await door.serve(site.path, { ...options, spa: true });
    }
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    site.remove();
  });

  /** The same request to the server with spa and to the one without: the same answer. */
  async function same(name: string, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const withSpa = await answerOf(await get(servers[`${name}Spa`]!.url + path, init));
    const without = await answerOf(await get(servers[name]!.url + path, init));
    expect(withSpa).toEqual(without);
    return withSpa;
  }

  it.each(['/assets/chunk-0badc0de.js', '/favicon.ico', '/x.json', '/inbox/42.json', '/robots.txt'])(
    'a missing file with an extension, %s, falls through even for a navigation',
    async (path) => {
      const answer = await same('plain', path, { headers: { Accept: NAVIGATION } });
      expect(answer).toMatchObject(FELL_THROUGH);
      expect(answer.vary).toBeNull();
    },
  );

  it.each([
    ['Accept: application/json', { Accept: 'application/json' }],
    ['Accept: */* (fetch and import())', { Accept: '*/*' }],
    ['no Accept', {}],
    ['Accept: image/*', { Accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8' }],
    ['Accept: text/html;q=0 (refused)', { Accept: 'application/json, text/html;q=0' }],
    ['Accept: text/htmlx (not text/html)', { Accept: 'text/htmlx' }],
  ])('a non-navigation (%s) to /inbox/42 falls through', async (_, headers) => {
    const answer = await same('plain', '/inbox/42', { headers });
    expect(answer).toMatchObject(FELL_THROUGH);
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('%s of a navigation falls through, as without spa', async (method) => {
    const answer = await same('plain', '/inbox/42', { method, headers: { Accept: NAVIGATION } });
    expect(answer).toMatchObject(FELL_THROUGH);
  });

  it.each(['POST', 'PUT', 'DELETE'])('%s with fallthrough: false is a 405, as without spa', async (method) => {
    const res = await get(`${servers.strictSpa!.url}/inbox/42`, { method, headers: { Accept: NAVIGATION } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.text()).toBe('');
    const answer = await same('strict', '/inbox/42', { method, headers: { Accept: NAVIGATION } });
    expect(answer.status).toBe(405);
  });

  it.each(['/.env', '/.git/config', '/.hidden/page', '/.hidden/', '/inbox/.secret', '/%2eenv'])(
    'the dotfile %s stays hidden: falls through under ignore and deny, 403 under deny with fallthrough: false',
    async (path) => {
      expect(await same('plain', path, { headers: { Accept: NAVIGATION } })).toMatchObject(FELL_THROUGH);
      expect(await same('deny', path, { headers: { Accept: NAVIGATION } })).toMatchObject(FELL_THROUGH);
      const strict = await same('denyStrict', path, { headers: { Accept: NAVIGATION } });
      expect(strict.status).toBe(403);
      expect(strict.body).toEqual(door.name === 'node' ? 'ForbiddenError: Forbidden' : expect.stringContaining('<pre>Forbidden</pre>'));
    },
  );

  it.each(['/a/../b', '/a/%2e%2e/b', '/./inbox', '/inbox/./42', '/a/%2E/b'])('a path with a dot segment, %s, sent raw', async (target) => {
    const withSpa = rawAnswerOf(await rawRequest(servers.plainSpa!.port, target, { headers: { Accept: NAVIGATION } }));
    const without = rawAnswerOf(await rawRequest(servers.plain!.port, target, { headers: { Accept: NAVIGATION } }));
    if (door.name === 'node') {
      // The Connect door sees the target as written: a dot segment is never answered with the document.
      expect(withSpa).toEqual(without);
      expect(withSpa).toMatchObject(FELL_THROUGH);
    } else {
      // The fetch door sees the WHATWG-normalised URL (`/b`, `/inbox`, ...), a plain navigation that
      // matches nothing, as a browser would have sent it: the document.
      expect(without).toMatchObject(FELL_THROUGH);
      expect(withSpa.status).toBe(200);
      expect(withSpa.cacheControl).toBe('no-cache');
      expect(withSpa.body).toBe(INDEX);
    }
  });

  it('a dot segment before an existing file serves the file as without spa', async () => {
    const withSpa = rawAnswerOf(await rawRequest(servers.plainSpa!.port, '/nope/../assets/index-a1b2c3d4.js', { headers: { Accept: NAVIGATION } }));
    const without = rawAnswerOf(await rawRequest(servers.plain!.port, '/nope/../assets/index-a1b2c3d4.js', { headers: { Accept: NAVIGATION } }));
    expect(withSpa).toEqual(without);
    expect(withSpa).toMatchObject({ status: 200, contentType: JS, body: SCRIPT, cacheControl: ASSET_CACHE });
  });

  it.each([
    ['/docs', '/docs/'],
    ['/empty', '/empty/'],
    ['/shell', '/shell/'],
  ])('an existing directory without its slash, %s, redirects (301) as before', async (path, location) => {
    const answer = await same('plain', `${path}?tab=2`, { headers: { Accept: NAVIGATION } });
    expect(answer.status).toBe(301);
    expect(answer.location).toBe(`${location}?tab=2`);
    expect(answer.body).toContain(`Redirecting to ${location}?tab=2`);
  });

  it('an existing directory with its slash but no index falls through, as without spa', async () => {
    expect(await same('plain', '/empty/', { headers: { Accept: NAVIGATION } })).toMatchObject(FELL_THROUGH);
    expect(await same('plain', '/assets/', { headers: { Accept: NAVIGATION } })).toMatchObject(FELL_THROUGH);
  });

  it('with index: false, a directory with its slash falls through; a missing one still gets the document', async () => {
    const withSpa = await door.serve(site.path, { ...ASSET_OPTIONS, index: false, spa: true });
    const without = await door.serve(site.path, { ...ASSET_OPTIONS, index: false });
    try {
      for (const path of ['/empty/', '/docs/', '/assets/']) {
        const answer = await answerOf(await navigate(withSpa.url + path));
        expect(answer).toEqual(await answerOf(await navigate(without.url + path)));
        expect([path, answer]).toMatchObject([path, FELL_THROUGH]);
      }
      const missing = await navigate(`${withSpa.url}/settings/`);
      expect([missing.status, missing.headers.get('cache-control'), await missing.text()]).toEqual([200, 'no-cache', INDEX]);
    } finally {
      await Promise.all([withSpa.close(), without.close()]);
    }
  });

  it('real files and directory indexes are served as without spa (except the document\'s own Cache-Control)', async () => {
    for (const [path, body] of [
      ['/assets/index-a1b2c3d4.js', SCRIPT],
      ['/docs/', DOCS],
      ['/app.html', APP_HTML],
    ] as const) {
      const answer = await same('plain', path, { headers: { Accept: NAVIGATION } });
      expect(answer).toMatchObject({ status: 200, body, cacheControl: ASSET_CACHE });
    }
    for (const path of ['/', '/index.html']) {
      const withSpa = await answerOf(await navigate(servers.plainSpa!.url + path));
      const without = await answerOf(await navigate(servers.plain!.url + path));
      expect(without).toMatchObject({ status: 200, body: INDEX, cacheControl: ASSET_CACHE });
      expect(withSpa).toEqual({ ...without, cacheControl: 'no-cache' });
    }
  });

  it('with fallthrough: false, a navigation miss still gets the document; any other miss is a 404 error', async () => {
    const page = await navigate(`${servers.strictSpa!.url}/inbox/42`);
    expect([page.status, page.headers.get('cache-control'), await page.text()]).toEqual([200, 'no-cache', INDEX]);
    for (const [path, headers] of [
      ['/inbox/42', { Accept: 'application/json' }],
      ['/assets/chunk-0badc0de.js', { Accept: NAVIGATION }],
    ] as const) {
      const answer = await same('strict', path, { headers });
      expect(answer.status).toBe(404);
      if (door.name === 'node') {
        // serve-static's error for a missing file: the fs error with status 404, handed to next(err).
        expect(answer.body).toMatch(/^Error: ENOENT: no such file or directory/);
        expect(servers.strictSpa!.nexts.at(-1)).toMatchObject({ status: 404, code: 'ENOENT', expose: false });
      } else {
        expect(answer.body).toContain('<pre>Not Found</pre>');
        expect(servers.strictSpa!.nexts).toEqual([]);
      }
    }
  });
});

describeDoors('spa: a custom document', (door) => {
  const site = tempDir();
  const servers: Record<string, TestServer> = {};

  beforeAll(async () => {
    writeSite(site.path);
    servers.app = await door.serve(site.path, { spa: 'app.html', ...ASSET_OPTIONS });
    servers.shell = await door.serve(site.path, { spa: '/shell/index.html', ...ASSET_OPTIONS });
    servers.missing = await door.serve(site.path, { spa: 'missing.html', ...ASSET_OPTIONS });
    servers.directory = await door.serve(site.path, { spa: 'docs', ...ASSET_OPTIONS });
    servers.off = await door.serve(site.path, { spa: false, ...ASSET_OPTIONS });
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    site.remove();
  });

  it.each([
    ['app', 'app.html', APP_HTML],
    ['shell', 'shell/index.html', SHELL],
  ] as const)('spa: %s answers deep links with %s, no-cache, its own validators', async (name, file, body) => {
    const tag = etag(statSync(join(site.path, file)));
    for (const path of ['/inbox/42', '/settings/', '/a/b/c']) {
      const res = await navigate(servers[name]!.url + path);
      expect([path, res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([path, 200, HTML, 'no-cache']);
      expect(res.headers.get('etag')).toBe(tag);
      expect(tokens(res.headers.get('vary'))).toContain('accept');
      expect(await res.text()).toBe(body);
    }
    const revalidated = await navigate(`${servers[name]!.url}/inbox/42`, { headers: { 'If-None-Match': tag } });
    expect([revalidated.status, revalidated.headers.get('etag')]).toEqual([304, tag]);
    expect(tokens(revalidated.headers.get('vary'))).toContain('accept');
    expect(await revalidated.text()).toBe('');
  });

  it('the custom document is no-cache when requested directly; index.html is then an ordinary file', async () => {
    for (const path of ['/app.html']) {
      const res = await navigate(servers.app!.url + path);
      expect([res.status, res.headers.get('cache-control'), await res.text()]).toEqual([200, 'no-cache', APP_HTML]);
    }
    for (const path of ['/shell/', '/shell/index.html']) {
      const res = await navigate(servers.shell!.url + path);
      expect([path, res.status, res.headers.get('cache-control'), await res.text()]).toEqual([path, 200, 'no-cache', SHELL]);
    }
    for (const name of ['app', 'shell']) {
      for (const path of ['/', '/index.html']) {
        const res = await navigate(servers[name]!.url + path);
        expect([name, path, res.status, res.headers.get('cache-control'), await res.text()]).toEqual([name, path, 200, ASSET_CACHE, INDEX]);
      }
    }
  });

  it('a custom document missing on disk (or a directory) leaves the original miss: 404, falls through', async () => {
    for (const name of ['missing', 'directory', 'off']) {
      const before = servers[name]!.nexts.length;
      const res = await navigate(`${servers[name]!.url}/inbox/42`);
      expect([name, res.status, res.headers.get('content-type'), await res.text()]).toEqual([name, 404, FELL_THROUGH.contentType, 'fell through']);
      expect(res.headers.get('vary')).toBeNull();
      expect(res.headers.get('cache-control')).toBeNull();
      if (door.name === 'node') expect(servers[name]!.nexts.slice(before)).toEqual([null]);
    }
  });
});

describe('spa: validated at factory time', () => {
  const site = tempDir();
  beforeAll(() => writeSite(site.path));
  afterAll(() => site.remove());

  it.each([
    ['', 'spa option must be true, false, or the path of a file inside root'],
    [5, 'spa option must be true, false, or the path of a file inside root'],
    [{ file: 'index.html' }, 'spa option must be true, false, or the path of a file inside root'],
    ['../outside.html', 'spa option "../outside.html" must name a file inside root'],
    ['assets/../../outside.html', 'spa option "assets/../../outside.html" must name a file inside root'],
    ['dir/', 'spa option "dir/" must name a file inside root'],
  ])('spa: %j throws a TypeError from both factories', (value, message) => {
    expect(() => serveStatic(site.path, { spa: value as never })).toThrow(new TypeError(message));
    expect(() => serveStaticFetch(site.path, { spa: value as never })).toThrow(new TypeError(message));
  });

  it.each([true, false, undefined, 'app.html', '/shell/index.html', 'not-there-yet.html'])('spa: %j is accepted', (value) => {
    expect(typeof serveStatic(site.path, { spa: value })).toBe('function');
    expect(typeof serveStaticFetch(site.path, { spa: value })).toBe('function');
  });
});

describeDoors('spa: setHeaders and cacheControl', (door) => {
  const site = tempDir();
  const servers: Record<string, TestServer> = {};

  beforeAll(async () => {
    writeSite(site.path);
    servers.hook = await door.serve(site.path, {
      spa: true,
      ...ASSET_OPTIONS,
      setHeaders: (headers, path) => {
        if (path.endsWith('index.html')) headers.setHeader('Cache-Control', 'public, max-age=60');
        headers.setHeader('X-Served', path.slice(site.path.length));
      },
    });
    servers.none = await door.serve(site.path, { spa: true, ...ASSET_OPTIONS, cacheControl: false });
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    site.remove();
  });

  it('a Cache-Control set by setHeaders on the document wins over no-cache, for a deep link and for /', async () => {
    for (const path of ['/inbox/42', '/', '/index.html']) {
      const res = await navigate(servers.hook!.url + path);
      expect([path, res.status, res.headers.get('cache-control')]).toEqual([path, 200, 'public, max-age=60']);
      // The hook is told the document's path, not the URL asked for.
      expect(res.headers.get('x-served')).toBe('/index.html');
      expect(await res.text()).toBe(INDEX);
    }
    const deep = await navigate(`${servers.hook!.url}/inbox/42`);
    expect(tokens(deep.headers.get('vary'))).toContain('accept');
    const asset = await navigate(`${servers.hook!.url}/assets/index-a1b2c3d4.js`);
    expect([asset.headers.get('cache-control'), asset.headers.get('x-served'), await asset.text()]).toEqual([
      ASSET_CACHE,
      '/assets/index-a1b2c3d4.js',
      SCRIPT,
    ]);
  });

  it('cacheControl: false sends no Cache-Control at all, for the document either', async () => {
    for (const path of ['/inbox/42', '/', '/assets/index-a1b2c3d4.js']) {
      const res = await navigate(servers.none!.url + path);
      expect([path, res.status, res.headers.get('cache-control')]).toEqual([path, 200, null]);
      expect(await res.text()).toBe(path.endsWith('.js') ? SCRIPT : INDEX);
    }
    const deep = await navigate(`${servers.none!.url}/inbox/42`);
    expect(tokens(deep.headers.get('vary'))).toContain('accept');
    expect(await deep.text()).toBe(INDEX);
  });
});

describeDoors('spa: with precompressed and with cache', (door) => {
  const site = tempDir();
  const servers: Record<string, TestServer> = {};
  const index = Buffer.from(`${INDEX}<!-- ${'padding that compresses well '.repeat(40)}-->\n`);
  const indexBr = brotliCompressSync(index);
  const indexGz = gzipSync(index);

  beforeAll(async () => {
    writeSite(site.path);
    // The document an hour old, its sidecars a minute newer: fresh by the mtime rule.
    const time = Math.floor(Date.now() / 1000) - 3600;
    writeFileSync(join(site.path, 'index.html'), index);
    utimesSync(join(site.path, 'index.html'), time, time);
    for (const [suffix, bytes] of [['.br', indexBr], ['.gz', indexGz]] as const) {
      writeFileSync(join(site.path, `index.html${suffix}`), bytes);
      utimesSync(join(site.path, `index.html${suffix}`), time + 60, time + 60);
    }
    servers.precompressed = await door.serve(site.path, { spa: true, precompressed: true, ...ASSET_OPTIONS });
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    site.remove();
  });

  it('sends the fallback as brotli, with Vary naming Accept and Accept-Encoding', async () => {
    const brTag = `${etag(statSync(join(site.path, 'index.html.br'))).slice(0, -1)}-br"`;
    const res = await navigate(`${servers.precompressed!.url}/inbox/42`, { headers: { 'Accept-Encoding': 'gzip, deflate, br, zstd' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('content-type')).toBe(HTML);
    expect(res.headers.get('content-length')).toBe(String(indexBr.length));
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('etag')).toBe(brTag);
    expect(tokens(res.headers.get('vary'))).toEqual(expect.arrayContaining(['accept', 'accept-encoding']));
    const body = await bytesOf(res);
    expect(body.equals(indexBr)).toBe(true);
    expect(brotliDecompressSync(body).equals(index)).toBe(true);

    const revalidated = await navigate(`${servers.precompressed!.url}/inbox/42`, {
      headers: { 'Accept-Encoding': 'br', 'If-None-Match': brTag },
    });
    expect([revalidated.status, revalidated.headers.get('etag')]).toEqual([304, brTag]);
    expect(tokens(revalidated.headers.get('vary'))).toEqual(expect.arrayContaining(['accept', 'accept-encoding']));
  });

  it('sends it plain to a client without Accept-Encoding, still varying on both', async () => {
    const res = await navigate(`${servers.precompressed!.url}/settings/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('etag')).toBe(etag(statSync(join(site.path, 'index.html'))));
    expect(tokens(res.headers.get('vary'))).toEqual(expect.arrayContaining(['accept', 'accept-encoding']));
    expect((await bytesOf(res)).equals(index)).toBe(true);
  });

  it('sends / as brotli with no-cache and Vary: Accept-Encoding only (no miss was answered)', async () => {
    const res = await navigate(`${servers.precompressed!.url}/`, { headers: { 'Accept-Encoding': 'br' } });
    expect([res.status, res.headers.get('content-encoding'), res.headers.get('cache-control')]).toEqual([200, 'br', 'no-cache']);
    expect(tokens(res.headers.get('vary'))).toEqual(['accept-encoding']);
    expect((await bytesOf(res)).equals(indexBr)).toBe(true);
  });

  it('with cache: true, the fallback still works, and picks up an edited index.html after revalidateAfter', async () => {
    const cacheSite = tempDir();
    let cached: TestServer | undefined;
    try {
      writeSite(cacheSite.path);
      cached = await door.serve(cacheSite.path, { spa: true, cache: { revalidateAfter: 150 }, ...ASSET_OPTIONS });
      for (let round = 0; round < 2; round++) {
        const res = await navigate(`${cached.url}/inbox/42`);
        expect([res.status, res.headers.get('cache-control'), await res.text()]).toEqual([200, 'no-cache', INDEX]);
        expect(tokens(res.headers.get('vary'))).toContain('accept');
        // The remembered miss of /inbox/42 still falls through for a non-navigation.
        const data = await get(`${cached.url}/inbox/42`, { headers: { Accept: 'application/json' } });
        expect([data.status, await data.text()]).toEqual([404, 'fell through']);
      }

      const edited = `${INDEX}<p>a new deploy, and a different size</p>\n`;
      writeFileSync(join(cacheSite.path, 'index.html'), edited);
      const later = Math.floor(Date.now() / 1000) - 60;
      utimesSync(join(cacheSite.path, 'index.html'), later, later);
      const newTag = etag(statSync(join(cacheSite.path, 'index.html')));
      await sleep(300);

      for (const path of ['/inbox/42', '/a/b/c', '/']) {
        const res = await navigate(cached.url + path);
        expect([path, res.status, res.headers.get('etag'), res.headers.get('cache-control')]).toEqual([path, 200, newTag, 'no-cache']);
        expect(await res.text()).toBe(edited);
      }
    } finally {
      await cached?.close();
      cacheSite.remove();
    }
  });
});

/** The JSON 404 of the apps below: proves a request reached the app's own handler. */
function appNotFound(req: express.Request, res: express.Response): void {
  res.status(404).json({ error: 'not found', path: req.originalUrl });
}

describe.each([
  ['Express 5', express],
  ['Express 4', express4],
] as const)('spa mounted in %s', (_, framework) => {
  const site = tempDir();
  let mounted: Omit<TestServer, 'nexts'>;

  beforeAll(async () => {
    writeSite(site.path);
    const app = framework();
    app.get('/api/user', (_req, res) => {
      res.json({ name: 'Ada' });
    });
    app.use('/app', serveStatic(site.path, { spa: true, ...ASSET_OPTIONS }));
    app.use(appNotFound);
    mounted = await listen(app);
  });
  afterAll(async () => {
    await mounted.close();
    site.remove();
  });

  it('answers /app/inbox/42 with the document, keeping the mount prefix', async () => {
    for (const path of ['/app/inbox/42', '/app/settings/', '/app/a/b/c']) {
      const res = await navigate(mounted.url + path);
      expect([path, res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([path, 200, HTML, 'no-cache']);
      expect(tokens(res.headers.get('vary'))).toContain('accept');
      expect(res.headers.get('etag')).toBe(etag(statSync(join(site.path, 'index.html'))));
      expect(await res.text()).toBe(INDEX);
    }
  });

  it('serves /app/ as the document, redirects /app to /app/, and serves assets with their lifetime', async () => {
    const root = await navigate(`${mounted.url}/app/`);
    expect([root.status, root.headers.get('cache-control'), await root.text()]).toEqual([200, 'no-cache', INDEX]);
    const bare = await navigate(`${mounted.url}/app`);
    expect([bare.status, bare.headers.get('location')]).toEqual([301, '/app/']);
    const docs = await navigate(`${mounted.url}/app/docs`);
    expect([docs.status, docs.headers.get('location')]).toEqual([301, '/app/docs/']);
    const asset = await navigate(`${mounted.url}/app/assets/index-a1b2c3d4.js`);
    expect([asset.status, asset.headers.get('content-type'), asset.headers.get('cache-control'), await asset.text()]).toEqual([
      200,
      JS,
      ASSET_CACHE,
      SCRIPT,
    ]);
  });

  it("leaves the app's own 404 for paths outside the mount, missing chunks and JSON fetches", async () => {
    for (const [path, accept] of [
      ['/elsewhere/x', NAVIGATION],
      ['/app/assets/chunk-0badc0de.js', '*/*'],
      ['/app/assets/chunk-0badc0de.js', NAVIGATION],
      ['/app/inbox/42', 'application/json'],
      ['/app/.env', NAVIGATION],
    ] as const) {
      const res = await get(mounted.url + path, { headers: { Accept: accept } });
      expect([path, accept, res.status, res.headers.get('content-type')]).toEqual([path, accept, 404, 'application/json; charset=utf-8']);
      expect(await res.json()).toEqual({ error: 'not found', path });
    }
  });

  it('leaves routes registered before it alone', async () => {
    const res = await get(`${mounted.url}/api/user`, { headers: { Accept: 'application/json' } });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8']);
    expect(await res.json()).toEqual({ name: 'Ada' });
  });
});

describe('spa at the root of an Express 5 app with API routes', () => {
  const site = tempDir();
  let server: Omit<TestServer, 'nexts'>;

  beforeAll(async () => {
    writeSite(site.path);
    const app = express();
    app.get('/api/user', (_req, res) => {
      res.json({ name: 'Ada' });
    });
    app.use(serveStatic(site.path, { spa: true, ...ASSET_OPTIONS }));
    app.use(appNotFound);
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
    site.remove();
  });

  it('an API route registered before wins, even for a navigation', async () => {
    for (const accept of ['application/json', NAVIGATION]) {
      const res = await get(`${server.url}/api/user`, { headers: { Accept: accept } });
      expect([accept, res.status, res.headers.get('content-type')]).toEqual([accept, 200, 'application/json; charset=utf-8']);
      expect(await res.json()).toEqual({ name: 'Ada' });
    }
  });

  it("an unknown API path fetched as JSON reaches the app's own 404 handler", async () => {
    for (const accept of ['application/json', '*/*']) {
      const res = await get(`${server.url}/api/nope`, { headers: { Accept: accept } });
      expect([accept, res.status, res.headers.get('content-type')]).toEqual([accept, 404, 'application/json; charset=utf-8']);
      expect(await res.json()).toEqual({ error: 'not found', path: '/api/nope' });
    }
  });

  it('a deep link gets the document; a missing chunk the app 404', async () => {
    const page = await navigate(`${server.url}/inbox/42`);
    expect([page.status, page.headers.get('cache-control'), await page.text()]).toEqual([200, 'no-cache', INDEX]);
    const chunk = await get(`${server.url}/assets/chunk-0badc0de.js`, { headers: { Accept: '*/*' } });
    expect([chunk.status, chunk.headers.get('content-type')]).toEqual([404, 'application/json; charset=utf-8']);
    expect(await chunk.json()).toEqual({ error: 'not found', path: '/assets/chunk-0badc0de.js' });
  });
});
