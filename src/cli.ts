#!/usr/bin/env node
import { realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ms from 'ms';
import { serveStatic, type DotfilesMode, type PrecompressedEncoding } from './index.js';

const USAGE = `Usage: brisk-static [dir] [options]

Serves a directory over HTTP with brisk-static. Misses are answered 404.
  dir                    directory to serve (default: the current directory)
  --port, -p N           port to listen on (default: 8080; 0 picks a free one)
  --host, -H H           address to bind (default: 127.0.0.1)
  --spa[=FILE]           single-page app: a page navigation to a path that is no file gets FILE (default
                         index.html, after "=": --spa=app.html), with Cache-Control: no-cache
  --etag MODE            content: strong ETags from a SHA-256 digest of the bytes, the same on every machine;
                         weak: W/"size-mtime" ETags, as serve-static (the default); off: no ETag
  --cache                remember lookups and the bytes of small files (a changed file is seen within 1 s)
  --max-age AGE          Cache-Control max-age, in milliseconds or as an ms string (1d, 2h, 1y); default 0
  --immutable            add immutable to Cache-Control (with --max-age)
  --dotfiles MODE        names starting with a dot: allow, deny (403) or ignore (404, the default)
  --extensions LIST      extensions tried for a path without one, in order: --extensions html,htm
  --precompressed[=LIST] serve file.br / file.zst / file.gz built beside a file to clients that accept
                         them; alone: br,gzip; LIST: codings from br, zstd, gzip in the server's order of
                         preference, after "=" (--precompressed=zstd,br,gzip)
  --quiet, -q            no log line per request (the URL is still printed at start)
  --shutdown-timeout T   after SIGINT or SIGTERM, how long responses in flight may take to finish before the
                         process exits anyway with code 1, in ms or as an ms string (default: 10s); a second
                         signal exits at once
  --help, -h             show this text

Each request is logged on stdout when its response ends: method, request target, status, body bytes handed to
the socket (0 for HEAD and 304), milliseconds, and "aborted" when the connection closed before the response
was complete (status "-" if nothing was sent; the bytes are then what left the process, of which the client
may have received less):
  GET /app.js 200 1234 B 0.8 ms`;

/** What the command line asks for. `options` holds exactly the library options given as flags. */
export interface CliOptions {
  readonly root: string;
  readonly port: number;
  readonly host: string;
  readonly quiet: boolean;
  /** Milliseconds. */
  readonly shutdownTimeout: number;
  readonly options: Readonly<CliServeOptions>;
}

/** The subset of serveStatic's options that the flags set. */
export interface CliServeOptions {
  spa?: true | string;
  etag?: boolean | 'content';
  cache?: true;
  maxAge?: number | string;
  immutable?: true;
  dotfiles?: DotfilesMode;
  extensions?: string[];
  precompressed?: true | PrecompressedEncoding[];
}

const ENCODINGS: readonly PrecompressedEncoding[] = ['br', 'zstd', 'gzip'];
const ETAG_MODES: ReadonlyMap<string, boolean | 'content'> = new Map<string, boolean | 'content'>([
  ['content', 'content'],
  ['weak', true],
  ['off', false],
]);
const DOTFILES_MODES: readonly DotfilesMode[] = ['allow', 'deny', 'ignore'];
const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/**
 * Flags whose value is optional: `--flag` alone or `--flag=value`, as GNU's `--color[=WHEN]`, never
 * `--flag value`, where the value could not be told from the directory. Each comes with a test for an argument
 * that looks like its value, so that `--precompressed br,gzip` is refused rather than serving a directory
 * named `br,gzip` without a word, and `--spa app.html` rather than serving a directory named `app.html`.
 */
const OPTIONAL_VALUE: ReadonlyMap<string, (argument: string) => boolean> = new Map([
  ['precompressed', isEncodingList],
  ['spa', isHtmlName],
]);

/**
 * What a bare optional-value flag is rewritten to before parseArgs, which has no such type. An argument from
 * the operating system cannot contain NUL, so no value typed after `=` can be mistaken for it.
 */
const BARE = '\0';

/** Reads the command line; throws a TypeError with a plain message on bad input. */
export function parseCli(argv: readonly string[]): CliOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: withBareValues(argv),
    allowPositionals: true,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'H' },
      spa: { type: 'string' },
      etag: { type: 'string' },
      cache: { type: 'boolean' },
      'max-age': { type: 'string' },
      immutable: { type: 'boolean' },
      dotfiles: { type: 'string' },
      extensions: { type: 'string' },
      precompressed: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      'shutdown-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw new TypeError(`expected one directory, got ${positionals.length}`);
  const port = values.port === undefined ? 8080 : /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new TypeError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
  }

  const options: CliServeOptions = {};
  if (values.spa !== undefined) options.spa = values.spa === BARE ? true : values.spa;
  if (values.etag !== undefined) {
    const etag = ETAG_MODES.get(values.etag);
    if (etag === undefined) throw new TypeError(`--etag takes content, weak or off, got "${values.etag}"`);
    options.etag = etag;
  }
  if (values.cache) options.cache = true;
  // Digits alone are milliseconds, as a number `maxAge` is; anything else is the library's to read (or refuse).
  if (values['max-age'] !== undefined) options.maxAge = /^\d+$/.test(values['max-age']) ? Number(values['max-age']) : values['max-age'];
  if (values.immutable) options.immutable = true;
  if (values.dotfiles !== undefined) {
    const mode = DOTFILES_MODES.find((known) => known === values.dotfiles);
    if (mode === undefined) throw new TypeError(`--dotfiles takes allow, deny or ignore, got "${values.dotfiles}"`);
    options.dotfiles = mode;
  }
  if (values.extensions !== undefined) options.extensions = extensionsOf(values.extensions);
  const precompressed = precompressedOf(values.precompressed);
  if (precompressed !== undefined) options.precompressed = precompressed;

  return {
    root: positionals[0] ?? '.',
    port,
    host: values.host ?? '127.0.0.1',
    quiet: values.quiet === true,
    shutdownTimeout: durationOf(values['shutdown-timeout']),
    options,
  };
}

