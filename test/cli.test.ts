/**
 * The `brisk-static` command (dist/cli.js, as the `bin` runs it) and its argument parser: serving, every flag
 * (`--spa[=FILE]`, `--etag content|weak|off`, `--cache`, `--max-age`, `--immutable`, `--dotfiles`,
 * `--extensions`, `--precompressed[=LIST]`) parsed and seen over HTTP, the log line per request (status and
 * body bytes for 200, HEAD, 304, 404, 206, pipelined and aborted responses) and `--quiet`, graceful shutdown on
 * SIGTERM/SIGINT (a slow download finishes byte for byte while new connections are refused; a second signal or
 * `--shutdown-timeout` forces the exit), and the plain one-line errors: bad values, a missing directory, a file
 * given as the directory, a port in use.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, get, tempDir } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const exec = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

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
  /** `performance.now()` in this process when the exit was seen. */
  readonly at: number;
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
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr, at: performance.now() });
    });
  });
}

interface Serving {
  readonly url: string;
  readonly port: number;
  readonly line: string;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** The request log lines printed so far. */
  logLines(): string[];
  /** Resolves once stdout matches `pattern` (rejects after `timeout` ms). */
  waitFor(pattern: RegExp, timeout?: number): Promise<void>;
  /** Resolves once `count` request log lines were printed. */
  waitForLogLines(count: number): Promise<string[]>;
  signal(name: NodeJS.Signals): void;
  readonly exited: Promise<Exit>;
  /** Sends SIGTERM and resolves with the exit. */
  stop(): Promise<Exit>;
}

/** A request log line: method, target, status (or "-"), body bytes, milliseconds, and "aborted" when cut short. */
const LOG_LINE = /^(\S+) (\S+) (\d{3}|-) (\d+) B (\d+\.\d) ms( aborted)?$/;

/** Starts the CLI as a server and waits for the line with its URL. */
function startCli(args: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr, at: performance.now() });
    }),
  );
  const logLines = (): string[] => stdout.split('\n').filter((line) => LOG_LINE.test(line));
  const until = (done: () => boolean, what: string, timeout: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (done()) {
        resolve();
        return;
      }
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        watchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`timed out waiting for ${what}; stdout: ${stdout}; stderr: ${stderr}`));
      }, timeout);
      watchers.add(check);
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cli did not print its URL; stdout: ${stdout}; stderr: ${stderr}`));
    }, 10_000);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`cli exited with ${exit.code} before serving; stderr: ${exit.stderr}`));
    });
    let serving = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const check of [...watchers]) check();
      if (serving) return;
      const match = /^Serving .* at (http:\/\/\S+:(\d+)\/)\n/m.exec(stdout);
      if (match?.[1] === undefined) return;
      serving = true;
      clearTimeout(timer);
      resolve({
        url: match[1],
        port: Number(match[2]),
        line: match[0].trimEnd(),
        stdout: () => stdout,
        logLines,
        waitFor: (pattern, timeout = 5000) => until(() => pattern.test(stdout), String(pattern), timeout),
        waitForLogLines: async (count) => {
          await until(() => logLines().length >= count, `${count} log lines`, 5000);
          return logLines();
        },
        signal: (name) => {
          child.kill(name);
        },
        exited,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
}

/** Starts the CLI with `args`, runs `body` against it, stops it, and checks that it exited cleanly. */
async function withCli(args: string[], body: (server: Serving) => Promise<void>): Promise<Exit> {
  const server = await startCli(args);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
  const exit = await server.exited;
  expect(exit.code).toBe(0);
  expect(exit.stderr).toBe('');
  return exit;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const bytes = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer());

beforeAll(async () => {
  if (!distIsFresh()) await exec('npm', ['run', 'build'], { cwd: ROOT });
}, 120_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** A small site: an app shell, a second shell, pages for `--extensions`, an asset, a dotfile, a large file. */
const SITE = {
  'index.html': '<!doctype html><title>app</title>\n',
  'app.html': '<!doctype html><title>other shell</title>\n',
  'about.html': 'about, html\n',
  'about.htm': 'about, htm\n',
  'todo.txt': '- groceries\n',
  '.env': 'SECRET=1\n',
  'assets/app.js': 'console.log("app");\n',
} as const;
/** Larger than every buffer between the server and a client that stops reading (loopback rmem + wmem). */
const BIG_SIZE = 48 * 1024 * 1024;
let site: ReturnType<typeof tempDir>;
let big: Buffer;

beforeAll(() => {
  site = tempDir('brisk-static-cli-site-');
  mkdirSync(join(site.path, 'assets'));
  for (const [name, text] of Object.entries(SITE)) writeFileSync(join(site.path, name), text);
  big = randomBytes(BIG_SIZE);
  writeFileSync(join(site.path, 'big.bin'), big);
});
afterAll(() => site.remove());

const HTML = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

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

describe('flags reach serveStatic: defaults, with no flag', () => {
  it('no SPA fallback, weak ETags, max-age=0, dotfiles ignored, no extensions', async () => {
    await withCli([site.path, '-p', '0'], async (server) => {
      const deep = await get(`${server.url}inbox/42`, { headers: HTML });
      expect(deep.status).toBe(404);
      expect(await deep.text()).toContain('<pre>Not Found</pre>');

      const asset = await get(`${server.url}assets/app.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('etag')).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=0');
      expect(await asset.text()).toBe(SITE['assets/app.js']);

      const dotfile = await get(`${server.url}.env`);
      expect(dotfile.status).toBe(404);
      expect(await dotfile.text()).not.toContain('SECRET');

      const about = await get(`${server.url}about`);
      expect(about.status).toBe(404);
      expect(await about.text()).toContain('<pre>Not Found</pre>');
    });
  });
});

