/**
 * Starting the apps in test/runtimes/ on Bun, Deno or Node from a vitest file, and ending them: the runtimes
 * installed from npm as devDependencies (Node is the one running the tests), how each is told to run a script
 * without touching the network or the repo's node_modules, and the handshake every app keeps (see
 * test/runtimes/common.mjs): once it listens it prints one JSON line on stdout, and it exits when its stdin
 * closes or its lifetime ends. Used by test/runtimes.test.ts and test/fetch.test.ts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The children load the built package (`npm run build` first), as its users do, not src/. */
export const DIST = join(REPO, 'dist', 'index.js');
/** The child exits by itself after this, whatever happens here. */
export const CHILD_LIFETIME_MS = 50_000;
/** A runtime's first start may compile and cache; past this the child is taken as hung. */
const READY_TIMEOUT_MS = 20_000;
/** How long a child may take to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 3_000;

export interface Runtime {
  readonly name: string;
  /** What the child reports as its runtime: proof the app ran there and not on the Node running the tests. */
  readonly reports: RegExp;
  readonly command: string;
  readonly args: (script: string) => string[];
}

export const BUN: Runtime = {
  name: 'Bun',
  reports: /^bun \d+\.\d+\.\d+/,
  command: join(REPO, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'),
  // `--no-install`: never auto-install a missing package from the registry.
  args: (script) => ['--no-install', script],
};

export const DENO: Runtime = {
  name: 'Deno',
  reports: /^deno \d+\.\d+\.\d+/,
  command: join(REPO, 'node_modules', '@deno', 'linux-x64-glibc', 'deno'),
  // Bare specifiers (`express`, and the package's own dependencies in dist/index.js) resolve from the
  // repo's package.json and its existing node_modules, which Deno must not touch; nothing remote.
  args: (script) => ['run', '-A', '--node-modules-dir=manual', '--no-remote', '--no-lock', '--cached-only', script],
};

export const NODE: Runtime = {
  name: 'Node',
  reports: /^node \d+\.\d+\.\d+/,
  command: process.execPath,
  args: (script) => [script],
};

/** No update checks, telemetry, prompts or registry traffic from any runtime. */
function childEnv(denoDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NO_COLOR: '1',
    DO_NOT_TRACK: '1',
    DENO_NO_UPDATE_CHECK: '1',
    DENO_NO_PROMPT: '1',
    DENO_DIR: denoDir,
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0',
  };
}

export interface Launched<First> {
  readonly process: ChildProcessWithoutNullStreams;
  /** The child's first line on stdout, parsed as JSON: what the app announced once it listened. */
  readonly first: First;
  /** Everything the child has written to stderr so far, for failure messages. */
  readonly stderr: () => string;
}

/**
 * Runs `script` with `args` on `runtime` from the repo, and resolves once the child has printed its first line
 * on stdout. Rejects, with the child's stderr, when the child cannot start, exits first, prints a line that is
 * not JSON, or prints nothing in 20 s (the child is killed in the last two cases). The type of the parsed line
 * is the caller's word for what the app prints: it is not checked.
 *
 * `denoDir` is Deno's cache (DENO_DIR): a temporary directory, so the user's own cache is neither read nor
 * written. Stop the child with `stop`.
 */
export function launch<First>(runtime: Runtime, script: string, args: readonly string[], denoDir: string): Promise<Launched<First>> {
  const child = spawn(runtime.command, [...runtime.args(script), ...args], {
    cwd: REPO,
    env: childEnv(denoDir),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const who = `${runtime.name} running ${basename(script)}`;
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    // Only the first outcome counts: a child that exits after its line is the test's business, not ours.
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(() => {
      settle(() => {
        child.kill('SIGKILL');
        reject(new Error(`${who} printed no line on stdout within ${String(READY_TIMEOUT_MS / 1000)} s; stderr: ${stderr}`));
      });
    }, READY_TIMEOUT_MS);
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, signal) => {
      settle(() => reject(new Error(`${who} exited (${String(code ?? signal)}) before printing a line on stdout; stderr: ${stderr}`)));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (settled) return;
      stdout += chunk.toString();
      const end = stdout.indexOf('\n');
      if (end === -1) return;
      const line = stdout.slice(0, end);
      settle(() => {
        let first: First;
        try {
          first = JSON.parse(line) as First;
        } catch {
          child.kill('SIGKILL');
          reject(new Error(`${who} printed a first line that is not JSON: ${line}; stderr: ${stderr}`));
          return;
        }
        resolve({ process: child, first, stderr: () => stderr });
      });
    });
  });
}

/**
 * Ends a child from `launch` (or anything holding one as `process`) and waits until it has exited: its stdin
 * closed first (the apps exit on that), then SIGTERM, then SIGKILL after 3 s. Nothing to do for `undefined`
 * (the child never started) or a child that has already exited.
 */
export async function stop(child: { readonly process: ChildProcessWithoutNullStreams } | undefined): Promise<void> {
  if (child === undefined || child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.process.once('exit', () => done()));
  child.process.stdin.end();
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
