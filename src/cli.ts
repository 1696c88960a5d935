#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveStatic } from './index.js';

const USAGE = `Usage: brisk-static [dir] [--port N] [--host H]

Serves a directory over HTTP with brisk-static.
  dir          directory to serve (default: the current directory)
  --port, -p   port to listen on (default: 8080; 0 picks a free one)
  --host, -H   address to bind (default: 127.0.0.1)
  --help, -h   show this text`;

interface CliOptions {
  readonly root: string;
  readonly port: number;
  readonly host: string;
}

/** Reads the command line; throws a TypeError with a plain message on bad input. */
export function parseCli(argv: readonly string[]): CliOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'H' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw new TypeError(`expected one directory, got ${positionals.length}`);
  const port = values.port === undefined ? 8080 : /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new TypeError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
  }
  return { root: positionals[0] ?? '.', port, host: values.host ?? '127.0.0.1' };
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
  const middleware = serveStatic(options.root);
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
