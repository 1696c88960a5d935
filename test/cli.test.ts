/**
 * The `brisk-static` command (dist/cli.js, as the `bin` runs it) and its argument parser: serving, stopping,
 * bad arguments, and `--precompressed[=LIST]` reaching `serveStatic` (sidecars served with it, not without).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, get, listen, tempDir } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const exec = promisify(execFile);

/** dist/ is usable when both entry points exist and are newer than every source file. */
function distIsFresh(): boolean {
  const outputs = [CLI, join(ROOT, 'dist', 'index.js')];
  if (!outputs.every((file) => existsSync(file))) return false;
  const built = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  return sources.every((file) => statSync(join(ROOT, 'src', file)).mtimeMs <= built);
}

const children = new Set<ChildProcess>();

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion (for the arguments that make it exit by itself). */
function runCli(args: string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} did not exit; stdout: ${stdout}; stderr: ${stderr}`));
    }, 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Serving {
  readonly url: string;
  readonly line: string;
  /** Sends SIGTERM and resolves with the exit. */
  stop(): Promise<Exit>;
}

/** Starts the CLI as a server and waits for the line with its URL. */
function startCli(args: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  const stop = (): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli did not print its URL; stdout: ${stdout}; stderr: ${stderr}`));
    }, 10_000);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`cli exited with ${exit.code} before serving; stderr: ${exit.stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^Serving .* at (http:\/\/\S+\/)\n/m.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve({ url: match[1], line: match[0].trimEnd(), stop });
    });
  });
}

beforeAll(async () => {
  if (!distIsFresh()) await exec('npm', ['run', 'build'], { cwd: ROOT });
}, 120_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('brisk-static <dir> --port 0', () => {
  let server: Serving;
  beforeAll(async () => {
    server = await startCli(['fixtures', '--port', '0']);
  });
  afterAll(() => server.stop());

  it('prints the URL it listens on, on 127.0.0.1 by default', () => {
    expect(server.line).toMatch(/^Serving fixtures at http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.url).not.toMatch(/:0\/$/);
  });

  it('serves a file', async () => {
    const res = await get(`${server.url}todo.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(statSync(join(FIXTURES, 'todo.txt')).size));
    expect(await res.text()).toBe('- groceries\n');
  });

  it('serves the index at /', async () => {
    const res = await get(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe(readFileSync(join(FIXTURES, 'index.html'), 'utf8'));
  });

  it('answers a miss itself with 404, as there is no next middleware', async () => {
    const res = await get(`${server.url}nope.txt`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(await res.text()).toContain('<pre>Not Found</pre>');
  });

  it('answers POST with 405 and Allow: GET, HEAD', async () => {
    const res = await get(`${server.url}todo.txt`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.text()).toBe('');
  });
});

