// What the apps in test/runtimes/ share, on Bun, Deno and Node alike: their command line, a life tied to the
// test that started them, and the line that tells the test they listen (test/runtimes/launch.ts reads it).
import process from 'node:process';

/**
 * Reads `DIST ROOT [LIFETIME_MS]` (the built package as an absolute path to dist/index.js, the directory to
 * serve, a lifetime in milliseconds) and makes sure the child never outlives its test: it exits after its
 * lifetime, and as soon as its stdin closes (the test process ended or closed the pipe).
 * @param {string} script the app's file name, for the usage message
 * @returns {{ distPath: string, root: string }}
 */
export function childArguments(script) {
  const [distPath, root, lifetimeArg] = process.argv.slice(2);
  if (distPath === undefined || root === undefined) throw new Error(`usage: ${script} DIST ROOT [LIFETIME_MS]`);
  const lifetime = Number(lifetimeArg ?? 60_000);

  setTimeout(() => process.exit(0), lifetime);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  return { distPath, root };
}

/** The runtime this runs on and its version, as `bun 1.4.5`, `deno 2.5.0` or `node 20.20.0`. */
function runtimeName() {
  return typeof globalThis.Bun === 'object'
    ? `bun ${globalThis.Bun.version}`
    : typeof globalThis.Deno === 'object'
      ? `deno ${globalThis.Deno.version.deno}`
      : `node ${process.versions.node}`;
}

/**
 * Tells the test that every server listens: one JSON line on stdout, the runtime first, then the ports, as
 * `{"runtime":"bun 1.4.5","plain":PORT,...}`.
 * @param {Record<string, number>} ports
 */
export function announce(ports) {
  process.stdout.write(`${JSON.stringify({ runtime: runtimeName(), ...ports })}\n`);
}
