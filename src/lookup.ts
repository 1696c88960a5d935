import { close, fstat, read, stat, type Stats } from 'node:fs';
import { type CacheEntry, LookupCache } from './cache.js';
import type { EncodingChoice } from './encoding.js';
import { etagOfBody, etagOfDescriptor, rememberedEtag, versionKey } from './digest.js';
import { fsError, httpError, type StaticError } from './errors.js';
import { probeOnThread, probeWithSidecars, statOnThread } from './file-thread.js';
import { describeFile, type FileFacts, type Variant } from './headers.js';
import { ignore, locate, openCandidate, type Located, type Probe } from './open.js';
import type { Config, Sidecar } from './options.js';
import type { SymlinkGuard } from './symlinks.js';
import { dotfileStatus } from './policy.js';
import { resolvePath } from './resolve.js';

/** What a request path leads to. A `descriptor` outcome owns `fd`: the receiver must close it. */
export type Outcome =
  | { readonly kind: 'descriptor'; readonly fd: number; readonly facts: FileFacts }
  /** A file found by `stat` alone (lookups that need no body): no descriptor is held. */
  | { readonly kind: 'metadata'; readonly facts: FileFacts }
  | { readonly kind: 'memory'; readonly facts: FileFacts; readonly body: Buffer }
  | { readonly kind: 'directory'; readonly trailingSlash: boolean }
  /** Refused or nothing to serve, before any file was chosen. */
  | { readonly kind: 'error'; readonly error: StaticError };

/**
 * Looks a pathname up. With `bodyless` (HEAD, or a conditional request likely to be a 304), a file may be
 * found by `stat` alone and come back as `metadata`; `open` then turns it into a descriptor if a body is
 * needed after all. `encodings` is what the request's `Accept-Encoding` prefers (see encoding.ts): a fresh
 * sidecar it names is described in place of the file.
 */
export interface Lookup {
  find(pathname: string, bodyless: boolean, encodings: EncodingChoice, done: (outcome: Outcome) => void): void;
  open(facts: FileFacts, done: (outcome: Outcome) => void): void;
  /**
   * The `spa` document for a navigation that missed at `pathname`, or undefined when there is none to send:
   * the document is missing, or the path was an existing directory asked for with its slash (its index missed,
   * which is a miss of the directory, not of the app's URL).
   */
  fallback(pathname: string, bodyless: boolean, encodings: EncodingChoice, done: (outcome: Outcome | undefined) => void): void;
}

/**
 * Builds the lookup step: URL pathname → outcome. Without a cache every request goes to the disk (always
 * fresh, as serve-static). With one, files, directories and misses are remembered per pathname, small files
 * with their bytes, each for at most `revalidateAfter` ms.
 */
