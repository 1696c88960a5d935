/**
 * A CDN in front: real nginx (apt, `.ci/run`) as a caching reverse proxy before an Express 5 app, as a site is
 * deployed behind nginx or CloudFront. Hashed assets are mounted with `{ maxAge: '1y', immutable: true }`, pages
 * with `maxAge: 0`. serve-static is mounted the same way in the same app as the control.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import referenceServeStatic from 'serve-static';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileThread } from '../src/file-thread.js';
import { serveStatic } from '../src/index.js';
import { get, tempDir } from './helpers.js';
import { startNginx, type Nginx } from './nginx.js';

/** nginx keeps time in whole seconds: an entry valid for 1 s is expired for certain 2 s after it was stored. */
const PAGE_TTL_SECONDS = 1;
const PAST_PAGE_TTL_MS = (PAGE_TTL_SECONDS + 1) * 1000 + 150;
/** Files up to this size come back from the file thread with their bytes; larger ones are streamed. */
const ONE_HOP_LIMIT = 64 * 1024;

/** One request as the origin saw it, recorded when its response finished. */
interface OriginRequest {
  readonly url: string;
  readonly status: number;
  readonly ifNoneMatch: string | undefined;
  readonly ifModifiedSince: string | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * The test's `http` directives (./nginx.ts keeps nginx's pid, logs and temp files in `dir`; its cache is there
 * too). Assets keep the origin's `Cache-Control` (a year, immutable). Pages come with `max-age=0`, which nginx
 * does not store at all (every request would be a full 200 from the origin, as `/as-is/` shows): under `/`
 * nginx keeps a page for 1 s regardless and then revalidates it with the origin's validators
 * (`proxy_cache_revalidate`).
 */
function nginxHttp(dir: string, port: number, originPort: number): string {
  const upstream = `http://127.0.0.1:${String(originPort)}`;
  return `  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=static:1m max_size=64m inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:${String(port)};
    proxy_cache static;
    # The client's URI: without a key, nginx keys on the URI it sends upstream, shared by /as-is/x and /x.
    proxy_cache_key $scheme$host$request_uri;
    proxy_cache_revalidate on;
    add_header X-Cache-Status $upstream_cache_status always;
    location ~ ^/[a-z]+/assets/ {
      proxy_pass ${upstream};
    }
    location / {
      proxy_pass ${upstream};
      proxy_ignore_headers Cache-Control Expires;
      proxy_cache_valid 200 ${String(PAGE_TTL_SECONDS)}s;
    }
    location /as-is/ {
      proxy_pass ${upstream}/;
    }
  }
`;
}

