/**
 * Conditional requests: the precondition table of `evaluatePreconditions` (once), and over HTTP through both
 * doors: 304 to If-None-Match / If-Modified-Since, 412 to a failed If-Match / If-Unmodified-Since, forced
 * reloads, and validators set by a `setHeaders` hook. Validators left empty by earlier middleware are a
 * Connect-door matter, checked on that door alone.
 */
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import etag from 'etag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePreconditions, someTokenMatches } from '../src/conditional.js';
import { serveStatic } from '../src/index.js';
import { describeDoors } from './doors.js';
import { get, listen, tempDir, type TestServer } from './helpers.js';

const TAG = 'W/"c-18f"';
const MODIFIED = 'Tue, 01 Oct 2024 10:00:00 GMT';
const VALIDATORS = { etag: TAG, lastModified: MODIFIED };

describe('evaluatePreconditions: table', () => {
  it.each([
    [{}, 'send'],
    [{ 'if-none-match': TAG }, 'not-modified'],
    [{ 'if-none-match': '"c-18f"' }, 'not-modified'],
    [{ 'if-none-match': '"other", W/"c-18f"' }, 'not-modified'],
    [{ 'if-none-match': '*' }, 'not-modified'],
    [{ 'if-none-match': '"other"' }, 'send'],
    [{ 'if-none-match': TAG, 'cache-control': 'no-cache' }, 'send'],
    [{ 'if-modified-since': MODIFIED }, 'not-modified'],
    [{ 'if-modified-since': 'Tue, 01 Oct 2024 09:59:59 GMT' }, 'send'],
    [{ 'if-modified-since': 'not a date' }, 'send'],
    [{ 'if-none-match': '"other"', 'if-modified-since': MODIFIED }, 'send'],
    [{ 'if-match': TAG }, 'send'],
    [{ 'if-match': '"c-18f"' }, 'send'],
    [{ 'if-match': '*' }, 'send'],
    [{ 'if-match': '"other"' }, 'failed'],
    [{ 'if-match': '"a", "b", W/"c-18f"' }, 'send'],
    [{ 'if-unmodified-since': MODIFIED }, 'send'],
    [{ 'if-unmodified-since': 'Tue, 01 Oct 2024 09:00:00 GMT' }, 'failed'],
    [{ 'if-unmodified-since': 'garbage' }, 'send'],
    [{ 'if-match': '"other"', 'if-none-match': TAG }, 'failed'],
  ])('%j → %s', (headers, expected) => {
    expect(evaluatePreconditions(headers, VALIDATORS, true)).toBe(expected);
  });

  it('fails If-Match when the response has no ETag', () => {
    expect(evaluatePreconditions({ 'if-match': '*' }, { etag: undefined, lastModified: MODIFIED }, true)).toBe('failed');
  });

  it('does not answer 304 for a response that is not cachable', () => {
    expect(evaluatePreconditions({ 'if-none-match': TAG }, VALIDATORS, false)).toBe('send');
  });

  it('scans a long entity-tag list without splitting it', () => {
    const list = `${Array.from({ length: 20_000 }, (_, i) => `"tag-${i}"`).join(', ')}, ${TAG}`;
    expect(someTokenMatches(list, TAG)).toBe(true);
    expect(someTokenMatches(list.replace(TAG, '"x"'), TAG)).toBe(false);
  });
});

/** The fetch door's answer to an error it keeps: serve-static's HTML page, and nothing handed on. */
async function expectErrorPage(res: Response, status: number, text: string, server: TestServer): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
  expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(await res.text()).toContain(`<pre>${text}</pre>`);
  expect(server.nexts).toEqual([]);
}

// One file with a fixed mtime for every suite below, so the validators are known before any server starts.
const dir = tempDir();
writeFileSync(join(dir.path, 'page.txt'), 'conditional body\n');
utimesSync(join(dir.path, 'page.txt'), new Date('2024-10-01T10:00:00Z'), new Date('2024-10-01T10:00:00Z'));
const pageStat = statSync(join(dir.path, 'page.txt'));
const tag = etag(pageStat);
const modified = pageStat.mtime.toUTCString();
afterAll(() => dir.remove());

