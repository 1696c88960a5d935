/**
 * The packed package (test/packaging/packed.ts: the tarball of this run) loaded by the tools the ecosystem loads
 * serve-static with, each in a throwaway project outside this repository whose dependencies are linked from this
 * repository's node_modules (no network):
 *
 * - publint and @arethetypeswrong/cli (`attw`, on the tarball `attw --pack` would make) find no problems;
 * - Jest 29 and Jest 30 run a CommonJS suite (supertest, Express 4, `require('brisk-static')`), serve-static beside
 *   it as the control;
 * - vitest runs an ES module suite (`import` by name);
 * - esbuild bundles a CommonJS and an ES module app, each to `cjs` and `esm`, and every bundle serves files beside
 *   node_modules and alone in a directory with no node_modules above it (every dependency inlined);
 * - TypeScript projects in every module mode type-check (declarations included: skipLibCheck off) and the code
 *   they emit runs;
 * - in one process, `require` and `import` meet one module instance (Node, and inside a bundle).
 *
 * The slow steps (Jest, vitest, tsc, attw) start together in beforeAll, two at a time (this machine has two
 * cores), and each test awaits the step it checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { build, type Message, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, tempDir } from './helpers.js';
import {
  installTarball,
  linkPackage,
  makeProject,
  NODE_MODULES,
  nonWarningLines,
  packedPackage,
  runStatus,
  startApp,
  type Packed,
  type RunningApp,
  type RunResult,
} from './packaging/packed.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURE = (name: string): string => readFileSync(join(HERE, 'packaging', name), 'utf8');

const HELLO = 'hello from the packed package\n';
/** Over 64 KiB, so brisk-static streams it (the file thread answers smaller files in one hop). */
const BIG = randomBytes(300 * 1024);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const PUBLIC_FILES = { 'public/hello.txt': HELLO, 'public/big.bin': BIG };

const work = tempDir('brisk-static-packaging-');
let packed: Packed;
const apps: RunningApp[] = [];

/** Runs `task`s at most `limit` at a time. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running < limit) running++;
    // A finishing task hands its slot straight to the next waiting one.
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next === undefined) running--;
      else next();
    }
  };
}
const slot = limiter(2);

/** Starts a slow step now; the test that checks it awaits the promise (a failure is reported there, not here). */
function started<T>(task: () => Promise<T>): Promise<T> {
  const promise = slot(task);
  promise.catch(() => undefined);
  return promise;
}

async function start(cwd: string, file: string): Promise<RunningApp> {
  const app = await startApp(cwd, file);
  apps.push(app);
  return app;
}

/** The first request starts brisk-static's file thread (100 ms later); the requests after it go through it. */
async function warmUp(base: string): Promise<void> {
  expect((await get(`${base}/hello.txt`)).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 300));
}

const steps: {
  publint?: Promise<RunResult>;
  attw?: Promise<RunResult>;
  jest29?: Promise<RunResult>;
  jest30?: Promise<RunResult>;
  vitest?: Promise<RunResult>;
  tsc: Map<string, Promise<RunResult>>;
} = { tsc: new Map() };

const projects = { jest: '', vitest: '', bundles: '' };
const tsProjects = new Map<string, string>();

// ---------------------------------------------------------------------------------------------------------------
// TypeScript consumers

/** Every module mode a TypeScript project compiles in, and which declarations `brisk-static` must resolve to. */
interface TsMode {
  readonly name: string;
  readonly type: 'commonjs' | 'module';
  readonly compilerOptions: Readonly<Record<string, unknown>>;
  readonly declarations: 'index.d.ts' | 'index.d.cts';
  /** Also type-check an Express app against @types/express. */
  readonly express?: boolean;
}

