/**
 * The `index` option through both doors: index.html for a directory by default, a miss for a directory
 * without one, a custom name, a list tried in order, `false`, and a directory with an encoded name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeDoors, type DoorOptions } from './doors.js';
import { FIXTURES, get, type TestServer } from './helpers.js';

describeDoors('index', (door) => {
  const started: TestServer[] = [];
  async function server(options?: DoorOptions): Promise<TestServer> {
    const s = await door.serve(FIXTURES, options);
    started.push(s);
    return s;
  }
  afterAll(async () => {
    for (const s of started) await s.close();
  });

  it('serves index.html for a directory by default', async () => {
    const s = await server();
    const res = await get(`${s.url}/users/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe('<p>tobi, loki, jane</p>\n');
  });

  it('falls through for a directory without an index file', async () => {
    const s = await server();
    const res = await get(`${s.url}/pets/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });

  it('takes a custom name', async () => {
    const s = await server({ index: 'about.html' });
    const res = await get(`${s.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<h1>About</h1>\n');
  });

  it('tries a list in order, skipping missing names', async () => {
    const s = await server({ index: ['missing.html', 'tobi.txt', 'index.html'] });
    const res = await get(`${s.url}/users/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('tobi\n');
    const root = await get(`${s.url}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toBe(readFileSync(join(FIXTURES, 'index.html'), 'utf8'));
  });

  it('is disabled with false: a directory falls through', async () => {
    const s = await server({ index: false });
    const res = await get(`${s.url}/users/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });

  it('serves an index inside a directory with an encoded name', async () => {
    const s = await server();
    const res = await get(`${s.url}/snow%20%E2%98%83/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('snow\n');
  });
});
