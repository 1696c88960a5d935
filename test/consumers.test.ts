/**
 * The published artifact, loaded the way consumers load it: the tarball of this run (test/packaging/packed.ts:
 * `npm pack` of a staged copy, which runs the `prepare` build) is installed with `npm install` into throwaway
 * projects outside this repository, and real apps import it by name, so resolution goes through package.json
 * `exports` and `dist/`, never `src/`. test/packaging.test.ts checks the same tarball with the ecosystem's tools
 * (publint, attw, Jest, vitest, esbuild, every TypeScript module mode).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, tempDir } from './helpers.js';
import {
  installTarball,
  linkPackage,
  makeProject as makeBareProject,
  nonWarningLines,
  packedPackage,
  ROOT,
  startApp,
  type Packed,
  type RunningApp,
} from './packaging/packed.js';

/** A public/ directory that the consumer apps serve. */
const HELLO = 'hello from the packed package\n';
const INDEX = '<!doctype html><title>consumer</title>\n';

const work = tempDir('brisk-static-consumers-');
let packed: Packed;

function makeProject(name: string, type: 'commonjs' | 'module'): string {
  return makeBareProject(join(work.path, name), type, { 'public/hello.txt': HELLO, 'public/index.html': INDEX });
}

const CJS_APP = `'use strict';
const path = require('node:path');
const express = require('express');
const serveStatic = require('brisk-static');
const named = require('brisk-static').serveStatic;

const app = express();
const publicDir = path.join(__dirname, 'public');
app.use('/named', named(publicDir));
app.use(serveStatic(publicDir));
app.use((req, res) => res.status(404).type('text/plain').send('consumer 404'));
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({
    port: server.address().port,
    express: require('express/package.json').version,
    typeofDefault: typeof serveStatic,
    sameAsNamed: serveStatic === named,
    sameAsDefaultProperty: serveStatic === require('brisk-static').default,
    resolved: require.resolve('brisk-static'),
  }));
});
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); });
`;

const ESM_APP = `import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express from 'express';
import serveStatic from 'brisk-static';
import { serveStatic as named } from 'brisk-static';

const require = createRequire(import.meta.url);
const app = express();
const publicDir = fileURLToPath(new URL('./public', import.meta.url));
app.use('/named', named(publicDir));
app.use(serveStatic(publicDir));
app.use((req, res) => res.status(404).type('text/plain').send('consumer 404'));
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({
    port: server.address().port,
    express: require('express/package.json').version,
    typeofDefault: typeof serveStatic,
    sameAsNamed: serveStatic === named,
    sameAsRequired: serveStatic === require('brisk-static'),
    resolved: import.meta.resolve('brisk-static'),
  }));
});
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); });
`;

const projects = { cjs: '', esm: '' };
const installedWith = { cjs: '', esm: '' };
const apps: RunningApp[] = [];

beforeAll(async () => {
  packed = await packedPackage();
  projects.cjs = makeProject('cjs-express4-consumer', 'commonjs');
  writeFileSync(join(projects.cjs, 'app.js'), CJS_APP);
  installedWith.cjs = await installTarball(projects.cjs, packed, 'npm');
  linkPackage(projects.cjs, 'express4', 'express');

  projects.esm = makeProject('esm-express5-consumer', 'module');
  writeFileSync(join(projects.esm, 'app.js'), ESM_APP);
  installedWith.esm = await installTarball(projects.esm, packed, 'npm');
  linkPackage(projects.esm, 'express', 'express');
}, 180_000);

afterAll(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  work.remove();
});