/** `argv` with each bare optional-value flag before any `--` given the value {@link BARE}. */
function withBareValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const looksLikeValue = arg.startsWith('--') ? OPTIONAL_VALUE.get(arg.slice(2)) : undefined;
    if (looksLikeValue === undefined) {
      args.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && looksLikeValue(next)) {
      throw new TypeError(`${arg} takes its value after "=" (${arg}=${next}); for a directory of that name write ./${next}`);
    }
    args.push(`${arg}=${BARE}`);
  }
  return args;
}

function isEncodingList(text: string): boolean {
  return text.split(',').every((item) => ENCODINGS.some((known) => known === item));
}

function isHtmlName(text: string): boolean {
  return /\.html?$/i.test(text);
}

function precompressedOf(value: string | undefined): CliServeOptions['precompressed'] {
  if (value === undefined) return undefined;
  if (value === BARE) return true;
  const list: PrecompressedEncoding[] = [];
  for (const item of value.split(',')) {
    const encoding = ENCODINGS.find((known) => known === item);
    if (encoding === undefined) {
      throw new TypeError(`--precompressed takes a comma-separated list of ${ENCODINGS.join(', ')}, got "${value}"`);
    }
    if (list.includes(encoding)) throw new TypeError(`--precompressed lists "${encoding}" twice`);
    list.push(encoding);
  }
  return list;
}

function extensionsOf(value: string): string[] {
  const list = value.split(',');
  // The library puts the dot in itself: `.html` would look for `about..html`.
  if (list.some((item) => item === '' || item.startsWith('.') || /[/\\\s]/.test(item))) {
    throw new TypeError(`--extensions takes a comma-separated list of extensions without their dot (html,htm), got "${value}"`);
  }
  return list;
}

function durationOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SHUTDOWN_TIMEOUT;
  const milliseconds = /^\d+$/.test(value) ? Number(value) : value.trim() === '' ? undefined : ms(value as ms.StringValue);
  if (typeof milliseconds !== 'number' || !(milliseconds >= 0)) {
    throw new TypeError(`--shutdown-timeout takes milliseconds or an ms string such as 10s, got "${value}"`);
  }
  return milliseconds;
}

/** The flag behind an option the library refused, named by the option it names first in its message. */
const FLAG_OF_OPTION: ReadonlyMap<string, string> = new Map([
  ['maxAge', '--max-age'],
  ['spa', '--spa'],
  ['etag', '--etag'],
  ['extensions', '--extensions'],
  ['dotfiles', '--dotfiles'],
  ['precompressed', '--precompressed'],
]);

function withFlag(message: string): string {
  const option = /^(\w+)/.exec(message)?.[1];
  const flag = option === undefined ? undefined : FLAG_OF_OPTION.get(option);
  return flag === undefined ? message : `${flag}: ${message}`;
}

/** Why `root` cannot be served, in one line, or undefined when it is a directory. */
function rootProblem(root: string): string | undefined {
  try {
    return statSync(root).isDirectory() ? undefined : `not a directory: ${root}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `directory not found: ${root}`;
    if (code === 'EACCES' || code === 'EPERM') return `permission denied: ${root}`;
    return `cannot open ${root}: ${(error as Error).message}`;
  }
}

function listenProblem(error: NodeJS.ErrnoException, port: number, host: string): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} is in use on ${host}`;
    case 'EACCES':
      return `no permission to listen on port ${port} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `address ${host} is not one of this machine's`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${host} could not be resolved`;
    default:
      return error.message;
  }
}

