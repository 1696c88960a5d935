/**
 * The `extensions` option through both doors: `/about` served as `about.html`, the list tried in order, an
 * exact match preferred, no fallback for a path with an extension or a trailing slash, off by default and
 * with `false`, and a single string accepted.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { FIXTURES, get, type TestServer } from './helpers.js';

describeDoors('extensions', (door) => {
  let html: TestServer;
  let ordered: TestServer;
  let none: TestServer;
  beforeAll(async () => {
    html = await door.serve(FIXTURES, { extensions: ['html'] });
    ordered = await door.serve(FIXTURES, { extensions: ['txt', 'html'] });
    none = await door.serve(FIXTURES, { extensions: false });
  });
  afterAll(async () => {
    await html.close();
    await ordered.close();
    await none.close();
  });

  it('serves /about as about.html', async () => {
    const res = await get(`${html.url}/about`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe('<h1>About</h1>\n');
  });

  it('tries extensions in order', async () => {
    const res = await get(`${ordered.url}/docs/about`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('about as text\n');
    const txt = await get(`${ordered.url}/docs/guide`);
    expect(txt.status).toBe(200);
    expect(await txt.text()).toBe('<h1>Docs</h1>\n');
    const first = await get(`${ordered.url}/about`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('<h1>About</h1>\n');
  });

  it('prefers an exact match', async () => {
    const res = await get(`${html.url}/README`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('no extension here\n');
  });

  it('is not tried for a path that already has an extension', async () => {
    const res = await get(`${html.url}/about.htm`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });

  it('is not tried for a trailing slash', async () => {
    const res = await get(`${html.url}/about/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });

  it('is off by default and with false', async () => {
    const res = await get(`${none.url}/about`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });

  it('accepts a single string', async () => {
    const single = await door.serve(FIXTURES, { extensions: 'html' });
    try {
      const res = await get(`${single.url}/about`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('<h1>About</h1>\n');
    } finally {
      await single.close();
    }
  });
});
