/**
 * The `spa` option in a real browser: Debian's Chromium (driven by playwright-core, launched by chromium.ts)
 * loads a Vite-style app (hashed asset names, a module entry, a lazily imported page chunk, a hand-written
 * History API router, a JSON API) served with `{ spa: true, maxAge: '1y', immutable: true }` at the
 * root, through each door: Express 5 with the Connect door, and Hono on @hono/node-server with the fetch door,
 * each with its own `/api/user` route and a JSON 404 handler. Checked: a deep link boots the app and renders its
 * route; a reload on a `pushState`d URL boots it again (document 200, `no-cache`); a missing hashed chunk is a
 * 404 whose `import()` rejects cleanly, with no "MIME type" error; an unknown API path fetched as JSON gets the
 * app's own 404; and nothing else goes wrong. A control app with the usual catch-all (`res.sendFile` of
 * index.html after express.static) shows that the same page does report the MIME-type failure, so the check
 * for it is a real one.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { serve as serveHono } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import type { Browser, ConsoleMessage, Page, Response as PageResponse } from 'playwright-core';
import referenceServeStatic from 'serve-static';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, serveStaticFetch } from '../src/index.js';
import { launchChromium, watchPage, withPage } from './chromium.js';
import { listen, tempDir } from './helpers.js';

const ASSET_CACHE = 'public, max-age=31536000, immutable';
const JS = 'text/javascript; charset=utf-8';
const ENTRY = '/assets/index-a1b2c3d4.js';
const LAZY = '/assets/page-5e6f7a8b.js';
const MISSING_CHUNK = '/assets/chunk-0badc0de.js';

const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>an SPA</title>
<link rel="icon" href="data:,">
<script type="module" src="${ENTRY}"></script>
</head>
<body>
<nav><button id="to-settings" type="button">settings</button></nav>
<main id="app"></main>
<dl>
<dt>boots</dt><dd id="boots"></dd>
<dt>lazy</dt><dd id="lazy"></dd>
<dt>user</dt><dd id="user"></dd>
<dt>api404</dt><dd id="api404"></dd>
<dt>chunk</dt><dd id="chunk"></dd>
<dt>ready</dt><dd id="ready"></dd>
</dl>
</body>
</html>
`;

/** The entry module: a router on location.pathname, History API navigation, a lazy chunk and the API. */
const ENTRY_MODULE = `const set = (id, text) => { document.getElementById(id).textContent = String(text); };
const routes = [
  [/^\\/$/, () => 'home'],
  [/^\\/inbox\\/(\\d+)$/, (id) => 'message ' + id],
  [/^\\/settings\\/([a-z]+)$/, (tab) => 'settings: ' + tab],
  [/^\\/broken$/, () => 'a page whose chunk is gone'],
];
function render() {
  for (const [pattern, view] of routes) {
    const match = pattern.exec(location.pathname);
    if (match) return set('app', view(...match.slice(1)));
  }
  set('app', 'no route for ' + location.pathname);
}
document.getElementById('to-settings').addEventListener('click', () => {
  history.pushState({}, '', '/settings/profile');
  render();
});
addEventListener('popstate', render);
render();

// Counts the times this tab booted the app: a reload must boot it again.
const boots = Number(sessionStorage.getItem('boots') ?? '0') + 1;
sessionStorage.setItem('boots', String(boots));
set('boots', boots);

const page = await import('${LAZY}');
set('lazy', page.title);

const user = await fetch('/api/user', { headers: { Accept: 'application/json' } });
set('user', user.status + ' ' + (await user.json()).name);

const nope = await fetch('/api/nope', { headers: { Accept: 'application/json' } });
set('api404', nope.status + ' ' + JSON.stringify(await nope.json()));

if (location.pathname === '/broken') {
  try {
    await import('${MISSING_CHUNK}');
    set('chunk', 'loaded');
  } catch (error) {
    set('chunk', 'rejected: ' + error.name);
  }
}
set('ready', 'yes');
`;

const LAZY_MODULE = `export const title = 'the lazily imported page';\n`;

const USER = { name: 'Ada' };
const NOT_FOUND = (path: string): { error: string; path: string } => ({ error: 'not found', path });

interface Origin {
  readonly url: string;
  close(): Promise<void>;
}

/** What Chromium reported during one page's life. */
interface Watched {
  readonly problems: string[];
  readonly console: ConsoleMessage[];
  readonly responses: PageResponse[];
}

function watch(page: Page): Watched {
  const responses: PageResponse[] = [];
  return { ...watchPage(page, { consoleProblems: false, onResponse: (response) => responses.push(response) }), responses };
}

/**
 * Console errors and warnings, except Chromium's own "Failed to load resource" report of a 404 at one of the
 * URLs where a 404 is the expected answer (it logs one for every 4xx a page fetches).
 */