describe('behind nginx as a caching reverse proxy', () => {
  const dir = tempDir('brisk-static-cdn-');
  const doors = [
    { name: 'brisk-static', prefix: '/brisk' },
    { name: 'serve-static (control)', prefix: '/control' },
  ] as const;
  /** Assets: a small one (one hop on the file thread) and a 2 MiB one (streamed). */
  const assets: Record<string, { bytes: Buffer; type: string }> = {
    'app.3f9c2a1b.js': { bytes: Buffer.from(`export const build = '3f9c2a1b';\n${'// padding\n'.repeat(400)}`), type: 'text/javascript; charset=utf-8' },
    'bundle.8d0e55aa.bin': { bytes: randomBytes(2 * 1024 * 1024), type: 'application/octet-stream' },
  };
  const origin: OriginRequest[] = [];
  /** Whatever reaches stderr (the file thread's warnings reach the main thread only as stderr text). */
  const stderr: string[] = [];
  const stderrWrite = process.stderr.write;
  let app: Server;
  let nginx: Nginx | undefined;
  let proxy: string;

  function pagesOf(prefix: string): string {
    return join(dir.path, prefix.slice(1), 'pages');
  }

  function seenAtOrigin(url: string): OriginRequest[] {
    return origin.filter((request) => request.url === url);
  }

  beforeAll(async () => {
    const expressApp = express();
    expressApp.use((req, res, next) => {
      res.on('finish', () => {
        origin.push({
          url: req.originalUrl,
          status: res.statusCode,
          ifNoneMatch: req.headers['if-none-match'],
          ifModifiedSince: req.headers['if-modified-since'],
          etag: res.getHeader('etag') as string | undefined,
          lastModified: res.getHeader('last-modified') as string | undefined,
        });
      });
      next();
    });
    for (const { prefix } of doors) {
      const assetDir = join(dir.path, prefix.slice(1), 'assets');
      mkdirSync(assetDir, { recursive: true });
      mkdirSync(pagesOf(prefix), { recursive: true });
      for (const [name, { bytes }] of Object.entries(assets)) writeFileSync(join(assetDir, name), bytes);
      writeFileSync(join(pagesOf(prefix), 'index.html'), '<!doctype html><title>v1</title><script type="module" src="/assets/app.3f9c2a1b.js"></script>\n');
      const make = prefix === '/brisk' ? serveStatic : referenceServeStatic;
      expressApp.use(`${prefix}/assets`, make(assetDir, { maxAge: '1y', immutable: true }));
      expressApp.use(prefix, make(pagesOf(prefix), { maxAge: 0 }));
    }
    await new Promise<void>((done) => {
      app = expressApp.listen(0, '127.0.0.1', () => done());
    });
    const address = app.address();
    if (address === null || typeof address !== 'object') throw new Error('no address');

    const nginxDir = join(dir.path, 'nginx');
    const originPort = address.port;
    nginx = await startNginx(nginxDir, (port) => nginxHttp(nginxDir, port, originPort));
    proxy = nginx.url;
    await startFileThread()?.ready;
    process.stderr.write = function (this: typeof process.stderr, chunk: unknown, ...rest: unknown[]): boolean {
      stderr.push(String(chunk));
      return (stderrWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stderr.write;
  });

  afterAll(async () => {
    process.stderr.write = stderrWrite;
    await nginx?.stop();
    if (app !== undefined) {
      app.closeAllConnections();
      await new Promise<void>((done) => app.close(() => done()));
    }
    dir.remove();
  });

  it('has a file on each side of the one-hop limit, and the file thread is running', () => {
    expect(assets['app.3f9c2a1b.js']?.bytes.length).toBeLessThanOrEqual(ONE_HOP_LIMIT);
    expect(assets['bundle.8d0e55aa.bin']?.bytes.length).toBeGreaterThan(ONE_HOP_LIMIT);
    expect(startFileThread()).not.toBeNull();
  });

  describe.each(doors)('$name', ({ name, prefix }) => {
    const ours = name === 'brisk-static';

    it('immutable hashed assets: MISS then HIT, one request at the origin, the same bytes both times', async () => {
      const answered = startFileThread()?.answered ?? 0;
      for (const [file, { bytes, type }] of Object.entries(assets)) {
        const url = `${prefix}/assets/${file}`;
        const first = await get(proxy + url);
        const firstBody = Buffer.from(await first.arrayBuffer());
        expect(first.status, file).toBe(200);
        expect(first.headers.get('x-cache-status'), file).toBe('MISS');
        expect(first.headers.get('cache-control'), file).toBe('public, max-age=31536000, immutable');
        expect(first.headers.get('content-type'), file).toBe(type);
        expect(first.headers.get('etag'), file).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
        expect(first.headers.get('last-modified'), file).toBe(statSync(join(dir.path, prefix.slice(1), 'assets', file)).mtime.toUTCString());
        expect(firstBody.length, file).toBe(bytes.length);
        expect(sha256(firstBody), file).toBe(sha256(bytes));

        for (let i = 0; i < 2; i++) {
          const again = await get(proxy + url);
          const body = Buffer.from(await again.arrayBuffer());
          expect(again.status, file).toBe(200);
          expect(again.headers.get('x-cache-status'), file).toBe('HIT');
          expect(again.headers.get('cache-control'), file).toBe('public, max-age=31536000, immutable');
          expect(again.headers.get('content-type'), file).toBe(type);
          expect(again.headers.get('etag'), file).toBe(first.headers.get('etag'));
          expect(again.headers.get('content-length'), file).toBe(String(bytes.length));
          expect(sha256(body), file).toBe(sha256(bytes));
        }
        const atOrigin = seenAtOrigin(url);
        expect(atOrigin.map((request) => request.status), file).toEqual([200]);
        expect(atOrigin[0]?.etag, file).toBe(first.headers.get('etag'));
      }
      if (ours) expect(startFileThread()?.answered ?? 0).toBeGreaterThan(answered);
    });

    it('a max-age=0 page is revalidated: nginx asks with If-None-Match and If-Modified-Since, the origin answers 304', async () => {
      const url = `${prefix}/`;
      const page = readFileSync(join(pagesOf(prefix), 'index.html'));
      const first = await get(proxy + url);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-cache-status')).toBe('MISS');
      expect(first.headers.get('cache-control')).toBe('public, max-age=0');
      expect(first.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(Buffer.from(await first.arrayBuffer()).equals(page)).toBe(true);
      const etag = first.headers.get('etag');
      const lastModified = first.headers.get('last-modified');
      expect(etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      expect(lastModified).toBe(statSync(join(pagesOf(prefix), 'index.html')).mtime.toUTCString());

      await sleep(PAST_PAGE_TTL_MS);
      const answered = startFileThread()?.answered ?? 0;
      const second = await get(proxy + url);
      expect(second.status).toBe(200);
      expect(second.headers.get('x-cache-status')).toBe('REVALIDATED');
      expect(second.headers.get('cache-control')).toBe('public, max-age=0');
      expect(second.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(second.headers.get('etag')).toBe(etag);
      expect(Buffer.from(await second.arrayBuffer()).equals(page)).toBe(true);

      const atOrigin = seenAtOrigin(url);
      expect(atOrigin.map((request) => request.status)).toEqual([200, 304]);
      expect(atOrigin[0]?.ifNoneMatch).toBeUndefined();
      expect(atOrigin[1]?.ifNoneMatch).toBe(etag);
      expect(atOrigin[1]?.ifModifiedSince).toBe(lastModified);
      expect(atOrigin[1]?.etag).toBe(etag);
      if (ours) expect(startFileThread()?.answered ?? 0).toBeGreaterThan(answered);
    });

    it('an edited page is served once nginx revalidates it: the origin answers 200 with the new bytes', async () => {
      const url = `${prefix}/`;
      const file = join(pagesOf(prefix), 'index.html');
      // Stored by the test before (or now, if it runs alone), then expired.
      await get(proxy + url);
      const before = seenAtOrigin(url).length;
      const old = statSync(file);
      const oldEtag = seenAtOrigin(url).at(-1)?.etag;
      expect(oldEtag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      const edited = Buffer.from('<!doctype html><title>v2, edited</title><p>new content with another length</p>\n');
      writeFileSync(file, edited);
      utimesSync(file, old.atime, new Date(old.mtimeMs + 60_000));
      await sleep(PAST_PAGE_TTL_MS);

      const response = await get(proxy + url);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-cache-status')).toBe('EXPIRED');
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-length')).toBe(String(edited.length));
      expect(response.headers.get('last-modified')).toBe(statSync(file).mtime.toUTCString());
      expect(response.headers.get('etag')).not.toBe(oldEtag);
      expect(Buffer.from(await response.arrayBuffer()).equals(edited)).toBe(true);

      const atOrigin = seenAtOrigin(url).slice(before);
      expect(atOrigin.map((request) => request.status)).toEqual([200]);
      expect(atOrigin[0]?.ifNoneMatch).toBe(oldEtag);
      expect(atOrigin[0]?.etag).toBe(response.headers.get('etag'));
    });

    it('as nginx ships, a max-age=0 page is never stored: every request is a MISS and a full 200 at the origin', async () => {
      const url = `${prefix}/`;
      const page = readFileSync(join(pagesOf(prefix), 'index.html'));
      const before = seenAtOrigin(url).length;
      for (let i = 0; i < 2; i++) {
        const response = await get(`${proxy}/as-is${url}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('x-cache-status')).toBe('MISS');
        expect(response.headers.get('cache-control')).toBe('public, max-age=0');
        expect(Buffer.from(await response.arrayBuffer()).equals(page)).toBe(true);
      }
      const atOrigin = seenAtOrigin(url).slice(before);
      expect(atOrigin.map((request) => [request.status, request.ifNoneMatch])).toEqual([
        [200, undefined],
        [200, undefined],
      ]);
    });
  });

  // Runs last: nothing on stderr during any of the above (no descriptor warnings from the file thread).
  it('wrote nothing to stderr', async () => {
    await sleep(100);
    expect(stderr).toEqual([]);
  });
});
