import { AsyncResource } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { fstat, read, type Stats } from 'node:fs';

/**
 * Content ETags (`etag: 'content'`): a strong validator from a SHA-256 digest of a file's bytes, so that every
 * origin holding the same bytes sends the same ETag whatever its inode numbers and modification times. A digest
 * is computed once per version of a file and remembered; what names a version is what changes whenever the bytes
 * may have: device, inode, size, modification time and change time (a rewrite that restores the modification
 * time still moves the change time, which no one can set).
 */

/** Versions remembered, process-wide (about 150 bytes each); the oldest are forgotten first. */
const REMEMBERED_LIMIT = 10_000;
/** Bytes hashed per read of a file: each read's hashing is a short, bounded turn of the event loop. */
const HASH_CHUNK_SIZE = 256 * 1024;

/** The `type` of the async resources that carry a waiting request's context (async_hooks users see it). */
const ASYNC_RESOURCE_TYPE = 'BRISK_STATIC_DIGEST';

const remembered = new Map<string, string>();
/** Digests being computed, with everyone waiting for each: one read of a file however many ask at once. */
const inFlight = new Map<string, ((etag: string | undefined) => void)[]>();

/** What names one version of a file. */
export function versionKey(stat: Stats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

/** The content ETag of a version already digested, or undefined. */
export function rememberedEtag(key: string): string | undefined {
  return remembered.get(key);
}

function remember(key: string, etag: string): void {
  if (remembered.size >= REMEMBERED_LIMIT) {
    const oldest = remembered.keys().next();
    if (oldest.done !== true) remembered.delete(oldest.value);
  }
  remembered.set(key, etag);
}

function etagOf(digest: Buffer): string {
  return `"${digest.toString('base64url')}"`;
}

/** The content ETag of bytes in hand (a small file read whole), remembered under `key`. */
export function etagOfBody(key: string, body: Uint8Array): string {
  const etag = etagOf(createHash('sha256').update(body).digest());
  remember(key, etag);
  return etag;
}

/**
 * Digests an open descriptor's `size` bytes by positional reads (the descriptor's offset is untouched, so it can
 * be streamed afterwards), one chunk per turn of the event loop. The result is remembered only if `fstat` after
 * the last read still names the same version: bytes rewritten during the reads would otherwise give a version
 * a digest of bytes it never held. `done` gets undefined if the file could not be read whole.
 */
export function etagOfDescriptor(key: string, fd: number, size: number, done: (etag: string | undefined) => void): void {
  const waiting = inFlight.get(key);
  if (waiting !== undefined) {
    // The answer comes through the first request's reads: run it in this request's own async context.
    const context = new AsyncResource(ASYNC_RESOURCE_TYPE);
    waiting.push((etag) => context.runInAsyncScope(done, null, etag));
    return;
  }
  const callbacks = [done];
  inFlight.set(key, callbacks);
  const finish = (etag: string | undefined): void => {
    inFlight.delete(key);
    for (const callback of callbacks) callback(etag);
  };

  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(Math.max(size, 1), HASH_CHUNK_SIZE));
  let position = 0;
  const next = (): void => {
    if (position >= size) {
      const etag = etagOf(hash.digest());
      fstat(fd, (error, after) => {
        if (error === null && versionKey(after) === key) remember(key, etag);
        finish(etag);
      });
      return;
    }
    read(fd, buffer, 0, Math.min(buffer.length, size - position), position, (error, bytesRead) => {
      if (error !== null || bytesRead === 0) {
        finish(undefined);
        return;
      }
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
      next();
    });
  };
  next();
}