describe('flags reach serveStatic: --spa --etag content --max-age 1d --immutable --dotfiles deny --extensions html', () => {
  let server: Serving;
  beforeAll(async () => {
    server = await startCli([site.path, '-p', '0', '--spa', '--etag', 'content', '--max-age', '1d', '--immutable', '--dotfiles', 'deny', '--extensions', 'html']);
  });
  afterAll(async () => {
    const exit = await server.stop();
    expect(exit.code).toBe(0);
  });

  it('--spa: a deep link that is a page navigation gets index.html, no-cache (despite --max-age), Vary: Accept', async () => {
    const res = await get(`${server.url}inbox/42`, { headers: HTML });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('vary')).toBe('Accept');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(SITE['index.html'])));
    expect(await res.text()).toBe(SITE['index.html']);
  });

  it('--spa: the document asked for by name is no-cache too', async () => {
    const res = await get(`${server.url}index.html`, { headers: HTML });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toBe(SITE['index.html']);
  });

  it('--spa: a missing file with an extension and a JSON fetch stay 404', async () => {
    const chunk = await get(`${server.url}assets/chunk-0badc0de.js`, { headers: HTML });
    expect(chunk.status).toBe(404);
    expect(chunk.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(await chunk.text()).toContain('<pre>Not Found</pre>');
    const api = await get(`${server.url}api/users`, { headers: { Accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(await api.text()).toContain('<pre>Not Found</pre>');
  });

  it('--etag content: a strong ETag, the base64url SHA-256 of the bytes, revalidated with 304', async () => {
    const expected = `"${createHash('sha256').update(SITE['assets/app.js']).digest('base64url')}"`;
    const res = await get(`${server.url}assets/app.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(expected);
    expect(await res.text()).toBe(SITE['assets/app.js']);
    const again = await get(`${server.url}assets/app.js`, { headers: { 'If-None-Match': expected } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(expected);
    expect(await again.text()).toBe('');
  });

  it('--etag content: a strong ETag makes If-Range work (206)', async () => {
    const tag = `"${createHash('sha256').update(big).digest('base64url')}"`;
    const res = await get(`${server.url}big.bin`, { headers: { Range: 'bytes=100-199', 'If-Range': tag } });
    expect(res.status).toBe(206);
    expect(res.headers.get('etag')).toBe(tag);
    expect(res.headers.get('content-range')).toBe(`bytes 100-199/${BIG_SIZE}`);
    expect((await bytes(res)).equals(big.subarray(100, 200))).toBe(true);
  });

  it('--max-age 1d --immutable: Cache-Control public, max-age=86400, immutable on assets', async () => {
    const res = await get(`${server.url}todo.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
    expect(await res.text()).toBe(SITE['todo.txt']);
  });

  it('--dotfiles deny: 403', async () => {
    const res = await get(`${server.url}.env`);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    const text = await res.text();
    expect(text).toContain('<pre>Forbidden</pre>');
    expect(text).not.toContain('SECRET');
  });

  it('--extensions html: /about serves about.html', async () => {
    const res = await get(`${server.url}about`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe(SITE['about.html']);
  });
});

describe('flags reach serveStatic: the other values', () => {
  it('--spa=app.html --etag off --dotfiles allow --extensions htm,html --max-age 3600000', async () => {
    await withCli(
      [site.path, '-p', '0', '--spa=app.html', '--etag', 'off', '--dotfiles', 'allow', '--extensions', 'htm,html', '--max-age', '3600000'],
      async (server) => {
        const deep = await get(`${server.url}settings/profile`, { headers: HTML });
        expect(deep.status).toBe(200);
        expect(deep.headers.get('cache-control')).toBe('no-cache');
        expect(deep.headers.get('etag')).toBeNull();
        expect(await deep.text()).toBe(SITE['app.html']);

        const dotfile = await get(`${server.url}.env`);
        expect(dotfile.status).toBe(200);
        expect(await dotfile.text()).toBe(SITE['.env']);

        // htm is tried first, as listed.
        const about = await get(`${server.url}about`);
        expect(about.status).toBe(200);
        expect(await about.text()).toBe(SITE['about.htm']);

        const asset = await get(`${server.url}todo.txt`);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('etag')).toBeNull();
        expect(asset.headers.get('cache-control')).toBe('public, max-age=3600');
        expect(await asset.text()).toBe(SITE['todo.txt']);
      },
    );
  });

  it('--etag weak --dotfiles ignore --max-age=2h', async () => {
    await withCli([site.path, '-p', '0', '--etag', 'weak', '--dotfiles', 'ignore', '--max-age=2h'], async (server) => {
      const asset = await get(`${server.url}todo.txt`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('etag')).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=7200');
      expect(await asset.text()).toBe(SITE['todo.txt']);
      const dotfile = await get(`${server.url}.env`);
      expect(dotfile.status).toBe(404);
      expect(await dotfile.text()).not.toContain('SECRET');
    });
  });

  it('--cache: a rewritten file is answered from memory until the entry is revalidated (1 s)', async () => {
    const dir = tempDir('brisk-static-cli-cache-');
    try {
      const file = join(dir.path, 'note.txt');
      writeFileSync(file, 'first version\n');
      for (const args of [[], ['--cache']]) {
        writeFileSync(file, 'first version\n');
        await withCli([dir.path, '-p', '0', ...args], async (server) => {
          const first = await get(`${server.url}note.txt`);
          expect(first.status).toBe(200);
          expect(await first.text()).toBe('first version\n');
          writeFileSync(file, 'second, longer version\n');
          utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
          const second = await get(`${server.url}note.txt`);
          expect(second.status).toBe(200);
          if (args.length === 0) {
            expect(await second.text()).toBe('second, longer version\n');
            return;
          }
          // The remembered body with its own Content-Length: stale, never torn.
          expect(second.headers.get('content-length')).toBe(String('first version\n'.length));
          expect(await second.text()).toBe('first version\n');
          await sleep(1200);
          const third = await get(`${server.url}note.txt`);
          expect(third.status).toBe(200);
          expect(await third.text()).toBe('second, longer version\n');
        });
      }
    } finally {
      dir.remove();
    }
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

interface Download {
  /** Resolves with the status and headers once the first body bytes arrived; reading is then paused. */
  readonly started: Promise<{ status: number; headers: IncomingHttpHeaders }>;
  /** Reads on, `chunkDelay` ms between chunks (0: as fast as they come). */
  resume(chunkDelay: number): void;
  /** Destroys the connection from the client's side. */
  abort(): void;
  /** Bytes received so far. */
  received(): number;
  /** Resolves when the response ended or was cut: the body, whether it was complete, and when it ended. */
  readonly ended: Promise<{ body: Buffer; complete: boolean; at: number }>;
}

/** A GET whose body is read only when and as fast as the test says: a slow client. */
function download(url: string, agent: Agent | false = false): Download {
  const chunks: Buffer[] = [];
  let received = 0;
  let delay = -1;
  let response: import('node:http').IncomingMessage | undefined;
  let resolveStarted!: (value: { status: number; headers: IncomingHttpHeaders }) => void;
  let rejectStarted!: (error: Error) => void;
  let resolveEnded!: (value: { body: Buffer; complete: boolean; at: number }) => void;
  const started = new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  const ended = new Promise<{ body: Buffer; complete: boolean; at: number }>((resolve) => (resolveEnded = resolve));
  const req = request(url, { agent }, (res) => {
    response = res;
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (delay !== 0) res.pause();
      if (received === chunk.length) resolveStarted({ status: res.statusCode ?? 0, headers: res.headers });
      else if (delay > 0) setTimeout(() => res.resume(), delay);
    });
    res.on('error', () => {});
    res.on('close', () => resolveEnded({ body: Buffer.concat(chunks), complete: res.complete, at: performance.now() }));
  });
  req.on('error', (error) => {
    rejectStarted(error);
    resolveEnded({ body: Buffer.concat(chunks), complete: false, at: performance.now() });
  });
  req.end();
  return {
    started,
    resume: (chunkDelay) => {
      delay = chunkDelay;
      response?.resume();
    },
    abort: () => req.destroy(),
    received: () => received,
    ended,
  };
}

/** Resolves with the error code of a TCP connection attempt to `port` (or 'connected'). */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('one log line per request', () => {
  it('method, target, status, body bytes and ms for 200, HEAD, 304, 404 and 206, in order', async () => {
    const exit = await withCli([site.path, '-p', '0'], async (server) => {
      const ok = await get(`${server.url}todo.txt?v=2`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe(SITE['todo.txt']);
      const tag = ok.headers.get('etag') as string;

      const head = await get(`${server.url}todo.txt`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(SITE['todo.txt'].length));
      expect(await head.text()).toBe('');

      const notModified = await get(`${server.url}todo.txt`, { headers: { 'If-None-Match': tag } });
      expect(notModified.status).toBe(304);
      expect(await notModified.text()).toBe('');

      const miss = await get(`${server.url}nope.txt`);
      expect(miss.status).toBe(404);
      const missLength = Number(miss.headers.get('content-length'));
      expect((await bytes(miss)).length).toBe(missLength);

      const partial = await get(`${server.url}big.bin`, { headers: { Range: 'bytes=1000-1999' } });
      expect(partial.status).toBe(206);
      expect((await bytes(partial)).equals(big.subarray(1000, 2000))).toBe(true);

      const lines = await server.waitForLogLines(5);
      expect(lines.map((line) => line.replace(/ \d+\.\d ms/, ' T ms'))).toEqual([
        `GET /todo.txt?v=2 200 ${SITE['todo.txt'].length} B T ms`,
        'HEAD /todo.txt 200 0 B T ms',
        'GET /todo.txt 304 0 B T ms',
        `GET /nope.txt 404 ${missLength} B T ms`,
        'GET /big.bin 206 1000 B T ms',
      ]);
      expect(missLength).toBeGreaterThan(0);
    });
    // The URL line, then exactly one line per request, all on stdout.
    expect(exit.stdout.split('\n').filter(Boolean)).toHaveLength(6);
  });

  it('pipelined requests on one connection each log their own bytes', async () => {
    await withCli([site.path, '-p', '0'], async (server) => {
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1');
        let data = '';
        socket.setEncoding('latin1');
        socket.on('connect', () =>
          socket.write(
            'GET /todo.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /assets/app.js HTTP/1.1\r\nHost: x\r\n\r\nHEAD /about.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          ),
        );
        socket.on('data', (chunk: string) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expect(raw.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(3);
      expect(raw).toContain(`\r\n\r\n${SITE['todo.txt']}HTTP/1.1 200 OK`);
      expect(raw).toContain(`\r\n\r\n${SITE['assets/app.js']}HTTP/1.1 200 OK`);
      const lines = await server.waitForLogLines(3);
      expect(lines.map((line) => line.replace(/ \d+\.\d ms/, ' T ms'))).toEqual([
        `GET /todo.txt 200 ${SITE['todo.txt'].length} B T ms`,
        `GET /assets/app.js 200 ${SITE['assets/app.js'].length} B T ms`,
        'HEAD /about.html 200 0 B T ms',
      ]);
    });
  });

  it('a download cut by the client logs "aborted" and the bytes that left, fewer than the file', async () => {
    await withCli([site.path, '-p', '0'], async (server) => {
      const slow = download(`${server.url}big.bin`);
      const { status, headers } = await slow.started;
      expect(status).toBe(200);
      expect(headers['content-length']).toBe(String(BIG_SIZE));
      // Let the server fill every buffer between it and the stalled client.
      await sleep(300);
      const received = slow.received();
      slow.abort();
      const ended = await slow.ended;
      expect(ended.complete).toBe(false);
      expect(big.subarray(0, ended.body.length).equals(ended.body)).toBe(true);
      const [line] = await server.waitForLogLines(1);
      const match = LOG_LINE.exec(line as string);
      expect(match?.slice(1, 4)).toEqual(['GET', '/big.bin', '200']);
      expect(match?.[6]).toBe(' aborted');
      const sent = Number(match?.[4]);
      expect(sent).toBeGreaterThanOrEqual(received);
      expect(sent).toBeLessThan(BIG_SIZE);
    });
  });

  it('--quiet (and -q) prints the URL and no log line', async () => {
    for (const flag of ['--quiet', '-q']) {
      const exit = await withCli([site.path, '-p', '0', flag], async (server) => {
        const ok = await get(`${server.url}todo.txt`);
        expect(ok.status).toBe(200);
        expect(await ok.text()).toBe(SITE['todo.txt']);
        const miss = await get(`${server.url}nope.txt`);
        expect(miss.status).toBe(404);
        expect(await miss.text()).toContain('Not Found');
        const head = await get(`${server.url}todo.txt`, { method: 'HEAD' });
        expect(head.status).toBe(200);
        expect(await head.text()).toBe('');
        await sleep(200);
      });
      expect(exit.stdout).toMatch(/^Serving \S+ at http:\/\/127\.0\.0\.1:\d+\/\n$/);
    }
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM: new connections are refused, a slow download on a kept-alive connection finishes byte for byte, then exit 0', async () => {
    const server = await startCli([site.path, '-p', '0']);
    const agent = new Agent({ keepAlive: true });
    try {
      const slow = download(`${server.url}big.bin`, agent);
      const { status, headers } = await slow.started;
      expect(status).toBe(200);
      expect(headers['content-length']).toBe(String(BIG_SIZE));
      expect(headers.connection).toBe('keep-alive');

      server.signal('SIGTERM');
      await server.waitFor(/^Stopping: waiting for 1 response\(s\) to finish; a second signal exits at once$/m);
      expect(await connectOutcome(server.port)).toBe('ECONNREFUSED');
      // Still serving the download: not exited, nothing logged for it yet.
      expect(await Promise.race([server.exited.then(() => 'exited'), sleep(300).then(() => 'running')])).toBe('running');
      expect(server.logLines()).toEqual([]);

      slow.resume(1);
      const ended = await slow.ended;
      expect(ended.complete).toBe(true);
      expect(ended.body.length).toBe(BIG_SIZE);
      expect(sha256(ended.body)).toBe(sha256(big));

      const exit = await server.exited;
      expect(exit.code).toBe(0);
      expect(exit.stderr).toBe('');
      // The kept-alive connection is closed once the download is done, well before Node's 5 s keep-alive timeout.
      expect(exit.at - ended.at).toBeLessThan(3000);
      expect(server.logLines().map((line) => line.replace(/ \d+\.\d ms/, ' T ms'))).toEqual([`GET /big.bin 200 ${BIG_SIZE} B T ms`]);
    } finally {
      agent.destroy();
      await server.stop();
    }
  });

  it('SIGINT with an idle kept-alive connection open exits 0 at once', async () => {
    const server = await startCli([site.path, '-p', '0']);
    const agent = new Agent({ keepAlive: true });
    try {
      const first = download(`${server.url}todo.txt`, agent);
      first.resume(0);
      const ended = await first.ended;
      expect(ended.body.toString()).toBe(SITE['todo.txt']);
      expect(ended.complete).toBe(true);
      await server.waitForLogLines(1);
      const signalled = performance.now();
      server.signal('SIGINT');
      const exit = await server.exited;
      expect(exit.code).toBe(0);
      expect(exit.stderr).toBe('');
      expect(exit.at - signalled).toBeLessThan(3000);
      expect(exit.stdout).not.toContain('Stopping');
    } finally {
      agent.destroy();
      await server.stop();
    }
  });

  it('a second signal exits 1 at once, cutting the download', async () => {
    const server = await startCli([site.path, '-p', '0']);
    try {
      const slow = download(`${server.url}big.bin`);
      expect((await slow.started).status).toBe(200);
      server.signal('SIGTERM');
      await server.waitFor(/^Stopping: /m);
      server.signal('SIGTERM');
      const exit = await server.exited;
      expect(exit.code).toBe(1);
      expect(exit.stderr).toBe('brisk-static: second signal; exiting with 1 response(s) unfinished\n');
      slow.resume(0);
      const ended = await slow.ended;
      expect(ended.complete).toBe(false);
      expect(ended.body.length).toBeLessThan(BIG_SIZE);
      expect(big.subarray(0, ended.body.length).equals(ended.body)).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('--shutdown-timeout 300: a download still running after 300 ms is cut, exit 1', async () => {
    const server = await startCli([site.path, '-p', '0', '--shutdown-timeout', '300']);
    try {
      const slow = download(`${server.url}big.bin`);
      expect((await slow.started).status).toBe(200);
      const signalled = performance.now();
      server.signal('SIGTERM');
      const exit = await server.exited;
      expect(exit.code).toBe(1);
      expect(exit.stderr).toBe('brisk-static: responses still running after 300 ms; exiting with 1 response(s) unfinished\n');
      expect(exit.at - signalled).toBeGreaterThanOrEqual(290);
      expect(exit.at - signalled).toBeLessThan(5000);
      slow.resume(0);
      const ended = await slow.ended;
      expect(ended.complete).toBe(false);
      expect(ended.body.length).toBeLessThan(BIG_SIZE);
    } finally {
      await server.stop();
    }
  });
});

describe('failing to start', () => {
  it('a missing directory: one line, exit 2', async () => {
    const exit = await runCli(['./nope', '-p', '0']);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toBe('brisk-static: directory not found: ./nope\n');
  });

  it('a file given as the directory: one line, exit 2', async () => {
    const exit = await runCli(['package.json', '-p', '0']);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toBe('brisk-static: not a directory: package.json\n');
  });

  it('a port in use: one line, exit 1', async () => {
    const taken = createNetServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const exit = await runCli(['fixtures', '--port', String(port)]);
      expect(exit.code).toBe(1);
      expect(exit.stdout).toBe('');
      expect(exit.stderr).toBe(`brisk-static: port ${port} is in use on 127.0.0.1\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('bad arguments and --help', () => {
  it('rejects --port abc with exit code 2, the reason and the usage on stderr', async () => {
    const exit = await runCli(['fixtures', '--port', 'abc']);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toMatch(/^brisk-static: --port must be an integer from 0 to 65535, got "abc"\n/);
    expect(exit.stderr).toContain('Usage: brisk-static [dir] [options]');
  });

  it.each([
    [['--port', '70000'], /--port must be an integer from 0 to 65535, got "70000"/],
    [['a', 'b'], /expected one directory, got 2/],
    [['--nope'], /--nope/],
    [['--precompressed=deflate'], /^brisk-static: --precompressed takes a comma-separated list of br, zstd, gzip, got "deflate"\n/],
    [['--precompressed=br,br'], /^brisk-static: --precompressed lists "br" twice\n/],
    [['--precompressed', 'br'], /^brisk-static: --precompressed takes its value after "=" \(--precompressed=br\)/],
    [['--etag', 'strong'], /^brisk-static: --etag takes content, weak or off, got "strong"\n/],
    [['--etag'], /^brisk-static: .*--etag/],
    [['--dotfiles', 'hide'], /^brisk-static: --dotfiles takes allow, deny or ignore, got "hide"\n/],
    [['--extensions', '.html'], /^brisk-static: --extensions takes a comma-separated list of extensions without their dot \(html,htm\), got "\.html"\n/],
    [['--spa', 'app.html'], /^brisk-static: --spa takes its value after "=" \(--spa=app\.html\); for a directory of that name write \.\/app\.html\n/],
    [['--shutdown-timeout', 'soon'], /^brisk-static: --shutdown-timeout takes milliseconds or an ms string such as 10s, got "soon"\n/],
    // Refused by the library (its TypeError), named by the flag.
    [['fixtures', '--max-age', '1 fortnight'], /^brisk-static: --max-age: maxAge string "1 fortnight" is not understood; use milliseconds or an ms string such as '1d'\n/],
    [['fixtures', '--max-age=soon'], /^brisk-static: --max-age: maxAge string "soon" is not understood/],
    [['fixtures', '--spa=../outside.html'], /^brisk-static: --spa: spa option "\.\.\/outside\.html" must name a file inside root\n/],
  ])('rejects %j with exit code 2', async (args, message) => {
    const exit = await runCli(args);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toMatch(/^brisk-static: /);
    expect(exit.stderr).toMatch(message);
    expect(exit.stderr).toContain('\n\nUsage: brisk-static [dir]');
    expect(exit.stderr).not.toMatch(/^\s+at /m);
  });

  it.each([['--help'], ['-h']])('%s prints the usage on stdout and exits 0', async (flag) => {
    const exit = await runCli([flag]);
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe('');
    expect(exit.stdout).toMatch(/^Usage: brisk-static \[dir\] \[options\]\n/);
    for (const name of ['--port, -p', '--host, -H', '--spa[=FILE]', '--etag MODE', '--cache', '--max-age AGE', '--immutable', '--dotfiles MODE', '--extensions LIST', '--precompressed[=LIST]', '--quiet, -q', '--shutdown-timeout T', '--help, -h']) {
      expect(exit.stdout).toContain(`  ${name} `);
    }
  });
});

describe('parseCli', () => {
  let parseCli: typeof import('../src/cli.js').parseCli;
  const listeners = { before: { SIGINT: 0, SIGTERM: 0 }, after: { SIGINT: 0, SIGTERM: 0 } };
  const servers = { before: 0, after: 0 };
  const countServers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap').length;
  const DEFAULTS = { root: '.', port: 8080, host: '127.0.0.1', quiet: false, shutdownTimeout: 10_000, options: {} };

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
    [[], {}],
    [['public'], { root: 'public' }],
    [['public', '--port', '3000'], { root: 'public', port: 3000 }],
    [['--port=0', 'public'], { root: 'public', port: 0 }],
    [['-p', '65535', '-H', '::1', 'dir'], { root: 'dir', port: 65535, host: '::1' }],
    [['--host', '0.0.0.0'], { host: '0.0.0.0' }],
    [['--quiet'], { quiet: true }],
    [['-q', 'dir'], { root: 'dir', quiet: true }],
    [['--shutdown-timeout', '2500'], { shutdownTimeout: 2500 }],
    [['--shutdown-timeout=1m'], { shutdownTimeout: 60_000 }],
    [['--shutdown-timeout', '0'], { shutdownTimeout: 0 }],
  ])('parses %j', (argv, expected) => {
    expect(parseCli(argv)).toStrictEqual({ ...DEFAULTS, ...expected });
  });

  it.each([
    [['--spa'], '.', { spa: true }],
    // Bare, the flag takes no value: the next argument is still the directory.
    [['--spa', 'dist'], 'dist', { spa: true }],
    [['--spa=app.html', 'dist'], 'dist', { spa: 'app.html' }],
    [['--spa=shell/index.html'], '.', { spa: 'shell/index.html' }],
    [['--etag', 'content'], '.', { etag: 'content' }],
    [['--etag=weak'], '.', { etag: true }],
    [['--etag', 'off'], '.', { etag: false }],
    [['--cache'], '.', { cache: true }],
    [['--max-age', '1d'], '.', { maxAge: '1d' }],
    [['--max-age', '86400000'], '.', { maxAge: 86_400_000 }],
    [['--max-age=1 fortnight'], '.', { maxAge: '1 fortnight' }],
    [['--immutable', '--max-age', '1y'], '.', { immutable: true, maxAge: '1y' }],
    [['--dotfiles', 'allow'], '.', { dotfiles: 'allow' }],
    [['--dotfiles', 'deny'], '.', { dotfiles: 'deny' }],
    [['--dotfiles=ignore'], '.', { dotfiles: 'ignore' }],
    [['--extensions', 'html'], '.', { extensions: ['html'] }],
    [['--extensions', 'html,htm', 'site'], 'site', { extensions: ['html', 'htm'] }],
    [['--precompressed'], '.', { precompressed: true }],
    [['public', '--precompressed'], 'public', { precompressed: true }],
    [['--precompressed', 'public'], 'public', { precompressed: true }],
    [['--precompressed', './br'], './br', { precompressed: true }],
    [['--precompressed=br,zstd,gzip'], '.', { precompressed: ['br', 'zstd', 'gzip'] }],
    [['--precompressed=gzip,br', 'public'], 'public', { precompressed: ['gzip', 'br'] }],
    [['--precompressed=zstd'], '.', { precompressed: ['zstd'] }],
    // The last one given wins, as for every other flag.
    [['--precompressed=br', '--precompressed'], '.', { precompressed: true }],
    [['--precompressed', '--precompressed=gzip'], '.', { precompressed: ['gzip'] }],
    [['--spa=app.html', '--spa'], '.', { spa: true }],
    [['--etag', 'off', '--etag', 'content'], '.', { etag: 'content' }],
    [['--', '--precompressed'], '--precompressed', {}],
    [['--', '--spa'], '--spa', {}],
    [
      ['site', '--spa', '--etag', 'content', '--cache', '--max-age', '1d', '--immutable', '--dotfiles', 'deny', '--extensions', 'html', '--precompressed'],
      'site',
      { spa: true, etag: 'content', cache: true, maxAge: '1d', immutable: true, dotfiles: 'deny', extensions: ['html'], precompressed: true },
    ],
  ])('parses %j: root %j, options %j', (argv, root, options) => {
    expect(parseCli(argv)).toStrictEqual({ ...DEFAULTS, root, options });
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
    [['--spa', 'index.html'], '--spa takes its value after "=" (--spa=index.html); for a directory of that name write ./index.html'],
    [['--spa', 'shell/App.HTM'], '--spa takes its value after "=" (--spa=shell/App.HTM); for a directory of that name write ./shell/App.HTM'],
    [['--etag', 'strong'], '--etag takes content, weak or off, got "strong"'],
    [['--etag', 'true'], '--etag takes content, weak or off, got "true"'],
    [['--etag='], '--etag takes content, weak or off, got ""'],
    [['--dotfiles', 'hide'], '--dotfiles takes allow, deny or ignore, got "hide"'],
    [['--dotfiles', 'DENY'], '--dotfiles takes allow, deny or ignore, got "DENY"'],
    [['--extensions', '.html'], '--extensions takes a comma-separated list of extensions without their dot (html,htm), got ".html"'],
    [['--extensions', 'html,'], '--extensions takes a comma-separated list of extensions without their dot (html,htm), got "html,"'],
    [['--extensions='], '--extensions takes a comma-separated list of extensions without their dot (html,htm), got ""'],
    [['--extensions', 'html, htm'], '--extensions takes a comma-separated list of extensions without their dot (html,htm), got "html, htm"'],
    [['--shutdown-timeout', 'soon'], '--shutdown-timeout takes milliseconds or an ms string such as 10s, got "soon"'],
    [['--shutdown-timeout='], '--shutdown-timeout takes milliseconds or an ms string such as 10s, got ""'],
    [['--shutdown-timeout=-5s'], '--shutdown-timeout takes milliseconds or an ms string such as 10s, got "-5s"'],
  ])('rejects %j with a TypeError', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(new TypeError(message));
  });

  it.each([[['--nope']], [['--port']], [['--help=yes']], [['--etag']], [['--max-age']], [['--cache=yes']], [['--immutable=1']], [['-q=1']]])(
    'rejects %j (parseArgs) with a TypeError',
    (argv) => {
      expect(() => parseCli(argv)).toThrow(TypeError);
    },
  );

  // `--port "$PORT"` with PORT unset must not quietly pick a random port.
  it.each([[['--port', '']], [['--port', ' ']]])('rejects the blank port %j', (argv) => {
    expect(() => parseCli(argv)).toThrow(TypeError);
  });
});
