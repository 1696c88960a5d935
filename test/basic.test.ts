/**
 * Serving plain files through both doors: status, Content-Type, length, validators and bytes of text and
 * binary files, HEAD, the index file for `/`, percent-decoding of names, the query string, and a miss.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import etag from 'etag';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { FIXTURES, get, type TestServer } from './helpers.js';

describeDoors('serving files', (door) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await door.serve();
  });
  afterAll(() => server.close());

  it('serves a text file with its type, length and validators', async () => {
    const res = await get(`${server.url}/todo.txt`);
    const stat = statSync(join(FIXTURES, 'todo.txt'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(stat.size));
    expect(res.headers.get('etag')).toBe(etag(stat));
    expect(res.headers.get('last-modified')).toBe(stat.mtime.toUTCString());
    expect(res.headers.get('cache-control')).toBe('public, max-age=0');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(await res.text()).toBe('- groceries\n');
  });

  it('serves binary files byte for byte', async () => {
    const res = await get(`${server.url}/logo.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(FIXTURES, 'logo.png')))).toBe(true);
  });

  it('streams a file larger than one read chunk intact', async () => {
    const res = await get(`${server.url}/binary.bin`);
    const expected = readFileSync(join(FIXTURES, 'binary.bin'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(expected.length));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
  });

  it.each([
    ['/index.html', 'text/html; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/thing.unknownext', 'application/octet-stream'],
    ['/README', 'application/octet-stream'],
  ])('gives %s the Content-Type %s', async (path, type) => {
    const res = await get(`${server.url}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect((await res.arrayBuffer()).byteLength).toBe(statSync(join(FIXTURES, path)).size);
  });

  it('serves an empty file as 200 with length 0', async () => {
    const res = await get(`${server.url}/empty.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect(await res.text()).toBe('');
  });

  it('decodes percent-encoded names once', async () => {
    const spaced = await get(`${server.url}/with%20space.txt`);
    expect(spaced.status).toBe(200);
    expect(await spaced.text()).toBe('spaced out\n');
    const percent = await get(`${server.url}/percent%25.txt`);
    expect(percent.status).toBe(200);
    expect(await percent.text()).toBe('100% sure\n');
  });

  it('ignores the query string', async () => {
    const res = await get(`${server.url}/todo.txt?v=3&x=%zz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('- groceries\n');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await get(`${server.url}/todo.txt`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('12');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('');
  });

  it('serves the index file for /', async () => {
    const res = await get(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe(readFileSync(join(FIXTURES, 'index.html'), 'utf8'));
  });

  it('falls through for a missing file', async () => {
    const res = await get(`${server.url}/nope.txt`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fell through');
  });
});
