/**
 * The published artifact, shared by test/consumers.test.ts and test/packaging.test.ts: the package is packed once
 * per test run (`npm pack`, which runs the `prepare` build) and every throwaway consumer project installs that
 * tarball, so resolution goes through package.json `exports` and `dist/`, never `src/`.
 *
 * The pack runs in a staged copy of the package (package.json, README, tsconfigs, scripts, src), so building does
 * not rewrite this repository's `dist/` while other test files execute from it. The two test files run in separate
 * worker processes; the first to get here packs, under a lock directory, into a directory named by the vitest run
 * (the workers' parent process) and the sources' hash; the other waits for it. Directories of finished runs are
 * removed by the next pack.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE_MODULES = join(ROOT, 'node_modules');
const execFileAsync = promisify(execFile);

/** What `npm pack` needs to build the package; their contents name the pack. */
const PACK_INPUTS = ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'src'];

/**
 * The environment of every child: nothing that could make modules resolve from this repository, and none of the
 * variables vitest sets for its workers (a vitest started inside a test would take them for its own).
 */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'NODE_OPTIONS' || name === 'NODE_PATH' || name.startsWith('VITEST') || name === 'TEST' || name === 'FORCE_COLOR') delete env[name];
  }
  // CI may force colours on; the tools' output is read as text here.
  env.NO_COLOR = '1';
  return env;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end and reports how it ended; never throws for a non-zero exit. */
export async function runStatus(command: string, args: readonly string[], cwd: string, timeout = 120_000): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024, timeout });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof code !== 'number') throw error;
    return { code, stdout: stdout ?? '', stderr: stderr ?? '' };
  }
}

/** Runs a command and returns its output; throws with both streams when it fails. */
export async function run(command: string, args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const result = await runStatus(command, args, cwd);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code} in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

export interface Packed {
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** Files as `npm pack --json` reported them, sorted. */
  readonly files: readonly string[];
  /** Files as `tar -t` lists them, sorted. */
  readonly listing: readonly string[];
  /** package/package.json from the tarball. */
  readonly manifest: {
    name?: string;
    type?: string;
    main?: string;
    types?: string;
    exports?: unknown;
    dependencies?: Record<string, string>;
    [key: string]: unknown;
  };
}

function hashInputs(): string {
  const hash = createHash('sha256');
  const add = (path: string): void => {
    const full = join(ROOT, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) add(join(path, name));
      return;
    }
    hash.update(`${path}\0`).update(readFileSync(full)).update('\0');
  };
  for (const input of PACK_INPUTS) add(input);
  return hash.digest('hex').slice(0, 16);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function packInto(directory: string): Promise<void> {
  const stage = join(directory, 'stage');
  mkdirSync(stage, { recursive: true });
  for (const entry of PACK_INPUTS) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(NODE_MODULES, join(stage, 'node_modules'), 'dir');
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', directory], stage);
  const report = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  const packed = report[0];
  if (packed === undefined) throw new Error(`npm pack reported nothing:\n${stdout}`);
  const tarball = join(directory, packed.filename);
  const listing = (await run('tar', ['-tzf', tarball], directory)).stdout
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .sort();
  const manifest = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/package.json'], directory)).stdout) as unknown;
  rmSync(stage, { recursive: true, force: true });
  writeFileSync(
    join(directory, 'packed.json'),
    JSON.stringify({ filename: packed.filename, files: packed.files.map((file) => file.path).sort(), listing, manifest }),
  );
}

function readPacked(directory: string): Packed | undefined {
  const file = join(directory, 'packed.json');
  if (!existsSync(file)) return undefined;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Omit<Packed, 'tarball'> & { filename: string };
  return { tarball: join(directory, saved.filename), files: saved.files, listing: saved.listing, manifest: saved.manifest };
}

let packing: Promise<Packed> | undefined;