describe('brisk-static <dir> --precompressed[=LIST]', () => {
  const SCRIPT = Buffer.from(`console.log(${JSON.stringify('brisk '.repeat(200))});\n`);
  const BROTLI = brotliCompressSync(SCRIPT);
  const GZIP = gzipSync(SCRIPT);
  const STYLE = 'body { color: #333 }\n';
  let dir: ReturnType<typeof tempDir>;

  beforeAll(() => {
    dir = tempDir('brisk-static-cli-');
    writeFileSync(join(dir.path, 'app.js'), SCRIPT);
    writeFileSync(join(dir.path, 'app.js.br'), BROTLI);
    writeFileSync(join(dir.path, 'app.js.gz'), GZIP);
    writeFileSync(join(dir.path, 'plain.css'), STYLE);
    // Sidecars newer than the file, so they are fresh whatever the file system's timestamp resolution.
    utimesSync(join(dir.path, 'app.js'), 1_700_000_000, 1_700_000_000);
    for (const name of ['app.js.br', 'app.js.gz']) utimesSync(join(dir.path, name), 1_700_000_100, 1_700_000_100);
  });
  afterAll(() => dir.remove());

  /** Starts the CLI on the temp dir with `flags`, asks for app.js and plain.css, and stops it. */
  async function ask(flags: string[]): Promise<{ script: Response; style: Response; exit: Exit }> {
    const server = await startCli([dir.path, '--port', '0', ...flags]);
    try {
      const script = await get(`${server.url}app.js`, { headers: { 'Accept-Encoding': 'gzip, br' } });
      const style = await get(`${server.url}plain.css`, { headers: { 'Accept-Encoding': 'gzip, br' } });
      return { script, style, exit: await server.stop() };
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  const bytes = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer());

  it('without the flag, serves app.js plain beside its sidecars, without Vary', async () => {
    const { script, style, exit } = await ask([]);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-encoding')).toBeNull();
    expect(script.headers.get('vary')).toBeNull();
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('content-length')).toBe(String(SCRIPT.length));
    expect((await bytes(script)).equals(SCRIPT)).toBe(true);
    expect(style.status).toBe(200);
    expect(style.headers.get('vary')).toBeNull();
    expect(await style.text()).toBe(STYLE);
    expect(exit.code).toBe(0);
  });

  it('--precompressed serves app.js.br (br before gzip) with Content-Encoding and Vary; plain.css as it is', async () => {
    const { script, style, exit } = await ask(['--precompressed']);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-encoding')).toBe('br');
    expect(script.headers.get('vary')).toBe('Accept-Encoding');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('content-length')).toBe(String(BROTLI.length));
    expect((await bytes(script)).equals(BROTLI)).toBe(true);
    expect(style.status).toBe(200);
    expect(style.headers.get('content-encoding')).toBeNull();
    expect(style.headers.get('vary')).toBeNull();
    expect(style.headers.get('content-length')).toBe(String(Buffer.byteLength(STYLE)));
    expect(await style.text()).toBe(STYLE);
    expect(exit.code).toBe(0);
  });

  it('--precompressed=gzip,br passes its order: the client takes both equally, gzip is sent', async () => {
    const { script, style, exit } = await ask(['--precompressed=gzip,br']);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-encoding')).toBe('gzip');
    expect(script.headers.get('vary')).toBe('Accept-Encoding');
    expect(script.headers.get('content-length')).toBe(String(GZIP.length));
    expect((await bytes(script)).equals(GZIP)).toBe(true);
    expect(style.status).toBe(200);
    expect(style.headers.get('content-encoding')).toBeNull();
    expect(await style.text()).toBe(STYLE);
    expect(exit.code).toBe(0);
  });

  it('--precompressed=zstd offers only zstd: app.js, with no .zst, is sent plain and without Vary', async () => {
    const { script, exit } = await ask(['--precompressed=zstd']);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-encoding')).toBeNull();
    expect(script.headers.get('vary')).toBeNull();
    expect(script.headers.get('content-length')).toBe(String(SCRIPT.length));
    expect((await bytes(script)).equals(SCRIPT)).toBe(true);
    expect(exit.code).toBe(0);
  });
});

