/**
 * The published artifact, loaded the way consumers load it: the package is packed (`npm pack`, which runs the
 * `prepare` build), the tarball is installed into throwaway projects outside this repository, and real apps
 * import it by name, so resolution goes through package.json `exports` and `dist/`, never `src/`.
 *
 * The pack runs in a staged copy of the package (package.json, README, tsconfigs, src), so building does not
 * rewrite this repository's `dist/` while other test files (cli.test.ts) execute from it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, tempDir } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_MODULES = join(ROOT, 'node_modules');
const exec = promisify(execFile);

/** The environment of every child: nothing that could make modules resolve from this repository. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  delete env['NODE_PATH'];
  return env;
}

async function run(command: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(command, args, { cwd, env: childEnv(), maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

/** A public/ directory that the consumer apps serve. */
const HELLO = 'hello from the packed package\n';
const INDEX = '<!doctype html><title>consumer</title>\n';

interface PackedFile {
  readonly path: string;
}

const work = tempDir('brisk-static-consumers-');
let tarball = '';
let packedFiles: string[] = [];
let tarListing: string[] = [];
let tarballManifest: { dependencies?: Record<string, string> } = {};

/**
 * Installs the tarball into `project` as a consumer would. `npm install --offline` takes the runtime
 * dependencies from the local npm cache; when the cache lacks them, the tarball is unpacked by hand and
 * exactly the dependencies it declares are linked from this repository, so an undeclared import still fails.
 */
async function installTarball(project: string): Promise<'npm' | 'manual'> {
  try {
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', tarball], project);
    return 'npm';
  } catch (error) {
    if (!/ENOTCACHED|ENOTFOUND|EAI_AGAIN|offline/i.test(String((error as Error).message))) throw error;
  }
  const target = join(project, 'node_modules', 'brisk-static');
  mkdirSync(target, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], project);
  for (const name of Object.keys(tarballManifest.dependencies ?? {})) {
    const link = join(project, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(NODE_MODULES, name), link, 'dir');
  }
  return 'manual';
}

/** Links a framework from this repository's node_modules under the consumer's `node_modules/<as>`. */
function linkPackage(project: string, from: string, as: string): void {
  const link = join(project, 'node_modules', as);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(join(NODE_MODULES, from), link, 'dir');
}

function makeProject(name: string, type: 'commonjs' | 'module'): string {
  const project = join(work.path, name);
  mkdirSync(join(project, 'public'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }, null, 2));
  writeFileSync(join(project, 'public', 'hello.txt'), HELLO);
  writeFileSync(join(project, 'public', 'index.html'), INDEX);
  return project;
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
    resolved: import.meta.resolve('brisk-static'),
  }));
});
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); });
`;

/** Type-checks against the installed package's declarations (`exports` -> `types`). */
const TS_CONSUMER = `import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Stats } from 'node:fs';
import express, { type RequestHandler } from 'express';
import serveStatic, { serveStatic as named, type ServeStaticOptions } from 'brisk-static';

const handler: RequestHandler = serveStatic('public', { maxAge: '1d', dotfiles: 'deny' });
const plain: (req: IncomingMessage, res: ServerResponse) => void = named('public');
const options: ServeStaticOptions = {
  setHeaders(res: ServerResponse, path: string, stat: Stats) {
    res.setHeader('X-Size', String(stat.size) + path);
  },
};
// @ts-expect-error dotfiles takes 'allow' | 'deny' | 'ignore' (fails if the declarations resolved to any)
serveStatic('public', { dotfiles: 'maybe' });
express().use(handler, plain, serveStatic('public', options));
`;

interface RunningApp {
  readonly child: ChildProcess;
  readonly info: Record<string, unknown> & { port: number };
  stderr(): string;
  stop(): Promise<number | null>;
}

function startApp(project: string, file: string): Promise<RunningApp> {
  const child = spawn(process.execPath, [file], { cwd: project, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not print its port in time; stderr:\n${stderr}`));
    }, 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code} before listening; stderr:\n${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      try {
        const info = JSON.parse(stdout.slice(0, newline)) as RunningApp['info'];
        resolve({ child, info, stderr: () => stderr, stop });
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** stderr minus Node's warning lines (require(esm) may print an ExperimentalWarning; that is allowed). */
function nonWarningLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => !/^\(node:\d+\) \w*Warning: /.test(line) && !line.startsWith('(Use `node --trace-warnings'));
}