/** The tarball of this run, packed by whichever test file asks first. */
export function packedPackage(): Promise<Packed> {
  packing ??= packOnce();
  return packing;
}

async function packOnce(): Promise<Packed> {
  // Vitest's workers are child processes (pool "forks") or threads of the vitest process ("threads").
  const runId = isMainThread ? process.ppid : process.pid;
  const base = join(tmpdir(), 'brisk-static-packs');
  mkdirSync(base, { recursive: true });
  const directory = join(base, `${runId}-${hashInputs()}`);
  const lock = `${directory}.lock`;
  const deadline = Date.now() + 170_000;
  for (;;) {
    const done = readPacked(directory);
    if (done !== undefined) return done;
    let owner = false;
    try {
      mkdirSync(lock);
      owner = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (owner) {
      try {
        for (const name of readdirSync(base)) {
          const pid = Number(name.split('-')[0]);
          if (Number.isInteger(pid) && pid !== runId && !isAlive(pid)) rmSync(join(base, name), { recursive: true, force: true });
        }
        const partial = `${directory}.partial`;
        rmSync(partial, { recursive: true, force: true });
        await packInto(partial);
        renameSync(partial, directory);
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for another test file to pack into ${directory}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Links a package from this repository's node_modules under the consumer's `node_modules/<as>`. */
export function linkPackage(project: string, from: string, as: string = from): void {
  const link = join(project, 'node_modules', as);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(join(NODE_MODULES, from), link, 'dir');
}

/**
 * Installs the tarball into `project`. `'npm'`: `npm install --offline`, as a consumer would, taking the runtime
 * dependencies from the local npm cache (falling back to `'unpack'` when the cache lacks them). `'unpack'`: the
 * tarball is unpacked into node_modules/brisk-static and exactly the dependencies it declares are linked from this
 * repository, so an undeclared import still fails.
 */
export async function installTarball(project: string, packed: Packed, how: 'npm' | 'unpack'): Promise<'npm' | 'unpack'> {
  if (how === 'npm') {
    const result = await runStatus(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', packed.tarball],
      project,
    );
    if (result.code === 0) return 'npm';
    if (!/ENOTCACHED|ENOTFOUND|EAI_AGAIN|offline/i.test(result.stdout + result.stderr)) {
      throw new Error(`npm install of the tarball failed in ${project}:\n${result.stdout}\n${result.stderr}`);
    }
  }
  const target = join(project, 'node_modules', 'brisk-static');
  mkdirSync(target, { recursive: true });
  await run('tar', ['-xzf', packed.tarball, '-C', target, '--strip-components=1'], project);
  for (const name of Object.keys(packed.manifest.dependencies ?? {})) linkPackage(project, name);
  return 'unpack';
}

/** Writes `files` (paths relative to `project`) and a package.json of the given module type. */
export function makeProject(
  project: string,
  type: 'commonjs' | 'module',
  files: Readonly<Record<string, string | Uint8Array>> = {},
): string {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: basename(project), version: '1.0.0', private: true, type }, null, 2));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(project, path)), { recursive: true });
    writeFileSync(join(project, path), content);
  }
  return project;
}

export interface RunningApp {
  readonly child: ChildProcess;
  /** The JSON object the app printed as its first line of stdout. */
  readonly info: Record<string, unknown> & { port: number };
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Starts `node <file>` in `cwd` and waits for the first line of stdout, a JSON object with at least `port`. */
export function startApp(cwd: string, file: string): Promise<RunningApp> {
  const child = spawn(process.execPath, [file], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
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
        child.kill('SIGKILL');
        reject(new Error(`${file} printed ${JSON.stringify(stdout)}; stderr:\n${stderr}`, { cause: error }));
      }
    });
  });
}

/** stderr minus Node's warning lines (an ExperimentalWarning, for one, is allowed). */
export function nonWarningLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => !/^\(node:\d+\) \w*Warning: /.test(line) && !line.startsWith('(Use `node --trace-warnings'));
}
