import { existsSync, fstat, readlink, realpath, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';

/** How symbolic links under root are treated. */
export type SymlinkPolicy = 'follow' | 'within-root' | 'deny';

/** Decides, for an open descriptor of `path`, whether it may be served under the policy. */
export type SymlinkGuard = (path: string, fd: number, done: (allowed: boolean) => void) => void;

/**
 * Linux names the file behind a descriptor in /proc/self/fd: asking there checks the file actually opened,
 * with no window for a swapped link. Elsewhere the path is resolved again after the open (a small race).
 */
const PROC_FD = existsSync('/proc/self/fd') ? '/proc/self/fd/' : undefined;
/** What Linux appends to the /proc/self/fd name of a file that has been unlinked since it was opened. */
const DELETED = ' (deleted)';

/**
 * Builds the check for `within-root` (the real path of what was opened must be inside the real path of
 * root) and `deny` (the real path must be the path as requested: no link anywhere below root). `follow`
 * needs no check. Symlinks in root itself are the operator's choice and always allowed.
 */
export function createSymlinkGuard(root: string, policy: SymlinkPolicy): SymlinkGuard | undefined {
  if (policy === 'follow') return undefined;
  let realRoot: string | undefined;
  try {
    realRoot = realpathSync(root);
  } catch {
    // Root may not exist yet (serve-static allows that); resolved on first use.
  }

  const check = (path: string, actual: string, rootPath: string): boolean => {
    if (policy === 'within-root') return isInside(rootPath, actual);
    const expected = trimTrailingSeparator(join(rootPath, path.slice(root.length)));
    return actual === expected;
  };

  return (path, fd, done) => {
    const withRoot = (rootPath: string): void => {
      const answer = (error: NodeJS.ErrnoException | null, actual: string): void => {
        if (error !== null) {
          done(false);
        } else if (PROC_FD !== undefined && actual.endsWith(DELETED)) {
          // The file was unlinked after the open: replaced by write-then-rename, as deploys and editors do.
          // Linux then names it by its last path with " (deleted)" added. Judge that path, but only if the
          // file really has no links left: a live file could be named "x (deleted)".
          fstat(fd, (statError, stat) => {
            done(statError === null && stat.nlink === 0 && check(path, actual.slice(0, -DELETED.length), rootPath));
          });
        } else {
          done(check(path, actual, rootPath));
        }
      };
      if (PROC_FD !== undefined) readlink(PROC_FD + fd, answer);
      else realpath(path, answer);
    };
    if (realRoot !== undefined) {
      withRoot(realRoot);
      return;
    }
    realpath(root, (error, resolved) => {
      if (error !== null) {
        done(false);
        return;
      }
      realRoot = resolved;
      withRoot(resolved);
    });
  };
}

function isInside(root: string, path: string): boolean {
  if (path === root) return true;
  const fromRoot = relative(root, path);
  return fromRoot !== '' && fromRoot !== '..' && !fromRoot.startsWith(`..${sep}`) && !isAbsolute(fromRoot);
}

function trimTrailingSeparator(path: string): string {
  return path.length > 1 && path.endsWith(sep) ? path.slice(0, -1) : path;
}