function unexpectedConsole(watched: Watched, expected404s: readonly string[]): string[] {
  return watched.console
    .filter((message) => message.type() === 'error' || message.type() === 'warning')
    .filter((message) => {
      const path = new URL(message.location().url || 'about:blank', 'http://x').pathname;
      return !(message.text().includes('status of 404') && expected404s.includes(path));
    })
    .map((message) => `console ${message.type()}: ${message.text()} (${message.location().url})`);
}

function responsesTo(watched: Watched, path: string): PageResponse[] {
  return watched.responses.filter((response) => new URL(response.url()).pathname === path);
}

async function readPage(page: Page): Promise<Record<string, string>> {
  await page.waitForSelector('#ready:text("yes")', { timeout: 15_000 });
  const pairs = await page.$$eval('main, dd', (items) => items.map((item) => [item.id, item.textContent ?? '']));
  return Object.fromEntries(pairs) as Record<string, string>;
}

function tokens(value: string | undefined): string[] {
  return (value ?? '')
    .toLowerCase()
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '');
}

async function originOf(server: Server): Promise<Origin> {
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(address.port)}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Express 5, the Connect door at the root, behind the app's API route and before its JSON 404. */
async function expressOrigin(root: string): Promise<Origin> {
  const app = express();
  app.get('/api/user', (_req, res) => {
    res.json(USER);
  });
  app.use(serveStatic(root, { spa: true, maxAge: '1y', immutable: true }));
  app.use((req, res) => {
    res.status(404).json(NOT_FOUND(req.originalUrl));
  });
  return listen(app);
}

/** Hono on @hono/node-server, the fetch door as middleware, behind the API route and before notFound. */
async function honoOrigin(root: string): Promise<Origin> {
  const assets = serveStaticFetch(root, { spa: true, maxAge: '1y', immutable: true });
  const app = new Hono();
  app.get('/api/user', (c) => c.json(USER));
  app.use('*', async (c, next) => {
    const response = await assets(c.req.raw);
    if (response !== undefined) return response;
    await next();
    return undefined;
  });
  app.notFound((c) => c.json(NOT_FOUND(c.req.path), 404));
  const server = await new Promise<Server>((resolve) => {
    const started: Server = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started)) as Server;
  });
  return originOf(server);
}

/** The classic catch-all this option replaces: every GET that no file answers gets index.html. */
async function catchAllOrigin(root: string): Promise<Origin> {
  const app = express();
  app.get('/api/user', (_req, res) => {
    res.json(USER);
  });
  app.use(referenceServeStatic(root, { maxAge: '1y', immutable: true }));
  app.get('/api/{*rest}', (req, res) => {
    res.status(404).json(NOT_FOUND(req.originalUrl));
  });
  app.get('/{*rest}', (_req, res) => {
    res.sendFile(join(root, 'index.html'));
  });
  return listen(app);
}