describe('the packed tarball', () => {
  it('contains the built entry points and declarations, and no sources or tests', () => {
    const files = packed.files;
    expect(packed.listing).toEqual(files.map((path) => `package/${path}`));
    // One implementation (index.cjs), the ES module entry over it (index.js, through esm-bridge.cjs), the command.
    expect(files.filter((path) => /\.[cm]?js$/.test(path))).toEqual(['dist/cli.js', 'dist/esm-bridge.cjs', 'dist/index.cjs', 'dist/index.js']);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/index.d.ts', 'dist/index.d.cts']));
    // Every declaration the ES module types reach has a CommonJS twin for the `require` types.
    const esmDeclarations = files.filter((path) => path.endsWith('.d.ts') && path !== 'dist/cli.d.ts');
    const cjsDeclarations = files.filter((path) => path.endsWith('.d.cts'));
    expect(cjsDeclarations).toEqual(esmDeclarations.map((path) => path.replace(/\.d\.ts$/, '.d.cts')));
    const stray = files.filter((path) => !path.startsWith('dist/') && !/^(package\.json|README(\.md)?|LICENSE)$/i.test(path));
    expect(stray).toEqual([]);
    // Source maps would point at src/, which is not shipped.
    expect(files.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(files.filter((path) => /^(src|test|fixtures|bench|scripts)\//.test(path) || /\.test(-d)?\.[cm]?[jt]s$/.test(path))).toEqual([]);
  });

  it('declares its runtime dependencies and points exports at dist: import and require, each with its types', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(packed.manifest).toMatchObject({
      name: 'brisk-static',
      type: 'module',
      main: './dist/index.cjs',
      types: './dist/index.d.cts',
      bin: { 'brisk-static': './dist/cli.js' },
      dependencies: manifest.dependencies,
    });
    expect(packed.manifest.exports).toEqual({
      '.': {
        import: { types: './dist/index.d.ts', default: './dist/index.js' },
        require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
      },
      './package.json': './package.json',
    });
  });
});

describe('a CommonJS Express 4 app', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(projects.cjs, 'app.js');
    apps.push(app);
  });

  it("require('brisk-static') gives the middleware factory, and .serveStatic / .default are the same function", () => {
    expect(app.info).toMatchObject({ typeofDefault: 'function', sameAsNamed: true, sameAsDefaultProperty: true });
    expect(String(app.info['express'])).toMatch(/^4\./);
    expect(app.info['resolved']).toBe(join(projects.cjs, 'node_modules', 'brisk-static', 'dist', 'index.cjs'));
  });

  it('serves a file through the default export', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/hello.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(HELLO)));
    expect(await res.text()).toBe(HELLO);
  });

  it('serves through the named export mounted under a prefix, index included', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/named/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe(INDEX);
  });

  it('falls through to the app on a miss', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/missing.txt`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('consumer 404');
  });

  it('printed nothing on stderr but warnings', () => {
    expect(nonWarningLines(app.stderr())).toEqual([]);
  });
});

describe('an ESM Express 5 app', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(projects.esm, 'app.js');
    apps.push(app);
  });

  it('the default and named imports are the same function, resolved from dist, and require() gives the same one', () => {
    expect(app.info).toMatchObject({ typeofDefault: 'function', sameAsNamed: true, sameAsRequired: true });
    expect(String(app.info['express'])).toMatch(/^5\./);
    expect(fileURLToPath(String(app.info['resolved']))).toBe(
      join(projects.esm, 'node_modules', 'brisk-static', 'dist', 'index.js'),
    );
  });

  it('serves a file through the default import', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/hello.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(HELLO)));
    expect(await res.text()).toBe(HELLO);
  });

  it('serves through the named import mounted under a prefix', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/named/hello.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe(HELLO);
  });

  it('redirects a mounted directory without its slash', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/named?x=1`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/named/?x=1');
    expect(await res.text()).toContain('Redirecting to /named/?x=1');
  });

  it('falls through to the app on a miss', async () => {
    const res = await get(`http://127.0.0.1:${app.info.port}/missing.txt`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('consumer 404');
  });

  it('printed nothing on stderr but warnings', () => {
    expect(nonWarningLines(app.stderr())).toEqual([]);
  });
});