/**
 * Calls `done` once with the log line of the response, when it ends however it ends. Body bytes are what the
 * socket was handed for this response minus its header (`res._header`, Node's serialised header): exact for a
 * complete response (its Content-Length; 0 for HEAD and 304, where Node sends no body), and for a download cut
 * short, what left the process before the connection closed (the client may have received less: the kernel's
 * buffers held the rest). The response's share of the socket runs from when it gets the socket (a pipelined
 * response waits for the one before it) to its 'finish' (after which the next one starts writing). The request
 * target is printed as received: Node's parser refuses control characters, spaces and bytes above 0x7e in it
 * (even with --insecure-http-parser), so it cannot forge a line or reach the terminal as an escape.
 */
function logWhenDone(req: IncomingMessage, res: ServerResponse, done: (line: string) => void): void {
  const started = performance.now();
  let socket: Socket | null = res.socket;
  let before = socket?.bytesWritten ?? 0;
  if (socket === null) {
    res.once('socket', (assigned: Socket) => {
      socket = assigned;
      before = assigned.bytesWritten ?? 0;
    });
  }
  // Read at 'finish', ahead of Node's own listener, which hands the socket to the next pipelined response.
  let after: number | undefined;
  res.prependOnceListener('finish', () => {
    after = socket?.bytesWritten;
  });
  let logged = false;
  const log = (): void => {
    if (logged) return;
    logged = true;
    const header = (res as { _header?: unknown })._header;
    const headerBytes = typeof header === 'string' ? Buffer.byteLength(header, 'latin1') : undefined;
    const written = socket === null ? 0 : (after ?? socket.bytesWritten ?? before) - before;
    const body = headerBytes === undefined ? 0 : Math.max(0, written - headerBytes);
    const status = res.headersSent ? String(res.statusCode) : '-';
    const aborted = !res.writableFinished;
    const elapsed = (performance.now() - started).toFixed(1);
    done(`${req.method} ${req.url ?? ''} ${status} ${body} B ${elapsed} ms${aborted ? ' aborted' : ''}\n`);
  };
  res.once('close', log);
  // A pipelined response queued behind one whose connection died never gets a 'close' of its own.
  req.once('close', () => {
    if (req.socket.destroyed) log();
  });
}

function main(): void {
  const fail = (message: string, code: number, usage: boolean): void => {
    process.stderr.write(`brisk-static: ${message}\n${usage ? `\n${USAGE}\n` : ''}`);
    process.exitCode = code;
  };
  let parsed: CliOptions | 'help';
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (error) {
    fail((error as Error).message, 2, true);
    return;
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const cli = parsed;
  const problem = rootProblem(cli.root);
  if (problem !== undefined) {
    fail(problem, 2, false);
    return;
  }
  let middleware: ReturnType<typeof serveStatic>;
  try {
    middleware = serveStatic(cli.root, cli.options);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    fail(withFlag(error.message), 2, true);
    return;
  }

  const inFlight = new Set<ServerResponse>();
  let stopping = false;
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      // A kept-alive connection whose response was under way when the signal came closes once it is done.
      if (stopping) server.closeIdleConnections();
    });
    if (stopping) res.setHeader('Connection', 'close');
    if (!cli.quiet) logWhenDone(req, res, (line) => process.stdout.write(line));
    middleware(req, res);
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    fail(listenProblem(error, cli.port, cli.host), 1, false);
    server.close();
  });
  server.listen(cli.port, cli.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : cli.port;
    const host = cli.host.includes(':') ? `[${cli.host}]` : cli.host;
    process.stdout.write(`Serving ${cli.root} at http://${host}:${port}/\n`);
  });

  const forceExit = (why: string): void => {
    process.stderr.write(`brisk-static: ${why}; exiting with ${inFlight.size} response(s) unfinished\n`);
    process.exit(1);
  };
  const stop = (): void => {
    if (stopping) {
      forceExit('second signal');
      return;
    }
    stopping = true;
    // Stop accepting; idle kept-alive connections are closed now, busy ones when their response ends. The
    // process then exits by itself, with nothing left to do.
    const timer = setTimeout(() => forceExit(`responses still running after ${cli.shutdownTimeout} ms`), cli.shutdownTimeout);
    timer.unref();
    server.close(() => clearTimeout(timer));
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    server.closeIdleConnections();
    if (inFlight.size > 0 && !cli.quiet) {
      process.stdout.write(`Stopping: waiting for ${inFlight.size} response(s) to finish; a second signal exits at once\n`);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** True when this file is the program being run (through the `bin` symlink too), not an import. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) main();
