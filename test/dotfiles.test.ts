/**
 * The `dotfiles` option through both doors: with the default and `ignore`, a path with a dot-segment below
 * root falls through; `allow` serves it; `deny` forbids it (403 with `fallthrough: false`). `/./x`, plain
 * directories and a root that itself lies under a dot-directory are not dotfiles. Requests go over a raw
 * socket so the Connect door sees `/users/../.hidden` as written; the fetch door sees it WHATWG-normalised
 * (`/.hidden`), which is the same dotfile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDoors } from './doors.js';
import { FIXTURES, get, rawRequest, type TestServer } from './helpers.js';

const DOT_PATHS = [
  ['/.hidden', 'I am hidden\n'],
  ['/.private/secret.txt', 'secret\n'],
  ['/sub/.config/token.txt', 'nested secret\n'],
  ['/users/../.hidden', 'I am hidden\n'],
  ['/%2ehidden', 'I am hidden\n'],
] as const;

describeDoors('dotfiles', (door) => {
  const servers: Record<string, TestServer> = {};
  beforeAll(async () => {
    servers.default = await door.serve(FIXTURES);
    servers.ignore = await door.serve(FIXTURES, { dotfiles: 'ignore' });
    servers.allow = await door.serve(FIXTURES, { dotfiles: 'allow' });
    servers.deny = await door.serve(FIXTURES, { dotfiles: 'deny' });
    servers.denyStrict = await door.serve(FIXTURES, { dotfiles: 'deny', fallthrough: false });
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
  });

  describe.each(['default', 'ignore'])('dotfiles: %s', (name) => {
    it.each(DOT_PATHS)('%s falls through as if missing', async (path) => {
      const res = await rawRequest(servers[name]!.port, path);
      expect(res.status).toBe(404);
      expect(res.body.toString()).toBe('fell through');
    });
  });

  describe('dotfiles: allow', () => {
    it.each(DOT_PATHS)('%s is served', async (path, body) => {
      const res = await rawRequest(servers.allow!.port, path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(path.endsWith('.txt') ? 'text/plain; charset=utf-8' : 'application/octet-stream');
      expect(res.body.toString()).toBe(body);
    });
  });

  describe('dotfiles: deny', () => {
    it.each(DOT_PATHS)('%s is forbidden (falls through by default)', async (path) => {
      const res = await rawRequest(servers.deny!.port, path);
      expect(res.status).toBe(404);
      expect(res.body.toString()).toBe('fell through');
    });

    it.each(DOT_PATHS)('%s is a 403 ForbiddenError with fallthrough: false', async (path) => {
      const res = await rawRequest(servers.denyStrict!.port, path);
      expect(res.status).toBe(403);
      if (door.name === 'node') {
        expect(res.body.toString()).toBe('ForbiddenError: Forbidden');
      } else {
        // The fetch door answers the error itself, with serve-static's page, and hands nothing on.
        expect(res.headers['content-type']).toBe('text/html; charset=UTF-8');
        expect(res.headers['content-security-policy']).toBe("default-src 'none'");
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.body.toString()).toContain('<pre>Forbidden</pre>');
        expect(servers.denyStrict!.nexts).toEqual([]);
      }
    });
  });

  describe('dotfiles: names that are not dotfiles', () => {
    it.each(['default', 'deny'])('%s serves /./todo.txt and files under plain directories', async (name) => {
      const res = await rawRequest(servers[name]!.port, '/./todo.txt');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('- groceries\n');
      const visible = await get(`${servers[name]!.url}/sub/visible.txt`);
      expect(visible.status).toBe(200);
      expect(await visible.text()).toBe('visible\n');
    });

    it('does not look at the root path itself', async () => {
      // The root may live under a dot-directory (`~/.local/share/site`); only segments below root count.
      const hiddenRoot = await door.serve(`${FIXTURES}/.private`, { dotfiles: 'deny' });
      try {
        const res = await get(`${hiddenRoot.url}/secret.txt`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('secret\n');
      } finally {
        await hiddenRoot.close();
      }
    });
  });
});
