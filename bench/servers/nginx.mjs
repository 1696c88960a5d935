// nginx (when installed): writes a config into its own temp dir and returns the command line to run it in the
// foreground. Never reads or writes /etc/nginx: -p/-c/-e point at the temp dir, and the few MIME types the
// bench needs are declared inline.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The nginx version string, or null when nginx is not installed. */
export function nginxVersion() {
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return (result.stderr || result.stdout).trim().replace(/^nginx version:\s*/, '');
}

/**
 * @param {string} root absolute path served
 * @param {number} port
 * @param {string} dir an empty temp dir for the config, pid, logs and nginx's temp paths
 * @returns {string[]} argv
 */
export function nginxCommand(root, port, dir) {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 4096; }
http {
  types { text/html html; text/plain txt; text/css css; text/javascript js; application/json json; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    index index.html;
  }
}
`,
  );
  return ['nginx', '-p', dir, '-c', conf, '-e', join(dir, 'logs', 'error.log')];
}
