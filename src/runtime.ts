/**
 * Node itself, not Bun or Deno running this code through their `node:` modules: the fast paths (the file thread,
 * reused chunk buffers) rely on how Node's fs, workers and sockets behave, and are used only there.
 */
export const RUNTIME_IS_NODE =
  (process.versions as Record<string, string | undefined>)['bun'] === undefined &&
  (process.versions as Record<string, string | undefined>)['deno'] === undefined;
