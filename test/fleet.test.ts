/**
 * A fleet (issue 11): two origins, each an Express 5 app serving its own copy of one tree (own inodes,
 * modification times a day apart, as two machines deployed from one commit), behind one real nginx (Debian's
 * package, its own prefix and configuration in a temp dir) doing round robin as a caching reverse proxy that
 * revalidates expired pages (`proxy_cache_revalidate on`). Checks that with `etag: 'content'` every revalidation
 * is a 304 from whichever origin gets it, that with the default weak ETags (the control) a revalidation landing
 * on the other origin is a full 200, and that a same-size rewrite restoring the modification time on both
 * origins reaches the client after the next expiry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../src/index.js';
import { get, tempDir } from './helpers.js';
import { startNginx, type Nginx } from './nginx.js';

/** nginx keeps time in whole seconds: an entry valid for 1 s is expired for certain 2 s after it was stored. */
const PAGE_TTL_SECONDS = 1;
const PAST_PAGE_TTL_MS = (PAGE_TTL_SECONDS + 1) * 1000 + 150;
const DAY_MS = 24 * 60 * 60 * 1000;
const CONTENT_ETAG = /^"[A-Za-z0-9_-]{43}"$/;
const WEAK_ETAG = /^W\/"[0-9a-f]+-[0-9a-f]+"$/;

const PAGE_V1 = Buffer.from('<!doctype html><title>fleet, release 1</title><script type="module" src="/assets/app.js"></script>\n');
/** The next release: the same length, so a deploy that restores the modification time keeps size and mtime. */
const PAGE_V2 = Buffer.from('<!doctype html><title>fleet, release 2</title><script type="module" src="/assets/app.js"></script>\n');

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function contentEtag(bytes: Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('base64url')}"`;
}

/** What an origin answered, recorded when each response finished. */
interface Answer {
  readonly status: number;
  readonly ifNoneMatch: string | undefined;
  readonly etag: string | undefined;
}

interface Origin {
  readonly name: string;
  readonly root: string;
  readonly mtime: Date;
  readonly answers: Answer[];
  readonly port: number;
  readonly server: Server;
}

