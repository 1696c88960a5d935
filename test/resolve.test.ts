import { realpathSync } from 'node:fs';
import { join, relative, resolve as resolvePosix, sep } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolvePath } from '../src/resolve.js';

const ROOT = '/srv/www';

describe('resolvePath: table', () => {
  it.each([
    ['/todo.txt', '/srv/www/todo.txt', false],
    ['/', '/srv/www/', true],
    ['', '/srv/www', false],
    ['/users/', '/srv/www/users/', true],
    ['/users/../todo.txt', '/srv/www/todo.txt', false],
    ['/./todo.txt', '/srv/www/todo.txt', false],
    ['//users', '/srv/www/users', false],
    ['/with%20space.txt', '/srv/www/with space.txt', false],
    ['/percent%25.txt', '/srv/www/percent%.txt', false],
    ['/%252e%252e/x', '/srv/www/%2e%2e/x', false],
    ['/snow%20%E2%98%83/', '/srv/www/snow ☃/', true],
  ])('%s → %s', (pathname, path, trailingSlash) => {
    const result = resolvePath(ROOT, pathname);
    expect(result).toMatchObject({ kind: 'path', path, trailingSlash });
  });

  it.each([
    ['/%', 400],
    ['/%zz', 400],
    ['/%E0%A4%A', 400],
    ['/todo.txt%00', 400],
    ['/%00/../todo.txt', 400],
    ['/../etc/passwd', 403],
    ['/..', 403],
    ['/%2e%2e/etc/passwd', 403],
    ['/%2E%2E%2Fetc%2Fpasswd', 400],
    ['/..%2fetc/passwd', 400],
    ['/users/../../www-private/x', 403],
    ['/..%5cetc', 400],
    ['/..\\etc', 400],
    ['/a/..\\..\\b', 400],
    ['/admin%2fsecret.html', 400],
    ['/admin%2Fsecret.html', 400],
    ['/%5Cevil', 400],
    ['/\\evil.example/..', 400],
    ['/a\\b.txt', 400],
  ])('%s is refused with %i', (pathname, status) => {
    expect(resolvePath(ROOT, pathname)).toEqual({ kind: 'refused', status });
  });

  it.each([
    ['/C:/Windows/win.ini'],
    ['/file.txt:stream'],
    ['/file.txt::$DATA'],
    ['/CON'],
    ['/nul.txt'],
    ['/dir/Com1.log'],
    ['/LPT9'],
    ['/file.txt.'],
    ['/file.txt%20'],
    ['/conout$'],
  ])('%s is refused with 400 in Windows mode, and resolved on POSIX', (pathname) => {
    expect(resolvePath(ROOT, pathname, true)).toEqual({ kind: 'refused', status: 400 });
    expect(resolvePath(ROOT, pathname, false)).toMatchObject({ kind: 'path' });
  });

  it.each([['/console.txt'], ['/null'], ['/com10'], ['/my.con'], ['/dir.d/file']])('%s is not a device name', (pathname) => {
    expect(resolvePath(ROOT, pathname, true)).toMatchObject({ kind: 'path' });
  });

  it('splits the path below root into segments for the dotfile rule', () => {
    expect(resolvePath(ROOT, '/a/.git/config')).toMatchObject({ segments: ['a', '.git', 'config'] });
    expect(resolvePath(ROOT, '/x/../.env')).toMatchObject({ segments: ['.env'] });
  });

  it('keeps a sibling directory whose name starts with the root name out', () => {
    // `/srv/www-private` shares the prefix `/srv/www`; only a segment-wise check refuses it.
    expect(resolvePath(ROOT, '/../www-private/secret')).toEqual({ kind: 'refused', status: 403 });
  });
});

/** Tokens from which hostile paths are built. */
const TOKENS = ['/', '\\', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%00', '%c0%ae', '%25', ':', 'a', 'www', 'www-x', '%', '%zz'];

describe('resolvePath: properties', () => {
  const root = realpathSync('/tmp');
  it('either refuses a path or maps it inside root', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }), (tokens) => {
        const pathname = `/${tokens.join('')}`;
        const result = resolvePath(root, pathname);
        if (result.kind === 'refused') {
          expect([400, 403]).toContain(result.status);
          return;
        }
        const fromRoot = relative(root, resolvePosix(result.path));
        expect(fromRoot === '' || (!fromRoot.startsWith(`..${sep}`) && fromRoot !== '..')).toBe(true);
        expect(result.path.startsWith(join(root, sep)) || result.path === root).toBe(true);
        expect(result.path.includes('\0')).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws, whatever the string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        const result = resolvePath(root, `/${text}`);
        expect(['path', 'refused']).toContain(result.kind);
      }),
      { numRuns: 5000 },
    );
  });
});
