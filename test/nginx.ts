/**
 * A real nginx for the tests that put a caching reverse proxy in front of an origin (cdn.test.ts,
 * fleet.test.ts): Debian's package (apt, `.ci/run`), run in the foreground as one process with its own prefix
 * in a temp dir, so that nothing it writes (pid, logs, temp files, its cache) lands outside the test's tree,
 * and stopped gracefully afterwards.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

/** Debian's nginx; /usr/sbin is not on every user's PATH. */
export const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

export interface Nginx {
  /** `http://127.0.0.1:PORT` without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Asks for a graceful stop (SIGQUIT), and kills it if it is still running 5 s later. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** A port nobody listens on right now: bound on port 0, then released for nginx. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const address = probe.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  await new Promise<void>((done) => probe.close(() => done()));
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * The configuration around a test's own `http` directives: a single foreground process whose pid, logs and
 * temp paths all sit in `prefix`. nginx would otherwise write them to its compiled-in paths under /var, which
 * a test user may not be allowed to write and which another nginx on the machine may be using.
 */
function prefixedConf(prefix: string, http: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log notice;
events { worker_connections 128; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy_temp;
  fastcgi_temp_path ${prefix}/fastcgi_temp;
  uwsgi_temp_path ${prefix}/uwsgi_temp;
  scgi_temp_path ${prefix}/scgi_temp;
${http}}
`;
}

/**
 * Starts nginx in the new directory `prefix`, its configuration the prefixed one around what `http` returns for
 * the port it is to listen on (the directives inside `http { }`, each line indented and ending in a newline),
 * and waits for the port to take connections: 100 tries 50 ms apart. Rejects, with what nginx printed, if it
 * exits first; if it is still not listening after the last try it resolves anyway, and the test's first
 * request through it fails.
 */
export async function startNginx(prefix: string, http: (port: number) => string): Promise<Nginx> {
  const port = await freePort();
  mkdirSync(prefix);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, prefixedConf(prefix, http(port)));
  const child = spawn(NGINX, ['-c', conf, '-p', `${prefix}/`, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.once('error', (error) => (output += String(error)));
  const exited = new Promise<string>((done) => child.once('exit', (code) => done(`nginx exited with ${String(code)}`)));
  for (let attempt = 0; attempt < 100 && !(await canConnect(port)); attempt++) {
    const early = await Promise.race([exited, sleep(50).then(() => null)]);
    if (early !== null) throw new Error(`${early}: ${output}`);
  }
  return {
    url: `http://127.0.0.1:${String(port)}`,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const stopped = new Promise((done) => child.once('exit', done));
      child.kill('SIGQUIT');
      await Promise.race([stopped, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