describeDoors('conditional GET over HTTP', (door) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await door.serve(dir.path);
  });
  afterAll(() => server.close());

  it('answers 304 without body or content headers to a matching If-None-Match', async () => {
    const res = await get(`${server.url}/page.txt`, { headers: { 'If-None-Match': tag } });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(tag);
    expect(res.headers.get('last-modified')).toBe(modified);
    expect(res.headers.get('cache-control')).toBe('public, max-age=0');
    expect(res.headers.get('content-type')).toBeNull();
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe('');
  });

  it('answers 304 to If-Modified-Since at the modification time', async () => {
    const res = await get(`${server.url}/page.txt`, { headers: { 'If-Modified-Since': modified } });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe('');
  });

  it('sends the file when the tag differs or the client forces a reload', async () => {
    const other = await get(`${server.url}/page.txt`, { headers: { 'If-None-Match': '"nope"' } });
    expect(other.status).toBe(200);
    expect(await other.text()).toBe('conditional body\n');
    const reload = await get(`${server.url}/page.txt`, { headers: { 'If-None-Match': tag, 'Cache-Control': 'no-cache' } });
    expect(reload.status).toBe(200);
    expect(await reload.text()).toBe('conditional body\n');
  });

  it('hands a failed If-Match to next(err) as a 412 PreconditionFailedError', async () => {
    const res = await get(`${server.url}/page.txt`, { headers: { 'If-Match': '"nope"' } });
    expect(res.status).toBe(412);
    if (door.name === 'node') {
      expect(await res.text()).toBe('PreconditionFailedError: Precondition Failed');
      expect((server.nexts.at(-1) as { status: number }).status).toBe(412);
    } else {
      await expectErrorPage(res, 412, 'Precondition Failed', server);
    }
  });

  it('hands a failed If-Unmodified-Since to next(err) as a 412', async () => {
    const res = await get(`${server.url}/page.txt`, { headers: { 'If-Unmodified-Since': 'Mon, 30 Sep 2024 00:00:00 GMT' } });
    expect(res.status).toBe(412);
    if (door.name === 'node') expect(await res.text()).toBe('PreconditionFailedError: Precondition Failed');
    else await expectErrorPage(res, 412, 'Precondition Failed', server);
  });

  it('serves when If-Match matches', async () => {
    const res = await get(`${server.url}/page.txt`, { headers: { 'If-Match': tag } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('conditional body\n');
  });

  it('compares against validators set by setHeaders', async () => {
    const custom = await door.serve(dir.path, { setHeaders: (headers) => headers.setHeader('ETag', '"custom"') });
    try {
      const hit = await get(`${custom.url}/page.txt`, { headers: { 'If-None-Match': '"custom"' } });
      expect(hit.status).toBe(304);
      expect(hit.headers.get('etag')).toBe('"custom"');
      const miss = await get(`${custom.url}/page.txt`, { headers: { 'If-None-Match': tag } });
      expect(miss.status).toBe(200);
      expect(await miss.text()).toBe('conditional body\n');
    } finally {
      await custom.close();
    }
  });
});

// Connect door only: the headers here are left on `res` by middleware that ran before ours, and a fetch
// handler builds its Response's headers itself, so it has no such earlier writer.
describe('conditional GET after earlier middleware (Connect door)', () => {
  // Earlier middleware may leave an empty ETag or Last-Modified; the file's own validators then go out, and
  // preconditions are judged against those (serve-static answers these 200 too), never a dropped connection.
  it.each([
    ['ETag', { 'If-Match': '"nope"' }, 412],
    ['ETag', { 'If-Match': 'TAG' }, 200],
    ['ETag', { 'If-None-Match': '"nope"' }, 200],
    ['ETag', { 'If-None-Match': 'TAG' }, 304],
    ['Last-Modified', { 'If-Unmodified-Since': 'Mon, 30 Sep 2024 00:00:00 GMT' }, 412],
    ['Last-Modified', { 'If-Unmodified-Since': 'Wed, 01 Jan 2025 00:00:00 GMT' }, 200],
    ['Last-Modified', { 'If-Modified-Since': 'Mon, 30 Sep 2024 00:00:00 GMT' }, 200],
    ['Last-Modified', { 'If-Modified-Since': 'MODIFIED' }, 304],
  ])('with an empty %s left by earlier middleware, %j is answered %i', async (name, headers, status) => {
    const middleware = serveStatic(dir.path);
    const emptied = await listen((req, res) => {
      res.setHeader(name, '');
      middleware(req, res, (err?: { status?: number }) => {
        res.statusCode = err?.status ?? 404;
        res.end();
      });
    });
    try {
      const sent = Object.fromEntries(
        Object.entries(headers).map(([key, value]) => [key, value === 'TAG' ? tag : value === 'MODIFIED' ? modified : value]),
      );
      const res = await get(`${emptied.url}/page.txt`, { headers: sent });
      expect(res.status).toBe(status);
      if (status !== 412) {
        expect(res.headers.get('etag')).toBe(tag);
        expect(res.headers.get('last-modified')).toBe(modified);
      }
      expect(await res.text()).toBe(status === 200 ? 'conditional body\n' : '');
    } finally {
      await emptied.close();
    }
  });
});