/** One machine of a fleet: an Express 5 app serving `root` as pages (`maxAge: 0`), counting what it answers. */
async function startOrigin(name: string, root: string, mtime: Date, etag: true | 'content'): Promise<Origin> {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), PAGE_V1);
  utimesSync(join(root, 'index.html'), mtime, mtime);
  const answers: Answer[] = [];
  const app = express();
  app.use((req, res, next) => {
    res.on('finish', () =>
      answers.push({ status: res.statusCode, ifNoneMatch: req.headers['if-none-match'], etag: res.getHeader('etag') as string | undefined }),
    );
    next();
  });
  app.use(serveStatic(root, { etag, maxAge: 0 }));
  const server = await new Promise<Server>((done) => {
    const listening: Server = app.listen(0, '127.0.0.1', () => done(listening));
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return { name, root, mtime, answers, port: address.port, server };
}

/**
 * The `http` directives of an nginx with two round-robin upstream groups, one per fleet (./nginx.ts keeps its
 * pid, logs and temp files in `dir`; its cache is there too). Pages come with `max-age=0`, which nginx would
 * not store at all: it keeps them for 1 s regardless and then revalidates with the validators it holds
 * (If-None-Match and If-Modified-Since). `X-Upstream` names the origin that answered, `X-Cache-Status` what
 * nginx made of it (MISS, HIT, REVALIDATED after a 304, EXPIRED after a 200).
 */
function nginxHttp(dir: string, port: number, fleets: Readonly<Record<string, readonly Origin[]>>): string {
  const upstreams = Object.entries(fleets)
    .map(([name, origins]) => `  upstream ${name} {\n${origins.map((origin) => `    server 127.0.0.1:${String(origin.port)};\n`).join('')}  }`)
    .join('\n');
  const locations = Object.keys(fleets)
    .map((name) => `    location /${name}/ {\n      proxy_pass http://${name}/;\n    }`)
    .join('\n');
  return `  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=fleet:1m max_size=16m inactive=10m use_temp_path=off;
${upstreams}
  server {
    listen 127.0.0.1:${String(port)};
    proxy_cache fleet;
    proxy_cache_key $scheme$host$request_uri;
    proxy_cache_revalidate on;
    proxy_ignore_headers Cache-Control Expires;
    proxy_cache_valid 200 ${String(PAGE_TTL_SECONDS)}s;
    add_header X-Cache-Status $upstream_cache_status always;
    add_header X-Upstream $upstream_addr always;
${locations}
  }
`;
}

describe('two origins behind nginx (round robin, proxy_cache_revalidate on)', () => {
  let dir: ReturnType<typeof tempDir>;
  // Two machines deployed from one commit a day apart; each fleet has its own pair so the runs stay apart.
  const mtimeA = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * DAY_MS);
  const mtimeB = new Date(mtimeA.getTime() + DAY_MS);
  let content: Origin[] = [];
  let weak: Origin[] = [];
  let nginx: Nginx | undefined;
  let proxy: string;

  const nameOfPort = (upstream: string | null): string =>
    [...content, ...weak].find((origin) => upstream === `127.0.0.1:${String(origin.port)}`)?.name ?? `unknown (${String(upstream)})`;

  beforeAll(async () => {
    dir = tempDir('brisk-static-fleet-');
    content = await Promise.all([
      startOrigin('content A', join(dir.path, 'content-a'), mtimeA, 'content'),
      startOrigin('content B', join(dir.path, 'content-b'), mtimeB, 'content'),
    ]);
    weak = await Promise.all([
      startOrigin('weak A', join(dir.path, 'weak-a'), mtimeA, true),
      startOrigin('weak B', join(dir.path, 'weak-b'), mtimeB, true),
    ]);

    const nginxDir = join(dir.path, 'nginx');
    nginx = await startNginx(nginxDir, (port) => nginxHttp(nginxDir, port, { content, weak }));
    proxy = nginx.url;
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(
      [...content, ...weak].map(
        (origin) =>
          new Promise<void>((done) => {
            origin.server.closeAllConnections();
            origin.server.close(() => done());
          }),
      ),
    );
    dir?.remove();
  });

  it('the copies differ in inode and modification time, not in bytes', () => {
    for (const fleet of [content, weak]) {
      const [a, b] = fleet.map((origin) => statSync(join(origin.root, 'index.html')));
      expect(a?.ino).not.toBe(b?.ino);
      expect((b?.mtimeMs ?? 0) - (a?.mtimeMs ?? 0)).toBe(DAY_MS);
    }
  });

  it("etag: 'content': every revalidation is a 304, from whichever origin gets it; the client always gets the page", { timeout: 30_000 }, async () => {
    const url = `${proxy}/content/`;
    const etag = contentEtag(PAGE_V1);
    const first = await get(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache-status')).toBe('MISS');
    expect(first.headers.get('etag')).toBe(etag);
    expect(first.headers.get('cache-control')).toBe('public, max-age=0');
    expect(Buffer.from(await first.arrayBuffer()).equals(PAGE_V1)).toBe(true);
    const upstreams = [nameOfPort(first.headers.get('x-upstream'))];

    for (let round = 1; round <= 4; round++) {
      await sleep(PAST_PAGE_TTL_MS);
      const response = await get(url);
      expect(response.status, `round ${String(round)}`).toBe(200);
      expect(response.headers.get('x-cache-status'), `round ${String(round)}`).toBe('REVALIDATED');
      expect(response.headers.get('etag'), `round ${String(round)}`).toBe(etag);
      expect(Buffer.from(await response.arrayBuffer()).equals(PAGE_V1), `round ${String(round)}`).toBe(true);
      upstreams.push(nameOfPort(response.headers.get('x-upstream')));
    }

    // Round robin: the origins took turns, so half the revalidations landed on the origin that never sent the page.
    expect(new Set(upstreams)).toEqual(new Set(['content A', 'content B']));
    for (let i = 1; i < upstreams.length; i++) expect(upstreams[i]).not.toBe(upstreams[i - 1]);
    const [missOrigin, otherOrigin] = upstreams[0] === 'content A' ? [content[0], content[1]] : [content[1], content[0]];
    expect(missOrigin?.answers.map((answer) => [answer.status, answer.ifNoneMatch, answer.etag])).toEqual([
      [200, undefined, etag],
      [304, etag, etag],
      [304, etag, etag],
    ]);
    expect(otherOrigin?.answers.map((answer) => [answer.status, answer.ifNoneMatch, answer.etag])).toEqual([
      [304, etag, etag],
      [304, etag, etag],
    ]);
  });

  it('control, etag: true: a revalidation landing on the other origin is a full 200 every time', { timeout: 30_000 }, async () => {
    const url = `${proxy}/weak/`;
    const first = await get(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache-status')).toBe('MISS');
    expect(first.headers.get('etag')).toMatch(WEAK_ETAG);
    expect(Buffer.from(await first.arrayBuffer()).equals(PAGE_V1)).toBe(true);
    const upstreams = [nameOfPort(first.headers.get('x-upstream'))];
    const etags = [first.headers.get('etag')];

    for (let round = 1; round <= 2; round++) {
      await sleep(PAST_PAGE_TTL_MS);
      const response = await get(url);
      expect(response.status, `round ${String(round)}`).toBe(200);
      // EXPIRED: nginx asked, and the origin sent the whole page again.
      expect(response.headers.get('x-cache-status'), `round ${String(round)}`).toBe('EXPIRED');
      expect(Buffer.from(await response.arrayBuffer()).equals(PAGE_V1), `round ${String(round)}`).toBe(true);
      upstreams.push(nameOfPort(response.headers.get('x-upstream')));
      etags.push(response.headers.get('etag'));
    }

    for (let i = 1; i < upstreams.length; i++) expect(upstreams[i]).not.toBe(upstreams[i - 1]);
    // The same bytes, two ETags: each origin's own size-mtime tag, alternating as the origins do.
    expect(etags[0]).not.toBe(etags[1]);
    expect(etags[2]).toBe(etags[0]);
    const answers = [...(weak[0]?.answers ?? []), ...(weak[1]?.answers ?? [])];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    // Each revalidation carried the other origin's ETag, which the origin it reached could not honour.
    expect(answers.filter((answer) => answer.ifNoneMatch !== undefined).every((answer) => answer.ifNoneMatch !== answer.etag)).toBe(true);
    expect(answers.filter((answer) => answer.ifNoneMatch !== undefined)).toHaveLength(2);
  });

  it("a same-size rewrite that restores the modification time on both origins reaches the client after expiry", { timeout: 30_000 }, async () => {
    const url = `${proxy}/content/`;
    const oldEtag = contentEtag(PAGE_V1);
    const newEtag = contentEtag(PAGE_V2);
    expect(newEtag).toMatch(CONTENT_ETAG);
    expect(PAGE_V2.length).toBe(PAGE_V1.length);
    // Stored by the test before (or now, if it runs alone), and still the first release.
    const stored = await get(url);
    expect(stored.status).toBe(200);
    expect(stored.headers.get('etag')).toBe(oldEtag);
    expect(Buffer.from(await stored.arrayBuffer()).equals(PAGE_V1)).toBe(true);
    const before = content.map((origin) => origin.answers.length);

    for (const origin of content) {
      const path = join(origin.root, 'index.html');
      const old = statSync(path);
      writeFileSync(path, PAGE_V2);
      utimesSync(path, origin.mtime, origin.mtime);
      const now = statSync(path);
      expect([now.ino, now.size, now.mtimeMs], origin.name).toEqual([old.ino, old.size, old.mtimeMs]);
    }
    await sleep(PAST_PAGE_TTL_MS);

    const fresh = await get(url);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('x-cache-status')).toBe('EXPIRED');
    expect(fresh.headers.get('etag')).toBe(newEtag);
    expect(fresh.headers.get('content-length')).toBe(String(PAGE_V2.length));
    expect(Buffer.from(await fresh.arrayBuffer()).equals(PAGE_V2)).toBe(true);

    // The next expiry lands on the other origin, which holds the same new bytes: a 304 for the new ETag.
    await sleep(PAST_PAGE_TTL_MS);
    const again = await get(url);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-cache-status')).toBe('REVALIDATED');
    expect(again.headers.get('etag')).toBe(newEtag);
    expect(Buffer.from(await again.arrayBuffer()).equals(PAGE_V2)).toBe(true);
    expect(nameOfPort(again.headers.get('x-upstream'))).not.toBe(nameOfPort(fresh.headers.get('x-upstream')));

    const answers = content.flatMap((origin, i) => origin.answers.slice(before[i]));
    expect(answers.map((answer) => [answer.status, answer.ifNoneMatch, answer.etag]).sort()).toEqual(
      [
        [200, oldEtag, newEtag],
        [304, newEtag, newEtag],
      ].sort(),
    );
  });
});