export function createLookup(config: Config): Lookup {
  const limits = config.cache;
  const cache = limits === undefined ? undefined : new LookupCache(limits);
  const guard = config.symlinkGuard;
  // Without a symlink guard or a cache, lookups go to the file thread, and those needing no body only `stat`.
  // The guard inspects the descriptor and the cache re-checks it after reading, so both keep to the
  // descriptor path through libuv.
  const plain = guard === undefined && cache === undefined;
  const sidecarMask = config.sidecarMask;
  const guardedOpen: Probe = (path, done) => openCandidate(path, guard, done);
  /** Probes for the file asked for: on the file thread, they look for its sidecars in the same hop. */
  const openProbe: Probe = plain ? probeWithSidecars(false, sidecarMask) : guardedOpen;
  const statProbe: Probe = probeWithSidecars(true, sidecarMask);
  /** Probes for a sidecar itself, or a file opened again. */
  const openOnly: Probe = plain ? probeOnThread : guardedOpen;

  function fromDisk(pathname: string, bodyless: boolean, encodings: EncodingChoice, done: (outcome: Outcome) => void): void {
    const key = cacheKey(pathname, encodings);
    const resolved = resolvePath(config.root, pathname);
    if (resolved.kind === 'refused') {
      done({ kind: 'error', error: httpError(resolved.status) });
      return;
    }
    const refusal = dotfileStatus(resolved.segments, config.dotfiles);
    if (refusal !== 0) {
      done({ kind: 'error', error: httpError(refusal) });
      return;
    }
    const trailingSlash = resolved.trailingSlash;
    const statOnly = bodyless && plain;
    locate(config, resolved.path, trailingSlash, statOnly ? statProbe : openProbe, (located) => {
      switch (located.kind) {
        case 'directory':
          cache?.set(key, located, Date.now());
          done({ kind: 'directory', trailingSlash });
          return;
        case 'error':
          if (cache !== undefined && located.error.status === 404) {
            const error = located.error as StaticError & { code?: string };
            cache.set(key, { kind: 'miss', status: 404, code: error.code, message: error.message }, Date.now());
          }
          done({ kind: 'error', error: located.error });
          return;
        case 'file':
          if (sidecarMask === 0) settle(key, located, undefined, done);
          else if (located.sidecars !== undefined) chooseSidecar(key, located, located.sidecars, encodings, statOnly, done);
          else findSidecars(located.path, located.stat.mtimeMs, config.precompressed, guard, (found) => chooseSidecar(key, located, found, encodings, statOnly, done));
      }
    });
  }

  /**
   * Serves the first sidecar the request prefers among those found fresh beside the file, or the file itself.
   * The sidecar is opened (or stat'ed) and judged again, by what was opened: a regular file, allowed by the
   * symlink policy, not older than the file. Otherwise the file itself is served.
   */
  function chooseSidecar(
    key: string,
    located: Located & { kind: 'file' },
    found: number,
    encodings: EncodingChoice,
    statOnly: boolean,
    done: (outcome: Outcome) => void,
  ): void {
    if (found === 0) {
      settle(key, located, undefined, done);
      return;
    }
    const original = located.path;
    const plainFile: Variant = { original, encoding: undefined, vary: true };
    const sidecar = encodings.sidecars.find((candidate) => (found & candidate.bit) !== 0);
    if (sidecar === undefined) {
      settle(key, located, plainFile, done);
      return;
    }
    const path = original + sidecar.suffix;
    (statOnly ? statOnThread : openOnly)(path, (candidate) => {
      if (candidate.kind === 'file' && candidate.stat.mtimeMs >= located.stat.mtimeMs) {
        if (located.fd !== -1) close(located.fd, ignore);
        const variant: Variant = { original, encoding: sidecar.encoding, vary: true };
        settle(key, { kind: 'file', fd: candidate.fd, stat: candidate.stat, path, body: candidate.body }, variant, done);
        return;
      }
      if (candidate.kind === 'file' && candidate.fd !== -1) close(candidate.fd, ignore);
      settle(key, located, plainFile, done);
    });
  }

  /** The outcome for the file chosen, remembered when there is a cache. */
  function settle(key: string, located: Located & { kind: 'file' }, variant: Variant | undefined, done: (outcome: Outcome) => void): void {
    const facts = describeFile(config, located.path, located.stat, variant);
    if (located.body !== undefined) {
      done({ kind: 'memory', facts, body: located.body });
    } else if (located.fd === -1) {
      done({ kind: 'metadata', facts });
    } else if (cache === undefined) {
      done({ kind: 'descriptor', fd: located.fd, facts });
    } else if (located.stat.size <= cache.limits.maxFileSize) {
      fill(cache, key, located.fd, facts, done);
    } else {
      cache.set(key, { kind: 'path', path: located.path, variant: facts }, Date.now());
      done({ kind: 'descriptor', fd: located.fd, facts });
    }
  }

  /** Reads a small file whole and remembers it, unless it changed while being read. */
  function fill(cache: LookupCache, pathname: string, fd: number, facts: FileFacts, done: (outcome: Outcome) => void): void {
    const size = facts.stat.size;
    readWhole(fd, size, (readError, body) => {
      if (readError !== null) {
        close(fd, ignore);
        done({ kind: 'error', error: fsError(readError) });
        return;
      }
      fstat(fd, (statError, after) => {
        if (statError === null && body.length === size && sameVersion(facts.stat, after)) {
          close(fd, ignore);
          const entry = { kind: 'memory', facts: withBodyEtag(facts, body), body } as const;
          cache.set(pathname, entry, Date.now());
          done(entry);
          return;
        }
        // It changed under us: not cached; served from the descriptor with what it is now, and the
        // stream cuts the connection if it shrinks again.
        if (statError !== null || !after.isFile()) {
          close(fd, ignore);
          done({ kind: 'error', error: statError === null ? httpError(404) : fsError(statError) });
          return;
        }
        done({ kind: 'descriptor', fd, facts: describeFile(config, facts.path, after, facts) });
      });
    });
  }

  function fromCache(entry: CacheEntry, pathname: string, encodings: EncodingChoice, done: (outcome: Outcome) => void): void {
    switch (entry.kind) {
      case 'memory':
        done({ kind: 'memory', facts: entry.facts, body: entry.body });
        return;
      case 'directory':
        done({ kind: 'directory', trailingSlash: pathname.endsWith('/') });
        return;
      case 'miss':
        done({ kind: 'error', error: rebuildMiss(entry) });
        return;
      case 'path':
        openCandidate(entry.path, guard, (candidate) => {
          if (candidate.kind === 'file') {
            done({ kind: 'descriptor', fd: candidate.fd, facts: describeFile(config, entry.path, candidate.stat, entry.variant) });
          } else {
            cache?.delete(cacheKey(pathname, encodings));
            fromDisk(pathname, false, encodings, done);
          }
        });
    }
  }

  function openFile(described: FileFacts, done: (outcome: Outcome) => void): void {
    const path = described.path;
    openOnly(path, (candidate) => {
      if (candidate.kind === 'file') {
        const facts = describeFile(config, path, candidate.stat, described);
        done(candidate.body === undefined ? { kind: 'descriptor', fd: candidate.fd, facts } : { kind: 'memory', facts, body: candidate.body });
      } else {
        done({ kind: 'error', error: candidate.kind === 'error' ? fsError(candidate.error) : httpError(404) });
      }
    });
  }

  /** A memory entry's facts with its content ETag (remembered bytes carry their digest). */
  function withBodyEtag(facts: FileFacts, body: Buffer): FileFacts {
    if (!config.contentEtag || facts.etag !== undefined) return facts;
    const key = versionKey(facts.stat);
    return { ...facts, etag: rememberedEtag(key) ?? etagOfBody(key, body) };
  }

  /**
   * Under `etag: 'content'`, completes an outcome whose file has no ETag yet: from the digest remembered for its
   * version, or by digesting the bytes in hand, or the descriptor (before it is streamed), or, for a file found
   * by `stat` alone, by opening it (the answer is then that of the opened file).
   */
  function ensureEtag(outcome: Outcome, done: (outcome: Outcome) => void): void {
    if (!config.contentEtag || outcome.kind === 'directory' || outcome.kind === 'error' || outcome.facts.etag !== undefined) {
      done(outcome);
      return;
    }
    const facts = outcome.facts;
    const key = versionKey(facts.stat);
    const known = rememberedEtag(key);
    if (known !== undefined) {
      done({ ...outcome, facts: { ...facts, etag: known } });
      return;
    }
    switch (outcome.kind) {
      case 'memory':
        done({ ...outcome, facts: { ...facts, etag: etagOfBody(key, outcome.body) } });
        return;
      case 'descriptor':
        etagOfDescriptor(key, outcome.fd, facts.stat.size, (etag) => done(etag === undefined ? outcome : { ...outcome, facts: { ...facts, etag } }));
        return;
      case 'metadata':
        openFile(facts, (opened) => (opened.kind === 'metadata' ? done(opened) : ensureEtag(opened, done)));
    }
  }

  const open = (facts: FileFacts, done: (outcome: Outcome) => void): void => openFile(facts, (outcome) => ensureEtag(outcome, done));
  const find: Lookup['find'] =
    cache === undefined
      ? config.contentEtag
        ? (pathname, bodyless, encodings, done) => fromDisk(pathname, bodyless, encodings, (outcome) => ensureEtag(outcome, done))
        : fromDisk
      : (pathname, bodyless, encodings, done) => {
          const entry = cache.get(cacheKey(pathname, encodings), Date.now());
          const finish = config.contentEtag ? (outcome: Outcome): void => ensureEtag(outcome, done) : done;
          if (entry === undefined) fromDisk(pathname, bodyless, encodings, finish);
          else fromCache(entry, pathname, encodings, finish);
        };

  const fallback: Lookup['fallback'] = (pathname, bodyless, encodings, done) => {
    const document = config.spa;
    if (document === undefined) {
      done(undefined);
      return;
    }
    const serveDocument = (): void =>
      find(document, bodyless, encodings, (outcome) => done(outcome.kind === 'error' || outcome.kind === 'directory' ? undefined : outcome));
    if (!pathname.endsWith('/') || pathname === '/') {
      serveDocument();
      return;
    }
    // `/dir/` missed on its index: is `dir` there? (Only navigations that already missed pay for this.)
    find(pathname.slice(0, -1), true, encodings, (outcome) => {
      if (outcome.kind === 'directory') done(undefined);
      else {
        if (outcome.kind === 'descriptor') close(outcome.fd, ignore);
        serveDocument();
      }
    });
  };

  return { find, open, fallback };
}

