/**
 * The `symlinks` option through both doors: `follow` (serve-static's behaviour), `within-root` (links whose
 * target stays under root) and `deny` (no links below root), for files, directories, loops, a root reached
 * through a link of its own, links swapped while cached, and files replaced by write-then-rename. The guard's
 * own judgement of an open descriptor is checked once, directly.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymlinkGuard } from '../src/symlinks.js';
import { describeDoors } from './doors.js';
import { get, tempDir, type TestServer } from './helpers.js';

/*
 * site/                 the root
 *   page.txt
 *   inner-link.txt  -> page.txt            (link staying inside root)
 *   inner-dir       -> sub                 (directory link inside root)
 *   sub/file.txt
 *   escape.txt      -> ../outside/secret.txt
 *   escape-dir      -> ../outside
 *   loop            -> loop
 * outside/secret.txt
 * site-private/x.txt                      (sibling sharing the root's name as a prefix)
 *   prefix-link.txt -> ../site-private/x.txt (in site/)
 */
const base = tempDir();
const root = join(base.path, 'site');

beforeAll(() => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(base.path, 'outside'));
  mkdirSync(join(base.path, 'site-private'));
  writeFileSync(join(root, 'page.txt'), 'page\n');
  writeFileSync(join(root, 'sub', 'file.txt'), 'sub file\n');
  writeFileSync(join(base.path, 'outside', 'secret.txt'), 'secret\n');
  writeFileSync(join(base.path, 'site-private', 'x.txt'), 'private\n');
  symlinkSync('page.txt', join(root, 'inner-link.txt'));
  symlinkSync('sub', join(root, 'inner-dir'));
  symlinkSync('../outside/secret.txt', join(root, 'escape.txt'));
  symlinkSync('../outside', join(root, 'escape-dir'));
  symlinkSync('../site-private/x.txt', join(root, 'prefix-link.txt'));
  symlinkSync('loop', join(root, 'loop'));
  // The root reached through a link of its own: links in root itself are the operator's choice.
  symlinkSync('site', join(base.path, 'site-alias'));
});
afterAll(() => {
  base.remove();
});

type Expectation = [status: number, body: string];
const SERVED = (body: string): Expectation => [200, body];
const MISS: Expectation = [404, 'fell through'];

const TABLE: [path: string, follow: Expectation, withinRoot: Expectation, deny: Expectation][] = [
  ['/page.txt', SERVED('page\n'), SERVED('page\n'), SERVED('page\n')],
  ['/sub/file.txt', SERVED('sub file\n'), SERVED('sub file\n'), SERVED('sub file\n')],
  ['/inner-link.txt', SERVED('page\n'), SERVED('page\n'), MISS],
  ['/inner-dir/file.txt', SERVED('sub file\n'), SERVED('sub file\n'), MISS],
  ['/escape.txt', SERVED('secret\n'), MISS, MISS],
  ['/escape-dir/secret.txt', SERVED('secret\n'), MISS, MISS],
  ['/prefix-link.txt', SERVED('private\n'), MISS, MISS],
  ['/loop', MISS, MISS, MISS],
];