describe('stopping and failing to start', () => {
  it('exits 0 on SIGTERM', async () => {
    const server = await startCli([FIXTURES, '-p', '0', '-H', '127.0.0.1']);
    const res = await get(`${server.url}todo.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('- groceries\n');
    const exit = await server.stop();
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('');
  });

  it('exits 1 with the reason when the port is taken', async () => {
    const taken = await listen((_req, res) => res.end());
    try {
      const exit = await runCli(['fixtures', '--port', String(taken.port)]);
      expect(exit.code).toBe(1);
      expect(exit.stderr).toMatch(/^brisk-static: .*EADDRINUSE/);
      expect(exit.stdout).toBe('');
    } finally {
      await taken.close();
    }
  });
});

describe('bad arguments and --help', () => {
  it('rejects --port abc with exit code 2, the reason and the usage on stderr', async () => {
    const exit = await runCli(['fixtures', '--port', 'abc']);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toMatch(/^brisk-static: --port must be an integer from 0 to 65535, got "abc"\n/);
    expect(exit.stderr).toContain('Usage: brisk-static [dir] [--port N] [--host H]');
  });

  it.each([
    [['--port', '70000'], /--port must be an integer from 0 to 65535, got "70000"/],
    [['a', 'b'], /expected one directory, got 2/],
    [['--nope'], /--nope/],
    [['--precompressed=deflate'], /^brisk-static: --precompressed takes a comma-separated list of br, zstd, gzip, got "deflate"\n/],
    [['--precompressed=br,br'], /^brisk-static: --precompressed lists "br" twice\n/],
    [['--precompressed', 'br'], /^brisk-static: --precompressed takes its value after "=" \(--precompressed=br\)/],
  ])('rejects %j with exit code 2', async (args, message) => {
    const exit = await runCli(args);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toMatch(/^brisk-static: /);
    expect(exit.stderr).toMatch(message);
    expect(exit.stderr).toContain('\n\nUsage: brisk-static [dir]');
  });

  it.each([['--help'], ['-h']])('%s prints the usage on stdout and exits 0', async (flag) => {
    const exit = await runCli([flag]);
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('');
    expect(exit.stdout).toMatch(/^Usage: brisk-static \[dir\] \[--port N\] \[--host H\] \[--precompressed\[=LIST\]\]\n/);
    expect(exit.stdout).toContain('--port, -p');
    expect(exit.stdout).toContain('--precompressed[=LIST]');
    expect(exit.stdout).toContain('--help, -h');
  });
});

describe('parseCli', () => {
  let parseCli: typeof import('../src/cli.js').parseCli;
  const listeners = { before: { SIGINT: 0, SIGTERM: 0 }, after: { SIGINT: 0, SIGTERM: 0 } };
  const servers = { before: 0, after: 0 };
  const countServers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap').length;

  beforeAll(async () => {
    listeners.before = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
    servers.before = countServers();
    ({ parseCli } = await import('../src/cli.js'));
    listeners.after = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
    servers.after = countServers();
  });

  it('importing the module starts no server and installs no signal handlers', () => {
    expect(typeof parseCli).toBe('function');
    expect(servers.after).toBe(servers.before);
    expect(listeners.after).toEqual(listeners.before);
  });

  it.each([
    [[], { root: '.', port: 8080, host: '127.0.0.1', precompressed: false }],
    [['public'], { root: 'public', port: 8080, host: '127.0.0.1', precompressed: false }],
    [['public', '--port', '3000'], { root: 'public', port: 3000, host: '127.0.0.1', precompressed: false }],
    [['--port=0', 'public'], { root: 'public', port: 0, host: '127.0.0.1', precompressed: false }],
    [['-p', '65535', '-H', '::1', 'dir'], { root: 'dir', port: 65535, host: '::1', precompressed: false }],
    [['--host', '0.0.0.0'], { root: '.', port: 8080, host: '0.0.0.0', precompressed: false }],
  ])('parses %j', (argv, expected) => {
    expect(parseCli(argv)).toStrictEqual(expected);
  });

  it.each([
    [['--precompressed'], '.', true],
    [['public', '--precompressed'], 'public', true],
    // Bare, the flag takes no value: the next argument is still the directory.
    [['--precompressed', 'public'], 'public', true],
    [['--precompressed', './br'], './br', true],
    [['--precompressed=br,zstd,gzip'], '.', ['br', 'zstd', 'gzip']],
    [['--precompressed=gzip,br', 'public'], 'public', ['gzip', 'br']],
    [['--precompressed=zstd'], '.', ['zstd']],
    // The last one given wins, as for every other flag.
    [['--precompressed=br', '--precompressed'], '.', true],
    [['--precompressed', '--precompressed=gzip'], '.', ['gzip']],
    [['--', '--precompressed'], '--precompressed', false],
  ])('parses %j: root %j, precompressed %j', (argv, root, precompressed) => {
    expect(parseCli(argv)).toStrictEqual({ root, port: 8080, host: '127.0.0.1', precompressed });
  });

  it.each([[['--help']], [['-h']], [['dir', '--port', '1', '-h']]])('%j asks for help', (argv) => {
    expect(parseCli(argv)).toBe('help');
  });

  it.each([
    [['--port', 'abc'], '--port must be an integer from 0 to 65535, got "abc"'],
    [['--port', '70000'], '--port must be an integer from 0 to 65535, got "70000"'],
    [['--port=-1'], '--port must be an integer from 0 to 65535, got "-1"'],
    [['--port', '1.5'], '--port must be an integer from 0 to 65535, got "1.5"'],
    [['a', 'b'], 'expected one directory, got 2'],
    [['--precompressed='], '--precompressed takes a comma-separated list of br, zstd, gzip, got ""'],
    [['--precompressed=deflate'], '--precompressed takes a comma-separated list of br, zstd, gzip, got "deflate"'],
    [['--precompressed=br,'], '--precompressed takes a comma-separated list of br, zstd, gzip, got "br,"'],
    [['--precompressed=br, gzip'], '--precompressed takes a comma-separated list of br, zstd, gzip, got "br, gzip"'],
    [['--precompressed=BR'], '--precompressed takes a comma-separated list of br, zstd, gzip, got "BR"'],
    [['--precompressed=true'], '--precompressed takes a comma-separated list of br, zstd, gzip, got "true"'],
    [['--precompressed=br,gzip,br'], '--precompressed lists "br" twice'],
    [['--precompressed', 'br,gzip'], '--precompressed takes its value after "=" (--precompressed=br,gzip); for a directory of that name write ./br,gzip'],
    [['dir', '--precompressed', 'zstd'], '--precompressed takes its value after "=" (--precompressed=zstd); for a directory of that name write ./zstd'],
  ])('rejects %j with a TypeError', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(new TypeError(message));
  });

  it.each([[['--nope']], [['--port']], [['--help=yes']]])('rejects %j (parseArgs) with a TypeError', (argv) => {
    expect(() => parseCli(argv)).toThrow(TypeError);
  });

  // `--port "$PORT"` with PORT unset must not quietly pick a random port.
  it.each([[['--port', '']], [['--port', ' ']]])('rejects the blank port %j', (argv) => {
    expect(() => parseCli(argv)).toThrow(TypeError);
  });
});
