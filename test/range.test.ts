/**
 * Byte ranges: the `evaluateRange` table (once), and over HTTP through both doors: 206 with Content-Range for
 * one range, suffix ranges, exact slices of a large binary, 416 for an unsatisfiable range, the whole file for
 * several ranges, If-Range, HEAD, and `acceptRanges: false`.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import etag from 'etag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateRange } from '../src/range.js';
import { describeDoors } from './doors.js';
import { FIXTURES, get, type TestServer } from './helpers.js';

const VALIDATORS = { etag: 'W/"9-1"', lastModified: 'Tue, 01 Oct 2024 10:00:00 GMT' };

describe('evaluateRange: table (size 9)', () => {
  it.each([
    [undefined, undefined, { kind: 'full' }],
    ['bytes=0-4', undefined, { kind: 'partial', start: 0, end: 4 }],
    ['bytes=4-', undefined, { kind: 'partial', start: 4, end: 8 }],
    ['bytes=-3', undefined, { kind: 'partial', start: 6, end: 8 }],
    ['bytes=-1', undefined, { kind: 'partial', start: 8, end: 8 }],
    ['bytes=0-100', undefined, { kind: 'partial', start: 0, end: 8 }],
    [' bytes=1-2', undefined, { kind: 'partial', start: 1, end: 2 }],
    ['bytes=0-1,1-3', undefined, { kind: 'partial', start: 0, end: 3 }],
    ['bytes=0-4,2-6', undefined, { kind: 'full' }],
    ['bytes=0-8,0-8', undefined, { kind: 'full' }],
    [`bytes=${Array.from({ length: 40 }, () => '0-0').join(',')}`, undefined, { kind: 'full' }],
    [`bytes=${Array.from({ length: 32 }, () => '0-0').join(',')}`, undefined, { kind: 'full' }],
    [`bytes=${Array.from({ length: 31 }, (_, i) => `${i % 9}-${i % 9}`).join(',')}`, undefined, { kind: 'full' }],
    ['bytes=0-0,1-1,2-2', undefined, { kind: 'partial', start: 0, end: 2 }],
    ['bytes=3-3,-2', undefined, { kind: 'full' }],
    ['bytes=0-0,4-5', undefined, { kind: 'full' }],
    ['bytes=9-10', undefined, { kind: 'unsatisfiable' }],
    ['bytes=-0', undefined, { kind: 'unsatisfiable' }],
    ['bytes=5-2', undefined, { kind: 'unsatisfiable' }],
    ['bytes=x-y', undefined, { kind: 'full' }],
    ['bytes=1', undefined, { kind: 'full' }],
    ['items=0-1', undefined, { kind: 'full' }],
    ['bytes=0-4', 'W/"9-1"', { kind: 'partial', start: 0, end: 4 }],
    ['bytes=0-4', '"other"', { kind: 'full' }],
    ['bytes=0-4', 'Tue, 01 Oct 2024 10:00:00 GMT', { kind: 'partial', start: 0, end: 4 }],
    ['bytes=0-4', 'Tue, 01 Oct 2024 09:00:00 GMT', { kind: 'full' }],
    ['bytes=9-10', '"other"', { kind: 'full' }],
  ])('Range %s, If-Range %s', (range, ifRange, expected) => {
    expect(evaluateRange(range, ifRange, 9, VALIDATORS)).toEqual(expected);
  });
});

describeDoors('ranges over HTTP', (door) => {
  let server: TestServer;
  const nums = statSync(join(FIXTURES, 'nums.txt'));
  beforeAll(async () => {
    server = await door.serve();
  });
  afterAll(() => server.close());

  it('answers one range with 206 and Content-Range', async () => {
    const res = await get(`${server.url}/nums.txt`, { headers: { Range: 'bytes=2-4' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 2-4/9');
    expect(res.headers.get('content-length')).toBe('3');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(await res.text()).toBe('345');
  });

  it('answers a suffix range with the last bytes', async () => {
    const res = await get(`${server.url}/nums.txt`, { headers: { Range: 'bytes=-1' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 8-8/9');
    expect(await res.text()).toBe('9');
  });

  it('slices a large binary file exactly', async () => {
    const expected = readFileSync(join(FIXTURES, 'binary.bin')).subarray(70_000, 140_001);
    const res = await get(`${server.url}/binary.bin`, { headers: { Range: 'bytes=70000-140000' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 70000-140000/204800');
    expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
  });

  it('hands an unsatisfiable range to next(err) as 416 with Content-Range bytes */size', async () => {
    const res = await get(`${server.url}/nums.txt`, { headers: { Range: 'bytes=100-200' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */9');
    if (door.name === 'node') {
      expect(await res.text()).toBe('RangeNotSatisfiableError: Range Not Satisfiable');
    } else {
      // The fetch door answers the error itself, with serve-static's page, and hands nothing on.
      expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toContain('<pre>Range Not Satisfiable</pre>');
      expect(server.nexts).toEqual([]);
    }
  });

  it('sends the whole file for several ranges', async () => {
    const res = await get(`${server.url}/nums.txt`, { headers: { Range: 'bytes=0-0,4-5' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-range')).toBeNull();
    expect(await res.text()).toBe('123456789');
  });

  it('honours If-Range with the current ETag and ignores the range for a stale one', async () => {
    const fresh = await get(`${server.url}/nums.txt`, { headers: { Range: 'bytes=0-1', 'If-Range': etag(nums) } });
    expect(fresh.status).toBe(206);
    expect(await fresh.text()).toBe('12');
    const stale = await get(`${server.url}/nums.txt`, { headers: { Range: 'bytes=0-1', 'If-Range': '"stale"' } });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe('123456789');
  });

  it('answers HEAD with a range with the partial headers and no body', async () => {
    const res = await get(`${server.url}/nums.txt`, { method: 'HEAD', headers: { Range: 'bytes=0-3' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-length')).toBe('4');
    expect(await res.text()).toBe('');
  });

  it('ignores Range entirely with acceptRanges: false', async () => {
    const off = await door.serve(FIXTURES, { acceptRanges: false });
    try {
      const res = await get(`${off.url}/nums.txt`, { headers: { Range: 'bytes=0-1' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('accept-ranges')).toBeNull();
      expect(await res.text()).toBe('123456789');
    } finally {
      await off.close();
    }
  });
});