const TS_MODES: readonly TsMode[] = [
  { name: 'node16, CommonJS', type: 'commonjs', compilerOptions: { module: 'node16', moduleResolution: 'node16' }, declarations: 'index.d.cts', express: true },
  { name: 'node16, ES module', type: 'module', compilerOptions: { module: 'node16', moduleResolution: 'node16' }, declarations: 'index.d.ts' },
  { name: 'nodenext, CommonJS', type: 'commonjs', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' }, declarations: 'index.d.cts' },
  {
    name: 'nodenext, ES module, verbatimModuleSyntax',
    type: 'module',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', verbatimModuleSyntax: true },
    declarations: 'index.d.ts',
    express: true,
  },
  {
    name: 'commonjs, moduleResolution node10',
    type: 'commonjs',
    compilerOptions: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
    declarations: 'index.d.cts',
  },
  {
    name: 'commonjs, moduleResolution node10, no esModuleInterop',
    type: 'commonjs',
    compilerOptions: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: false },
    declarations: 'index.d.cts',
  },
  { name: 'bundler, module esnext', type: 'module', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' }, declarations: 'index.d.ts' },
  {
    name: 'bundler, module preserve, verbatimModuleSyntax',
    type: 'module',
    compilerOptions: { module: 'preserve', moduleResolution: 'bundler', verbatimModuleSyntax: true },
    declarations: 'index.d.ts',
  },
];

/** Compiled in every mode: default, named and type imports; the server it starts is requested by the test. */
const TS_MAIN = `import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import serveStatic, {
  serveStatic as named,
  serveStaticFetch,
  type DotfilesMode,
  type FetchHandler,
  type ServeStaticOptions,
  type StaticMiddleware,
} from 'brisk-static';

const dotfiles: DotfilesMode = 'ignore';
const options: ServeStaticOptions = {
  dotfiles,
  maxAge: '1h',
  setHeaders(res: ServerResponse, path: string) {
    res.setHeader('X-Served-Name', path.slice(path.lastIndexOf('/') + 1));
  },
};
/** Never called: the type errors the declarations must catch (an unused directive fails, so the types are not any). */
export function typeErrors(): void {
  // @ts-expect-error dotfiles takes 'allow' | 'deny' | 'ignore'
  named('public', { dotfiles: 'maybe' });
  // @ts-expect-error the root is required
  serveStatic();
}

const files: StaticMiddleware = serveStatic(join(process.cwd(), 'public'), options);
const viaFetch: FetchHandler = serveStaticFetch(join(process.cwd(), 'public'), {
  setHeaders(headers: Headers, path: string) {
    headers.set('X-Served-Name', path.slice(path.lastIndexOf('/') + 1));
  },
});
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  files(req, res, () => {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('app 404');
  });
});
server.listen(0, '127.0.0.1', async () => {
  const address = server.address();
  const fetched = await viaFetch(new Request('http://localhost/hello.txt'));
  console.log(JSON.stringify({
    port: typeof address === 'object' && address !== null ? address.port : -1,
    sameAsNamed: serveStatic === named,
    fetched: fetched === undefined ? null : [fetched.status, fetched.headers.get('x-served-name'), await fetched.text()],
  }));
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
`;

/** CommonJS projects only: the \`export =\` shape, as \`import x = require()\` sees it. */
const TS_REQUIRE_STYLE = `import serveStatic = require('brisk-static');

const options: serveStatic.ServeStaticOptions = { index: false, maxAge: 1000 };
const viaProperty: serveStatic.StaticMiddleware = serveStatic.serveStatic('public', options);
const viaDefault: serveStatic.StaticMiddleware = serveStatic.default('public');
/** Never called: a type error the declarations must catch. */
export function typeErrors(): void {
  // @ts-expect-error maxAge is milliseconds or an ms string
  serveStatic('public', { maxAge: true });
}
console.log(JSON.stringify({
  typeofExport: typeof serveStatic,
  same: serveStatic.serveStatic === serveStatic && serveStatic.default === serveStatic,
  middlewares: [typeof viaProperty, typeof viaDefault],
}));
`;

/** Type-checked only: the middleware fits Express's handler types (res typed as Express's Response). */
const TS_EXPRESS = `import express, { type RequestHandler, type Response } from 'express';
import serveStatic, { type ServeStaticOptions } from 'brisk-static';

const options: ServeStaticOptions<Response> = {
  setHeaders(res) {
    res.set('X-Frame-Options', 'deny');
  },
};
const handler: RequestHandler = serveStatic('public', options);
express().use(handler, serveStatic('public'));
`;

function tsProject(mode: TsMode): string {
  const project = join(work.path, `ts-${mode.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
  const files = ['main.ts', ...(mode.type === 'commonjs' ? ['require-style.ts'] : []), ...(mode.express ? ['express-app.ts'] : [])];
  makeProject(project, mode.type, {
    ...PUBLIC_FILES,
    'main.ts': TS_MAIN,
    'require-style.ts': TS_REQUIRE_STYLE,
    'express-app.ts': TS_EXPRESS,
    'tsconfig.json': JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          strict: true,
          // The package's declarations are checked too: that is where a wrong module format shows (TS1479, TS1541).
          skipLibCheck: false,
          types: ['node'],
          rootDir: '.',
          outDir: 'out',
          noEmitOnError: true,
          ...mode.compilerOptions,
        },
        files,
      },
      null,
      2,
    ),
  });
  // Only what a consumer would install: @types/node (and @types/express for the Express check).
  if (mode.express) linkPackage(project, '@types');
  else linkPackage(project, '@types/node');
  return project;
}

// ---------------------------------------------------------------------------------------------------------------

beforeAll(async () => {
  packed = await packedPackage();
  const bin = (path: string): string => join(NODE_MODULES, path);

  steps.publint = started(() => runStatus(process.execPath, [bin('publint/src/cli.js'), 'run', packed.tarball, '--strict'], work.path));
  steps.attw = started(() =>
    runStatus(process.execPath, [bin('@arethetypeswrong/cli/dist/index.js'), packed.tarball, '--format', 'json', '--no-definitely-typed'], work.path),
  );

  projects.jest = makeProject(join(work.path, 'jest-consumer'), 'commonjs', { ...PUBLIC_FILES, '__tests__/static.test.js': FIXTURE('jest-suite.cjs') });
  await installTarball(projects.jest, packed, 'unpack');
  linkPackage(projects.jest, 'express4', 'express');
  linkPackage(projects.jest, 'supertest');
  linkPackage(projects.jest, 'serve-static');
  const jest = (version: '29' | '30', entry: string): Promise<RunResult> =>
    started(() =>
      runStatus(
        process.execPath,
        [
          bin(entry),
          '--ci',
          '--runInBand',
          '--rootDir',
          projects.jest,
          '--cacheDirectory',
          join(projects.jest, `.jest-cache-${version}`),
          '--json',
          '--outputFile',
          join(projects.jest, `jest${version}.json`),
        ],
        projects.jest,
      ),
    );
  steps.jest29 = jest('29', 'jest29/bin/jest.js');
  steps.jest30 = jest('30', 'jest/bin/jest.js');

  projects.vitest = makeProject(join(work.path, 'vitest-consumer'), 'module', { ...PUBLIC_FILES, 'static.test.js': FIXTURE('vitest-suite.mjs') });
  await installTarball(projects.vitest, packed, 'unpack');
  linkPackage(projects.vitest, 'vitest');
  steps.vitest = started(() =>
    runStatus(
      process.execPath,
      [bin('vitest/vitest.mjs'), 'run', '--root', projects.vitest, '--reporter=json', `--outputFile=${join(projects.vitest, 'vitest.json')}`],
      projects.vitest,
    ),
  );

  const tsc = bin('typescript/bin/tsc');
  for (const mode of TS_MODES) {
    const project = tsProject(mode);
    tsProjects.set(mode.name, project);
    await installTarball(project, packed, 'unpack');
    steps.tsc.set(mode.name, started(() => runStatus(process.execPath, [tsc, '-p', 'tsconfig.json', '--listFiles'], project)));
  }

  projects.bundles = makeProject(join(work.path, 'bundle-consumer'), 'module', {
    ...PUBLIC_FILES,
    'app.mjs': FIXTURE('bundle-app.mjs'),
    'app.cjs': FIXTURE('bundle-app.cjs'),
  });
  await installTarball(projects.bundles, packed, 'unpack');
  linkPackage(projects.bundles, 'serve-static');
}, 180_000);

afterAll(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  // Nothing may still be running in the temp dir when it is removed.
  await Promise.allSettled([steps.publint, steps.attw, steps.jest29, steps.jest30, steps.vitest, ...steps.tsc.values()]);
  work.remove();
});

describe('the published contents', () => {
  it('publint finds nothing to report (warnings count as errors)', async () => {
    const result = await steps.publint!;
    const stdout = stripVTControlCharacters(result.stdout);
    expect(result.stderr).toBe('');
    expect(stdout).toMatch(/^All good!$/m);
    expect(stdout).not.toMatch(/^(Errors|Warnings|Suggestions):/m);
    expect(result.code).toBe(0);
  });

  it('attw (strict profile) finds no problems, and each resolution mode gets the right types and code', async () => {
    const result = await steps.attw!;
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      problems: Record<string, unknown>;
      analysis: {
        entrypoints: Record<
          string,
          { resolutions: Record<string, { resolution?: { fileName: string }; implementationResolution?: { fileName: string }; visibleProblems?: unknown[] }> }
        >;
      };
    };
    expect(report.problems).toEqual({});
    const resolutions = report.analysis.entrypoints['.']?.resolutions ?? {};
    const seen = Object.fromEntries(
      Object.entries(resolutions).map(([kind, entry]) => [
        kind,
        { types: entry.resolution?.fileName, code: entry.implementationResolution?.fileName, problems: entry.visibleProblems ?? [] },
      ]),
    );
    const at = (file: string): string => `/node_modules/brisk-static/dist/${file}`;
    expect(seen).toEqual({
      node10: { types: at('index.d.cts'), code: at('index.cjs'), problems: [] },
      'node16-cjs': { types: at('index.d.cts'), code: at('index.cjs'), problems: [] },
      'node16-esm': { types: at('index.d.ts'), code: at('index.js'), problems: [] },
      bundler: { types: at('index.d.ts'), code: at('index.js'), problems: [] },
    });
  });

  it('dist/index.js is only a view of dist/index.cjs: one implementation for both module systems', () => {
    const dist = join(projects.bundles, 'node_modules', 'brisk-static', 'dist');
    const entry = readFileSync(join(dist, 'index.js'), 'utf8');
    expect([...entry.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((match) => match[1])).toEqual(['./esm-bridge.cjs']);
    const bridge = readFileSync(join(dist, 'esm-bridge.cjs'), 'utf8');
    expect([...bridge.matchAll(/\brequire\('([^']+)'\)/g)].map((match) => match[1])).toEqual(['./index.cjs']);
    expect(entry.length + bridge.length).toBeLessThan(1000);
    expect(readFileSync(join(dist, 'index.cjs'), 'utf8')).toContain('module.exports = module.exports.default;');
  });
});

interface JestReport {
  success: boolean;
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

const JEST_TESTS = [
  "require('brisk-static') is the middleware factory from the CommonJS build, with .serveStatic and .default",
  ...['brisk-static', 'serve-static'].flatMap((name) =>
    [
      '200 with the file, its type, length and validators',
      '304 for a matching If-None-Match, without a body',
      'a miss falls through to the next middleware',
      'a file over 64 KiB arrives byte-identical',
    ].map((test) => `${name} in Express 4 ${test}`),
  ),
];

describe.each([
  { version: '29', step: () => steps.jest29! },
  { version: '30', step: () => steps.jest30! },
])('Jest $version, a CommonJS suite with supertest and Express 4', ({ version, step }) => {
  it('passes every test, for brisk-static and for serve-static (the control)', async () => {
    const result = await step();
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).not.toMatch(/Cannot use import statement|Must use import to load ES Module|SyntaxError/);
    const reportFile = join(projects.jest, `jest${version}.json`);
    expect(existsSync(reportFile), output).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as JestReport;
    const tests = report.testResults.flatMap((file) => file.assertionResults.map((test) => [test.fullName, test.status]));
    expect(tests).toEqual(JEST_TESTS.map((name) => [name, 'passed']));
    expect(report).toMatchObject({ success: true, numTotalTests: JEST_TESTS.length, numPassedTests: JEST_TESTS.length, numFailedTests: 0 });
    expect(result.stderr).toContain(`Tests:       ${JEST_TESTS.length} passed, ${JEST_TESTS.length} total`);
    expect(result.code).toBe(0);
  });
});

describe('vitest, an ES module suite', () => {
  it('passes every test', async () => {
    const result = await steps.vitest!;
    const reportFile = join(projects.vitest, 'vitest.json');
    expect(existsSync(reportFile), `${result.stdout}\n${result.stderr}`).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as JestReport;
    const tests = report.testResults.flatMap((file) => file.assertionResults.map((test) => [test.fullName, test.status]));
    expect(tests).toEqual(
      [
        'the default and named imports are the factory, and require() in the same process gives the same one',
        'on node:http 200 with the file, its type and length',
        'on node:http 304 for a matching If-None-Match',
        'on node:http a miss falls through to next()',
        'on node:http a file over 64 KiB arrives byte-identical',
      ].map((name) => [name, 'passed']),
    );
    expect(report).toMatchObject({ success: true, numPassedTests: 5, numFailedTests: 0 });
    expect(result.code).toBe(0);
  });
});

/** Requests one running app (a bundle, an emitted program) makes: brisk-static's answers, serve-static's beside them. */
async function checkServes(app: RunningApp, options: { control: boolean }): Promise<void> {
  const base = `http://127.0.0.1:${app.info.port}`;
  await warmUp(base);

  const hello = await get(`${base}/hello.txt`);
  expect(hello.status).toBe(200);
  expect(hello.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(hello.headers.get('content-length')).toBe(String(Buffer.byteLength(HELLO)));
  expect(await hello.text()).toBe(HELLO);

  const big = await get(`${base}/big.bin`);
  expect(big.status).toBe(200);
  expect(big.headers.get('content-length')).toBe(String(BIG.length));
  expect(sha256(new Uint8Array(await big.arrayBuffer()))).toBe(sha256(BIG));

  const missing = await get(`${base}/missing.txt`);
  expect(missing.status).toBe(404);
  expect(await missing.text()).toBe('app 404');

  if (options.control) {
    const names = ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control', 'accept-ranges'];
    for (const [path, ours] of [
      ['/hello.txt', hello],
      ['/big.bin', big],
    ] as const) {
      const reference = await get(`${base}/control${path}`);
      expect(reference.status).toBe(200);
      expect(Object.fromEntries(names.map((name) => [name, ours.headers.get(name)]))).toEqual(
        Object.fromEntries(names.map((name) => [name, reference.headers.get(name)])),
      );
      await reference.arrayBuffer();
    }
  }
  expect(nonWarningLines(app.stderr())).toEqual([]);
}

/** What each app reports about the package as it loaded it (bundle-app.cjs also imports it dynamically). */
const LOADED: Record<string, Record<string, unknown>> = {
  'app.cjs': { typeofDefault: 'function', sameInstance: true },
  'app.mjs': { typeofDefault: 'function', sameAsNamed: true },
};

describe('Node, no bundler', () => {
  it.each(['app.cjs', 'app.mjs'])('%s loads the package by name and serves as serve-static does', async (file) => {
    const app = await start(projects.bundles, file);
    expect(app.info).toMatchObject(LOADED[file]!);
    await checkServes(app, { control: true });
  });
});

/**
 * ES module output needs a `require` for CommonJS code that requires Node builtins (every dependency here, and
 * serve-static's): esbuild's documented banner, with the import renamed so it cannot clash with the app's own.
 */
const CREATE_REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

describe.each([
  { source: 'app.cjs', format: 'cjs' as const },
  { source: 'app.cjs', format: 'esm' as const },
  { source: 'app.mjs', format: 'cjs' as const },
  { source: 'app.mjs', format: 'esm' as const },
])('esbuild: $source bundled as $format (platform node)', ({ source, format }) => {
  const outfile = `${source.replace('.', '-')}.${format === 'esm' ? 'mjs' : 'cjs'}`;
  let metafile: Metafile;
  let warnings: Message[];

  beforeAll(async () => {
    const result = await build({
      absWorkingDir: projects.bundles,
      entryPoints: [source],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format,
      outfile: join('out', outfile),
      metafile: true,
      logLevel: 'silent',
      ...(format === 'esm' ? { banner: { js: CREATE_REQUIRE_BANNER } } : {}),
    });
    metafile = result.metafile;
    warnings = result.warnings;
  });

  it('bundles without warnings, inlining the package and each of its dependencies', () => {
    expect(warnings.map((warning) => `${warning.location?.file}: ${warning.text}`)).toEqual([]);
    const inputs = Object.keys(metafile.inputs);
    // app.mjs imports (the ES module entry over index.cjs); app.cjs requires (index.cjs) and imports dynamically.
    expect(inputs.filter((path) => path.includes('node_modules/brisk-static/')).sort()).toEqual([
      'node_modules/brisk-static/dist/esm-bridge.cjs',
      'node_modules/brisk-static/dist/index.cjs',
      'node_modules/brisk-static/dist/index.js',
    ]);
    const missing = Object.keys(packed.manifest.dependencies ?? {}).filter(
      (name) => !inputs.some((path) => path.includes(`node_modules/${name}/`)),
    );
    expect(missing).toEqual([]);
  });

  it('runs beside node_modules and serves as serve-static does (app.cjs: require and import meet one instance)', async () => {
    const app = await start(projects.bundles, join('out', outfile));
    expect(app.info).toMatchObject(LOADED[source]!);
    await checkServes(app, { control: true });
  });

  it('runs alone, in a directory with no node_modules above it', async () => {
    const alone = mkdtempSync(join(tmpdir(), 'brisk-static-bundle-'));
    try {
      cpSync(join(projects.bundles, 'out', outfile), join(alone, outfile));
      cpSync(join(projects.bundles, 'public'), join(alone, 'public'), { recursive: true });
      for (let dir = alone; ; dir = dirname(dir)) {
        expect(existsSync(join(dir, 'node_modules')), `${dir}/node_modules`).toBe(false);
        if (dirname(dir) === dir) break;
      }
      const app = await start(alone, outfile);
      expect(app.info).toMatchObject(LOADED[source]!);
      await checkServes(app, { control: true });
      await app.stop();
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  });
});

describe.each(TS_MODES)('TypeScript, $name', (mode) => {
  const project = (): string => tsProjects.get(mode.name)!;

  it(`type-checks (skipLibCheck off) against ${mode.declarations}`, async () => {
    const result = await steps.tsc.get(mode.name)!;
    expect(result.stdout.split('\n').filter((line) => /error TS\d+/.test(line))).toEqual([]);
    expect(result.code).toBe(0);
    const ours = result.stdout.split('\n').filter((line) => line.includes('/node_modules/brisk-static/'));
    expect(ours).toContain(join(project(), 'node_modules', 'brisk-static', 'dist', mode.declarations));
    // One format's declarations, never both.
    const other = mode.declarations === 'index.d.ts' ? '.d.cts' : '.d.ts';
    expect(ours.filter((line) => line.endsWith(other))).toEqual([]);
  });

  it('the emitted program runs and serves a file', async () => {
    await steps.tsc.get(mode.name);
    const app = await start(project(), join('out', 'main.js'));
    expect(app.info['sameAsNamed']).toBe(true);
    expect(app.info['fetched']).toEqual([200, 'hello.txt', HELLO]);
    const base = `http://127.0.0.1:${app.info.port}`;
    const res = await get(`${base}/hello.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(res.headers.get('x-served-name')).toBe('hello.txt');
    expect(await res.text()).toBe(HELLO);
    const missing = await get(`${base}/missing.txt`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('app 404');
    expect(nonWarningLines(app.stderr())).toEqual([]);

    if (mode.type === 'commonjs') {
      const required = await runStatus(process.execPath, [join('out', 'require-style.js')], project());
      expect(required.stderr).toBe('');
      expect(JSON.parse(required.stdout)).toEqual({ typeofExport: 'function', same: true, middlewares: ['function', 'function'] });
    }
  });
});
