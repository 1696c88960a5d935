import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, get, rawRequest, serve, type TestServer } from './helpers.js';

const servers: Record<string, TestServer> = {};
beforeAll(async () => {
  servers.default = await serve(FIXTURES);
  servers.ignore = await serve(FIXTURES, { dotfiles: 'ignore' });
  servers.allow = await serve(FIXTURES, { dotfiles: 'allow' });
  servers.deny = await serve(FIXTURES, { dotfiles: 'deny' });
  servers.denyStrict = await serve(FIXTURES, { dotfiles: 'deny', fallthrough: false });
});
afterAll(async () => {
  for (const server of Object.values(servers)) await server.close();
});

const DOT_PATHS = [
  ['/.hidden', 'I am hidden\n'],
  ['/.private/secret.txt', 'secret\n'],
  ['/sub/.config/token.txt', 'nested secret\n'],
  ['/users/../.hidden', 'I am hidden\n'],
  ['/%2ehidden', 'I am hidden\n'],
] as const;

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
    expect(res.body.toString()).toBe('ForbiddenError: Forbidden');
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
    const hiddenRoot = await serve(`${FIXTURES}/.private`, { dotfiles: 'deny' });
    try {
      const res = await get(`${hiddenRoot.url}/secret.txt`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('secret\n');
    } finally {
      await hiddenRoot.close();
    }
  });
});
