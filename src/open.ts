import { close, constants, fstat, open, stat, type Stats } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { fsError, httpError, statusOfFsError, type StaticError } from './errors.js';
import type { Config } from './options.js';
import type { SymlinkGuard } from './symlinks.js';

/**
 * What a resolved path turned out to be. A `file` outcome owns `fd` (whoever receives it must close it),
 * except that `fd` is -1 when the path was only stat'ed, or read whole into `body`.
 */
export type Located =
  | {
      readonly kind: 'file';
      readonly fd: number;
      readonly stat: Stats;
      readonly path: string;
      readonly body?: Buffer | undefined;
      readonly sidecars?: number | undefined;
    }
  | { readonly kind: 'directory' }
  | { readonly kind: 'error'; readonly error: StaticError };

/**
 * O_NONBLOCK makes opening a FIFO return at once instead of parking a libuv thread until a writer shows up
 * (nginx opens with it for the same reason); it changes nothing for regular files.
 */
export const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** A body up to this size is read with one `read(2)` and sent with one `res.end`. */
export const ONE_READ_LIMIT = 64 * 1024;

/**
 * A `file` owns `fd` (the receiver must close it), except that `fd` is -1 when the file was only stat'ed or
 * was read whole into `body` (by the file thread) and closed already.
 */
export type Candidate =
  | {
      readonly kind: 'file';
      readonly fd: number;
      readonly stat: Stats;
      readonly body?: Buffer;
      /** The fresh sidecars found beside it (a mask of `SIDECARS` bits), when the probe looked. */
      readonly sidecars?: number;
    }
  | { readonly kind: 'directory' }
  | { readonly kind: 'other' }
  | { readonly kind: 'error'; readonly error: NodeJS.ErrnoException };

export const DIRECTORY: Located & Candidate = Object.freeze({ kind: 'directory' });
export const OTHER: Candidate = Object.freeze({ kind: 'other' });

/**
 * Opens `path` and inspects the open descriptor, so the file we describe is the file we stream (no
 * stat-then-open race). Only a regular file keeps its descriptor. With a symlink guard, a file or directory
 * reached through a link the policy refuses is treated as absent.
 */
export function openCandidate(path: string, guard: SymlinkGuard | undefined, done: (candidate: Candidate) => void): void {
  open(path, OPEN_FLAGS, (openError, fd) => {
    if (openError) {
      // Opening a Unix socket fails with ENXIO: it exists, but it is not a file.
      done(openError.code === 'ENXIO' ? OTHER : { kind: 'error', error: openError });
      return;
    }
    fstat(fd, (statError, stat) => {
      if (statError) {
        close(fd, ignore);
        done({ kind: 'error', error: statError });
        return;
      }
      const isFile = stat.isFile();
      if (!isFile && !stat.isDirectory()) {
        // FIFOs, sockets and devices are never streamed (nginx: "is not a regular file").
        close(fd, ignore);
        done(OTHER);
        return;
      }
      const settle = (allowed: boolean): void => {
        if (allowed && isFile) {
          done({ kind: 'file', fd, stat });
          return;
        }
        close(fd, ignore);
        done(allowed ? DIRECTORY : OTHER);
      };
      if (guard === undefined) settle(true);
      else guard(path, fd, settle);
    });
  });
}

/** Inspects one candidate path: `openCandidate` bound to a guard, or `statCandidate`. */
export type Probe = (path: string, done: (candidate: Candidate) => void) => void;

/**
 * Inspects a path without opening it, for answers that carry no body (HEAD, 304, 412): one `stat` instead of
 * open, fstat and close. A `file` candidate then has no descriptor (`fd` is -1); to send bytes, the path is
 * opened afterwards and its descriptor inspected again. Never used with a symlink guard.
 */
export function statCandidate(path: string, done: (candidate: Candidate) => void): void {
  stat(path, (error, stats) => {
    if (error) done({ kind: 'error', error });
    else if (stats.isFile()) done({ kind: 'file', fd: -1, stat: stats });
    else done(stats.isDirectory() ? DIRECTORY : OTHER);
  });
}

/**
 * Finds the file for a resolved path, as send does: the path itself, then `path + extension` when the path
 * has no extension and does not exist; for a path ending in `/`, each index file in turn.
 */
export function locate(
  config: Config,
  path: string,
  trailingSlash: boolean,
  probe: Probe,
  done: (located: Located) => void,
): void {
  if (trailingSlash && config.index.length > 0) {
    tryEach(probe, path, config.index, true, 0, undefined, done);
    return;
  }
  probe(path, (candidate) => {
    switch (candidate.kind) {
      case 'file':
        done({ kind: 'file', fd: candidate.fd, stat: candidate.stat, path, body: candidate.body, sidecars: candidate.sidecars });
        return;
      case 'directory':
        done(DIRECTORY);
        return;
      case 'other':
        done({ kind: 'error', error: httpError(404) });
        return;
      case 'error': {
        const error = candidate.error;
        if (
          error.code === 'ENOENT' &&
          config.extensions.length > 0 &&
          extname(path) === '' &&
          !path.endsWith(sep)
        ) {
          tryEach(probe, path, config.extensions, false, 0, error, done);
        } else {
          done({ kind: 'error', error: fsError(error) });
        }
      }
    }
  });
}

/**
 * Tries `base + suffix` (extensions) or `base/name` (index files) for each entry in turn. A directory or
 * special file is skipped; when none is a file, the last file-system error decides the answer.
 */
function tryEach(
  probe: Probe,
  base: string,
  names: readonly string[],
  asChild: boolean,
  i: number,
  lastError: NodeJS.ErrnoException | undefined,
  done: (located: Located) => void,
): void {
  if (i >= names.length) {
    done({ kind: 'error', error: lastError ? fsError(lastError) : httpError(404) });
    return;
  }
  const name = names[i] as string;
  const path = asChild ? join(base, name) : base + name;
  probe(path, (candidate) => {
    if (candidate.kind === 'file') {
      done({ kind: 'file', fd: candidate.fd, stat: candidate.stat, path, body: candidate.body, sidecars: candidate.sidecars });
    } else if (candidate.kind === 'error' && !isAbsent(candidate.error)) {
      // EMFILE, EACCES, EIO...: this candidate exists or may exist. Moving on would serve a different file
      // (`about.htm` for `/about` while `about.html` is merely unreadable for a moment).
      done({ kind: 'error', error: fsError(candidate.error) });
    } else {
      tryEach(probe, base, names, asChild, i + 1, candidate.kind === 'error' ? candidate.error : undefined, done);
    }
  });
}

/** Errors that mean the candidate is not there to be served, so the next one may be tried. */
function isAbsent(error: NodeJS.ErrnoException): boolean {
  return statusOfFsError(error.code) === 404;
}

export function ignore(): void {}