describe('a single-page app in Chromium (Debian chromium through playwright-core)', () => {
  const site = tempDir();
  let browser: Browser;

  beforeAll(async () => {
    const files: Record<string, string> = {
      'index.html': INDEX,
      [ENTRY.slice(1)]: ENTRY_MODULE,
      [LAZY.slice(1)]: LAZY_MODULE,
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(site.path, name)), { recursive: true });
      writeFileSync(join(site.path, name), text);
    }
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    site.remove();
  });

  it('has the files a build would have made', () => {
    expect(readFileSync(join(site.path, 'index.html'), 'utf8')).toBe(INDEX);
    expect(readFileSync(join(site.path, ENTRY.slice(1)), 'utf8')).toBe(ENTRY_MODULE);
    expect(readFileSync(join(site.path, LAZY.slice(1)), 'utf8')).toBe(LAZY_MODULE);
  });

  describe.each([
    ['Express 5, Connect door', expressOrigin],
    ['Hono on @hono/node-server, fetch door', honoOrigin],
  ])('%s', (_, start) => {
    let origin: Origin;
    beforeAll(async () => {
      origin = await start(site.path);
    });
    afterAll(() => origin.close());

    it('boots from a deep link and renders its route; assets keep their year-long lifetime', async () => {
      await withPage(browser, async (page) => {
        const watched = watch(page);
        const document = await page.goto(`${origin.url}/inbox/42`);
        expect(document?.status()).toBe(200);
        const headers = (await document?.allHeaders()) ?? {};
        expect(headers['content-type']).toBe('text/html; charset=utf-8');
        expect(headers['cache-control']).toBe('no-cache');
        expect(tokens(headers['vary'])).toContain('accept');
        expect((await document?.body())?.toString()).toBe(INDEX);

        expect(await readPage(page)).toEqual({
          app: 'message 42',
          boots: '1',
          lazy: 'the lazily imported page',
          user: '200 Ada',
          api404: `404 ${JSON.stringify(NOT_FOUND('/api/nope'))}`,
          chunk: '',
          ready: 'yes',
        });
        expect(await page.title()).toBe('an SPA');

        for (const [path, body] of [
          [ENTRY, ENTRY_MODULE],
          [LAZY, LAZY_MODULE],
        ] as const) {
          const [response, ...more] = responsesTo(watched, path);
          expect(more, path).toEqual([]);
          expect(response?.status(), path).toBe(200);
          const assetHeaders = (await response?.allHeaders()) ?? {};
          expect(assetHeaders['content-type'], path).toBe(JS);
          expect(assetHeaders['cache-control'], path).toBe(ASSET_CACHE);
          expect((await response?.body())?.toString(), path).toBe(body);
        }
        const [api404] = responsesTo(watched, '/api/nope');
        expect(api404?.status()).toBe(404);
        expect((await api404?.allHeaders())?.['content-type']).toMatch(/^application\/json/);
        expect(watched.problems).toEqual([]);
        expect(unexpectedConsole(watched, ['/api/nope'])).toEqual([]);
      });
    }, 30_000);

    it('boots again on a reload of a pushState URL: the document is 200 and no-cache', async () => {
      await withPage(browser, async (page) => {
        const watched = watch(page);
        await page.goto(`${origin.url}/`);
        expect((await readPage(page)).app).toBe('home');

        const before = watched.responses.length;
        await page.click('#to-settings');
        await page.waitForSelector('main:text("settings: profile")', { timeout: 5_000 });
        expect(new URL(page.url()).pathname).toBe('/settings/profile');
        // pushState is client-side only: no document was fetched for it.
        expect(responsesTo(watched, '/settings/profile')).toEqual([]);
        expect(watched.responses.length).toBe(before);

        const reloaded = await page.reload();
        expect(reloaded?.status()).toBe(200);
        expect(new URL(reloaded?.url() ?? '').pathname).toBe('/settings/profile');
        const headers = (await reloaded?.allHeaders()) ?? {};
        expect(headers['content-type']).toBe('text/html; charset=utf-8');
        expect(headers['cache-control']).toBe('no-cache');
        expect(tokens(headers['vary'])).toContain('accept');
        expect(await readPage(page)).toMatchObject({ app: 'settings: profile', boots: '2', user: '200 Ada' });

        await page.goBack();
        await page.waitForSelector('main:text("home")', { timeout: 5_000 });
        expect(watched.problems).toEqual([]);
        expect(unexpectedConsole(watched, ['/api/nope'])).toEqual([]);
      });
    }, 30_000);

    it('answers a missing hashed chunk with a 404 its import() rejects cleanly on, never HTML', async () => {
      await withPage(browser, async (page) => {
        const watched = watch(page);
        const document = await page.goto(`${origin.url}/broken`);
        expect(document?.status()).toBe(200);
        expect(await readPage(page)).toMatchObject({ app: 'a page whose chunk is gone', chunk: 'rejected: TypeError', boots: '1' });

        const [chunk, ...more] = responsesTo(watched, MISSING_CHUNK);
        expect(more).toEqual([]);
        expect(chunk?.status()).toBe(404);
        const headers = (await chunk?.allHeaders()) ?? {};
        expect(headers['content-type']).toMatch(/^application\/json/);
        // A module request is no navigation: Chromium asked for it with Accept: */*.
        expect((await chunk?.request().allHeaders())?.['accept']).toBe('*/*');
        // Chromium keeps no body of a module script it refused; the same request again shows it.
        const again = await fetch(origin.url + MISSING_CHUNK, { headers: { Accept: '*/*' } });
        expect([again.status, again.headers.get('content-type')?.startsWith('application/json')]).toEqual([404, true]);
        expect(await again.json()).toEqual(NOT_FOUND(MISSING_CHUNK));

        const texts = watched.console.map((message) => message.text());
        expect(texts.filter((text) => /MIME type/i.test(text))).toEqual([]);
        // Chromium stops reading a module response it will not run (net::ERR_ABORTED): that request only.
        expect(watched.problems.filter((problem) => !problem.startsWith(`requestfailed: ${origin.url}${MISSING_CHUNK} `))).toEqual([]);
        expect(unexpectedConsole(watched, ['/api/nope', MISSING_CHUNK])).toEqual([]);
      });
    }, 30_000);
  });

  describe('control: the usual catch-all (express.static, then sendFile of index.html)', () => {
    let origin: Origin;
    beforeAll(async () => {
      origin = await catchAllOrigin(site.path);
    });
    afterAll(() => origin.close());

    it('answers the missing chunk with index.html, and Chromium reports the MIME type failure', async () => {
      await withPage(browser, async (page) => {
        const watched = watch(page);
        await page.goto(`${origin.url}/broken`);
        expect(await readPage(page)).toMatchObject({ chunk: 'rejected: TypeError' });
        const [chunk] = responsesTo(watched, MISSING_CHUNK);
        expect(chunk?.status()).toBe(200);
        expect((await chunk?.allHeaders())?.['content-type']).toBe('text/html; charset=utf-8');
        const texts = watched.console.map((message) => message.text());
        expect(texts.filter((text) => /MIME type of "text\/html"/i.test(text))).toHaveLength(1);
      });
    }, 30_000);
  });
});