const projects = { cjs: '', esm: '' };
const installedWith = { cjs: '', esm: '' };
const apps: RunningApp[] = [];

beforeAll(async () => {
  const stage = join(work.path, 'stage');
  mkdirSync(stage);
  for (const entry of ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'src']) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(NODE_MODULES, join(stage, 'node_modules'), 'dir');

  // `npm pack` runs `prepare` (= npm run build), so dist/ is built fresh from src/ before packing.
  const packDir = join(work.path, 'pack');
  mkdirSync(packDir);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packDir], stage);
  const report = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as { filename: string; files: PackedFile[] }[];
  const packed = report[0];
  if (packed === undefined) throw new Error(`npm pack reported nothing:\n${stdout}`);
  tarball = join(packDir, packed.filename);
  packedFiles = packed.files.map((file) => file.path).sort();
  tarListing = (await run('tar', ['-tzf', tarball], packDir)).stdout
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .sort();
  tarballManifest = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/package.json'], packDir)).stdout) as typeof tarballManifest;

  projects.cjs = makeProject('cjs-express4-consumer', 'commonjs');
  writeFileSync(join(projects.cjs, 'app.js'), CJS_APP);
  installedWith.cjs = await installTarball(projects.cjs);
  linkPackage(projects.cjs, 'express4', 'express');

  projects.esm = makeProject('esm-express5-consumer', 'module');
  writeFileSync(join(projects.esm, 'app.js'), ESM_APP);
  installedWith.esm = await installTarball(projects.esm);
  linkPackage(projects.esm, 'express', 'express');
}, 180_000);

afterAll(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  work.remove();
});

describe('the packed tarball', () => {
  it('contains the built entry points and declarations, and no sources or tests', () => {
    expect(tarListing).toEqual(packedFiles.map((path) => `package/${path}`));
    expect(packedFiles).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js']));
    const stray = packedFiles.filter((path) => !path.startsWith('dist/') && !/^(package\.json|README(\.md)?|LICENSE)$/i.test(path));
    expect(stray).toEqual([]);
    // Source maps would point at src/, which is not shipped.
    expect(packedFiles.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(packedFiles.filter((path) => /^(src|test|fixtures|bench)\//.test(path) || /\.test(-d)?\.[cm]?[jt]s$/.test(path))).toEqual([]);
  });

  it('declares its runtime dependencies and points exports at dist', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      dependencies: Record<string, string>;
    };
    expect(tarballManifest).toMatchObject({
      name: 'brisk-static',
      type: 'module',
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
      dependencies: manifest.dependencies,
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
    expect(app.info['resolved']).toBe(join(projects.cjs, 'node_modules', 'brisk-static', 'dist', 'index.js'));
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

  it('the default and named imports are the same function, resolved from dist', () => {
    expect(app.info).toMatchObject({ typeofDefault: 'function', sameAsNamed: true });
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

describe('a TypeScript consumer', () => {
  it('type-checks against the declarations found through exports', async () => {
    const project = projects.esm;
    linkPackage(project, '@types', '@types');
    writeFileSync(join(project, 'check.ts'), TS_CONSUMER);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(NODE_MODULES, 'typescript', 'bin', 'tsc');
    const { stdout } = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--traceResolution'], project);
    expect(stdout).toMatch(
      /Module name 'brisk-static' was successfully resolved to '[^']*\/node_modules\/brisk-static\/dist\/index\.d\.ts'/,
    );
  }, 60_000);
});
