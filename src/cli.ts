#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveStatic, type PrecompressedEncoding } from './index.js';

const USAGE = `Usage: brisk-static [dir] [--port N] [--host H] [--precompressed[=LIST]]

Serves a directory over HTTP with brisk-static.
  dir                    directory to serve (default: the current directory)
  --port, -p             port to listen on (default: 8080; 0 picks a free one)
  --host, -H             address to bind (default: 127.0.0.1)
  --precompressed[=LIST] serve file.br / file.zst / file.gz built beside a file to clients that accept
                         them; alone: br,gzip; LIST: codings from br, zstd, gzip in the server's order of
                         preference, after "=" (--precompressed=zstd,br,gzip)
  --help, -h             show this text`;

interface CliOptions {
  readonly root: string;
  readonly port: number;
  readonly host: string;
  readonly precompressed: boolean | readonly PrecompressedEncoding[];
}

const ENCODINGS: readonly PrecompressedEncoding[] = ['br', 'zstd', 'gzip'];

/**
 * Flags whose value is optional: `--flag` alone or `--flag=value`, as GNU's `--color[=WHEN]`, never
 * `--flag value`, where the value could not be told from the directory. Each comes with a test for an argument
 * that looks like its value, so that `--precompressed br,gzip` is refused rather than serving a directory
 * named `br,gzip` without a word.
 */
const OPTIONAL_VALUE: ReadonlyMap<string, (argument: string) => boolean> = new Map([['precompressed', isEncodingList]]);

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
      precompressed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw new TypeError(`expected one directory, got ${positionals.length}`);
  const port = values.port === undefined ? 8080 : /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new TypeError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
  }
  return {
    root: positionals[0] ?? '.',
    port,
    host: values.host ?? '127.0.0.1',
    precompressed: precompressedOf(values.precompressed),
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

function precompressedOf(value: string | undefined): CliOptions['precompressed'] {
  if (value === undefined) return false;
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

function main(): void {
  let options: CliOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`brisk-static: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const middleware = serveStatic(options.root, { precompressed: options.precompressed });
  const server = createServer((req, res) => middleware(req, res));
  server.on('error', (error) => {
    process.stderr.write(`brisk-static: ${error.message}\n`);
    process.exitCode = 1;
  });
  server.listen(options.port, options.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    process.stdout.write(`Serving ${options.root} at http://${host}:${port}/\n`);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
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