describeDoors('symlinks modes', (door) => {
  const servers: Record<string, TestServer> = {};
  beforeAll(async () => {
    for (const mode of ['follow', 'within-root', 'deny'] as const) {
      servers[mode] = await door.serve(root, { symlinks: mode });
      servers[`${mode}-alias`] = await door.serve(join(base.path, 'site-alias'), { symlinks: mode });
    }
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
  });

  describe.each([
    ['follow', 1],
    ['within-root', 2],
    ['deny', 3],
  ] as const)('symlinks: %s', (mode, column) => {
    it.each(TABLE)('%s', async (path, ...expectations) => {
      const [status, body] = expectations[column - 1]!;
      for (const server of [servers[mode]!, servers[`${mode}-alias`]!]) {
        const res = await get(`${server.url}${path}`);
        expect([path, res.status, await res.text()]).toEqual([path, status, body]);
      }
    });
  });

  describe('symlinked directories and redirects', () => {
    it('redirects a linked directory inside root unless links are denied', async () => {
      const within = await get(`${servers['within-root']!.url}/inner-dir`);
      expect(within.status).toBe(301);
      expect(within.headers.get('location')).toBe('/inner-dir/');
      const denied = await get(`${servers.deny!.url}/inner-dir`);
      expect(denied.status).toBe(404);
      expect(denied.headers.get('location')).toBeNull();
      expect(await denied.text()).toBe('fell through');
    });

    it('does not reveal a directory outside root through a redirect', async () => {
      const res = await get(`${servers['within-root']!.url}/escape-dir`);
      expect(res.status).toBe(404);
      expect(res.headers.get('location')).toBeNull();
    });

    it('answers a refused link with NotFoundError when fallthrough is off', async () => {
      const strict = await door.serve(root, { symlinks: 'within-root', fallthrough: false });
      try {
        const res = await get(`${strict.url}/escape.txt`);
        expect(res.status).toBe(404);
        const body = await res.text();
        expect(body).not.toContain('secret');
        if (door.name === 'node') {
          expect(body).toBe('NotFoundError: Not Found');
        } else {
          // The fetch door answers the error itself, with serve-static's page.
          expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
          expect(body).toContain('<pre>Not Found</pre>');
          expect(strict.nexts).toEqual([]);
        }
      } finally {
        await strict.close();
      }
    });

    it('checks a link swapped after the first request (cache on)', async () => {
      const cached = await door.serve(root, { symlinks: 'within-root', cache: { revalidateAfter: 50 } });
      const link = join(root, `swap-${door.name}.txt`);
      try {
        symlinkSync('page.txt', link);
        const first = await get(`${cached.url}/swap-${door.name}.txt`);
        expect(first.status).toBe(200);
        expect(await first.text()).toBe('page\n');
        rmSync(link);
        symlinkSync('../outside/secret.txt', link);
        await new Promise((done) => setTimeout(done, 80));
        const second = await get(`${cached.url}/swap-${door.name}.txt`);
        expect(second.status).toBe(404);
        expect(await second.text()).toBe('fell through');
      } finally {
        await cached.close();
      }
    });

    it('rejects an unknown mode at factory time', async () => {
      await expect(door.serve(root, { symlinks: 'sometimes' as never })).rejects.toThrow(
        new TypeError('symlinks option must be "follow", "within-root", or "deny"'),
      );
    });
  });
});

describe('files replaced by write-then-rename (deploys, editors): the guard', () => {
  /** Opens `path`, then renames a new file over it: the open descriptor now names a deleted file. */
  function openThenReplace(path: string): number {
    const fd = openSync(path, 'r');
    writeFileSync(`${path}.next`, 'new version\n');
    renameSync(`${path}.next`, path);
    return fd;
  }

  it.each(['within-root', 'deny'] as const)('%s: a file replaced after the open is still judged by its path', async (mode) => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'page.txt');
      writeFileSync(path, 'old version\n');
      const guard = createSymlinkGuard(dir.path, mode);
      const fd = openThenReplace(path);
      try {
        expect(await new Promise((done) => guard?.(path, fd, done))).toBe(true);
      } finally {
        closeSync(fd);
      }
    } finally {
      dir.remove();
    }
  });

  it.each(['within-root', 'deny'] as const)('%s: a file reached through a refused link stays refused once deleted', async (mode) => {
    const dir = tempDir();
    try {
      const outside = join(dir.path, 'outside.txt');
      const site = join(dir.path, 'site');
      mkdirSync(site);
      writeFileSync(outside, 'secret\n');
      symlinkSync(outside, join(site, 'link.txt'));
      const guard = createSymlinkGuard(site, mode);
      const fd = openThenReplace(join(site, 'link.txt'));
      try {
        expect(await new Promise((done) => guard?.(join(site, 'link.txt'), fd, done))).toBe(false);
      } finally {
        closeSync(fd);
      }
    } finally {
      dir.remove();
    }
  });
});

describeDoors('files replaced by write-then-rename, served', (door) => {
  it.each([{}, { cache: { revalidateAfter: 0 } }])('deny: GETs during renames are all served (%j)', async (extra) => {
    const dir = tempDir();
    const server = await door.serve(dir.path, { symlinks: 'deny', ...extra });
    const path = join(dir.path, 'page.txt');
    writeFileSync(path, 'version 0\n');
    let renames = 0;
    let running = true;
    const renamer = (async () => {
      while (running) {
        writeFileSync(`${path}.tmp`, `version ${String(++renames)}\n`);
        renameSync(`${path}.tmp`, path);
        await new Promise((done) => setImmediate(done));
      }
    })();
    try {
      const statuses: number[] = [];
      for (let round = 0; round < 40; round++) {
        const answers = await Promise.all(Array.from({ length: 20 }, () => get(`${server.url}/page.txt`)));
        for (const res of answers) {
          statuses.push(res.status);
          expect(await res.text()).toMatch(/^version \d+\n$/);
        }
      }
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(renames).toBeGreaterThan(10);
    } finally {
      running = false;
      await renamer;
      await server.close();
      dir.remove();
    }
  });
});
