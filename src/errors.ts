import type { HttpError } from 'http-errors';
import { createError } from './deps.js';

/** An `http-errors` instance as handed to `next(err)`; may carry response headers (a 416's `Content-Range`). */
export type StaticError = HttpError & { headers?: Record<string, string> };

/** File-system error codes that mean "there is nothing to serve here". */
const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP']);
/** The process may not read it: the file exists, but the answer is no. */
const FORBIDDEN_CODES = new Set(['EACCES', 'EPERM']);
/** Descriptor exhaustion is load, not a fault of the request: the client may try again. */
const UNAVAILABLE_CODES = new Set(['EMFILE', 'ENFILE']);

/** A plain http-errors instance for a status (`NotFoundError`, `ForbiddenError`, ...). */
export function httpError(status: number, headers?: Record<string, string>): StaticError {
  const error = createError(status) as StaticError;
  if (headers !== undefined) error.headers = headers;
  return error;
}

/** Maps a file-system error code to the status the client gets. */
export function statusOfFsError(code: string | undefined): number {
  if (code === undefined) return 500;
  if (NOT_FOUND_CODES.has(code)) return 404;
  if (FORBIDDEN_CODES.has(code)) return 403;
  if (UNAVAILABLE_CODES.has(code)) return 503;
  return 500;
}

/**
 * Turns a file-system error into an http-error while keeping the original object, so `err.code`
 * (`ENAMETOOLONG`, ...) and its message survive for Express error handlers, as serve-static does.
 * The message names a server path, so it is never exposed to the client.
 */
export function fsError(error: NodeJS.ErrnoException): StaticError {
  return createError(statusOfFsError(error.code), error, { expose: false }) as StaticError;
}

/** What a hook threw, as an http-error: its own when it carries a 4xx/5xx status, else a 500 with it as `cause`. */
export function asHttpError(error: unknown): StaticError {
  if (error instanceof Error) {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 600) return error as StaticError;
  }
  const wrapped = httpError(500);
  (wrapped as { cause?: unknown }).cause = error;
  return wrapped;
}