/** Requests that prefer different sidecars are remembered apart; one that prefers none, under the pathname. */
function cacheKey(pathname: string, encodings: EncodingChoice): string {
  return encodings.key === '' ? pathname : `${pathname}\0${encodings.key}`;
}

/**
 * Which of `sidecars` sit beside the file as regular files at least as new as it (`mtimeMs`), through libuv:
 * what the file thread reports when it made the probe. One that cannot be stat'ed is not there. Under a
 * symlink policy, each is opened and judged by the guard instead, so a sidecar the policy refuses is absent
 * for every request (no `Vary` for it), not only for those that would have been sent it.
 */
function findSidecars(
  path: string,
  mtimeMs: number,
  sidecars: readonly Sidecar[],
  guard: SymlinkGuard | undefined,
  done: (found: number) => void,
): void {
  let pending = sidecars.length;
  let found = 0;
  const settle = (sidecar: Sidecar, fresh: boolean): void => {
    if (fresh) found |= sidecar.bit;
    if (--pending === 0) done(found);
  };
  for (const sidecar of sidecars) {
    if (guard === undefined) {
      stat(path + sidecar.suffix, (error, stats) => settle(sidecar, error === null && stats.isFile() && stats.mtimeMs >= mtimeMs));
    } else {
      openCandidate(path + sidecar.suffix, guard, (candidate) => {
        if (candidate.kind === 'file') close(candidate.fd, ignore);
        settle(sidecar, candidate.kind === 'file' && candidate.stat.mtimeMs >= mtimeMs);
      });
    }
  }
}

/** Same inode, size and times: the bytes read belong to the stat taken before. */
function sameVersion(before: Stats, after: Stats): boolean {
  return (
    before.ino === after.ino &&
    before.size === after.size &&
    before.mtimeMs === after.mtimeMs &&
    before.ctimeMs === after.ctimeMs
  );
}

/** A fresh error per request: handlers may decorate the object they receive. */
function rebuildMiss(entry: { status: number; code: string | undefined; message: string }): StaticError {
  if (entry.code === undefined) return httpError(entry.status);
  const error = Object.assign(new Error(entry.message), { code: entry.code }) as NodeJS.ErrnoException;
  return fsError(error);
}

function readWhole(fd: number, size: number, done: (error: NodeJS.ErrnoException | null, body: Buffer) => void): void {
  const body = Buffer.allocUnsafe(size);
  let offset = 0;
  const next = (): void => {
    if (offset >= size) {
      done(null, body);
      return;
    }
    read(fd, body, offset, size - offset, offset, (error, bytesRead) => {
      if (error !== null) done(error, body);
      else if (bytesRead === 0) done(null, body.subarray(0, offset));
      else {
        offset += bytesRead;
        next();
      }
    });
  };
  next();
}
