/**
 * The body pump (files over 64 KiB): byte-identical bodies whatever the response object does with the chunks it
 * is given. Where the response is Node's own on Node's own socket, the pump reads into one buffer again and
 * again (and hands buffers on to the next download): a buffer reused too early would put one download's
 * bytes, or a later part of the same file, into another's body.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileThread } from '../src/file-thread.js';
import { serveStatic } from '../src/index.js';
import { get, listen, tempDir } from './helpers.js';

const dir = tempDir();
const FILES = new Map<string, Buffer>();
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  for (const [name, size] of [
    ['a.bin', 2 * 1024 * 1024],
    ['b.bin', 2 * 1024 * 1024 + 17],
    ['c.bin', 700 * 1024],
    ['d.bin', 64 * 1024 + 1],
  ] as const) {
    const bytes = randomBytes(size);
    FILES.set(name, bytes);
    writeFileSync(join(dir.path, name), bytes);
  }
  expect(await startFileThread()?.ready).toBe(true);
});
afterAll(() => dir.remove());

/** A GET read at the client's own pace: `pauseMs` of not reading after every `pauseEvery` bytes. */
function download(url: string, pauseEvery: number, pauseMs: number, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let sincePause = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        sincePause += chunk.length;
        if (pauseEvery > 0 && sincePause >= pauseEvery) {
          sincePause = 0;
          res.pause();
          setTimeout(() => res.resume(), pauseMs);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the body pump', () => {
  it('keeps 40 concurrent downloads of four files byte-identical, fast and slow readers mixed', async () => {
    const middleware = serveStatic(dir.path);
    const server = await listen((req, res) => middleware(req, res));
    try {
      const names = [...FILES.keys()];
      const jobs = Array.from({ length: 40 }, (_, i) => {
        const name = names[i % names.length] as string;
        return download(`${server.url}/${name}`, i % 3 === 0 ? 256 * 1024 : 0, 15).then((answer) => ({ name, ...answer }));
      });
      for (const { name, status, body } of await Promise.all(jobs)) {
        expect(status).toBe(200);
        expect(body.length).toBe(FILES.get(name)?.length);
        expect(sha256(body)).toBe(sha256(FILES.get(name) as Buffer));
      }
    } finally {
      await server.close();
    }
  });

  it('sends ranges of a large file exactly', async () => {
    const middleware = serveStatic(dir.path);
    const server = await listen((req, res) => middleware(req, res));
    const file = FILES.get('a.bin') as Buffer;
    try {
      const ranges: [number, number][] = [
        [0, 300_000],
        [1, 1_000_000],
        [65_535, 2 * 1024 * 1024 - 1],
        [1_500_000, 1_500_000 + 262_144],
      ];
      const answers = await Promise.all(
        ranges.map(([start, end]) => download(`${server.url}/a.bin`, 100_000, 5, { Range: `bytes=${String(start)}-${String(end)}` })),
      );
      answers.forEach(({ status, body }, i) => {
        const [start, end] = ranges[i] as [number, number];
        expect(status).toBe(206);
        expect(sha256(body)).toBe(sha256(file.subarray(start, end + 1)));
      });
    } finally {
      await server.close();
    }
  });

  it('never reads into a chunk that a wrapped write() still holds (a body-capturing logger)', async () => {
    const middleware = serveStatic(dir.path);
    const captured: Buffer[] = [];
    // Keeps each chunk by reference, as a logger or an adapter might, and passes it on later: reading into
    // it again would change both the body and what was captured.
    const server = await listen((req, res: ServerResponse) => {
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      const end = res.end.bind(res) as (chunk?: Buffer) => ServerResponse;
      const held: Buffer[] = [];
      res.write = ((chunk: Buffer) => {
        held.push(chunk);
        captured.push(chunk);
        return true;
      }) as typeof res.write;
      res.end = ((chunk?: Buffer) => {
        if (chunk !== undefined) {
          held.push(chunk);
          captured.push(chunk);
        }
        setTimeout(() => {
          for (const part of held) write(part);
          end();
        }, 20);
        return res;
      }) as typeof res.end;
      middleware(req, res);
    });
    try {
      const res = await get(`${server.url}/b.bin`);
      const file = FILES.get('b.bin') as Buffer;
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(file));
      expect(sha256(Buffer.concat(captured))).toBe(sha256(file));
    } finally {
      await server.close();
    }
  });

  it('finishes when write() returns undefined (the Lambda adapters\u2019 fake sockets), not waiting for a drain', async () => {
    const middleware = serveStatic(dir.path);
    const server = await listen((req, res: ServerResponse) => {
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      res.write = ((chunk: Buffer) => {
        write(chunk);
        return undefined;
      }) as unknown as typeof res.write;
      middleware(req, res);
    });
    try {
      const res = await Promise.race([
        get(`${server.url}/a.bin`),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000)),
      ]);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(FILES.get('a.bin') as Buffer));
    } finally {
      await server.close();
    }
  });
});
