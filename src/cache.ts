import type { FileFacts, Variant } from './headers.js';

/** Limits of the open-file cache; see `ServeStaticOptions.cache`. */
export interface CacheLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxFileSize: number;
  readonly revalidateAfter: number;
}

/** What a URL pathname turned out to be, remembered. */
export type CacheEntry =
  /** A small file, held in memory: the facts and the bytes come from the same descriptor. */
  | { readonly kind: 'memory'; readonly facts: FileFacts; readonly body: Buffer }
  /** A file too large to hold: only where it is, so the candidate search (index, extensions) is skipped. */
  | { readonly kind: 'path'; readonly path: string; readonly variant: Variant }
  | { readonly kind: 'directory' }
  /** Nothing to serve: the status, and the fs error's details to rebuild it for `next(err)`. */
  | { readonly kind: 'miss'; readonly status: number; readonly code: string | undefined; readonly message: string };

interface Slot {
  readonly entry: CacheEntry;
  readonly bytes: number;
  readonly expires: number;
  /** Read since it was last considered for eviction (the CLOCK algorithm's reference bit). */
  used: boolean;
}

/** Bookkeeping per entry beyond the file bytes: key, slot, map node (an estimate). */
const ENTRY_OVERHEAD = 200;

/**
 * A bounded map from URL pathname to lookup outcome, after nginx's `open_file_cache`: at most `maxEntries`
 * entries and about `maxBytes` bytes, and no entry trusted for longer than `revalidateAfter` ms, after which
 * the next request looks at the disk again. Eviction approximates least-recently-used with the CLOCK
 * algorithm: a hit only sets a flag (no reordering on the hot path); when room is needed, the oldest entry is
 * evicted unless it was used since, in which case it gets a second chance at the young end.
 */
export class LookupCache {
  readonly limits: CacheLimits;
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;

  constructor(limits: CacheLimits) {
    this.limits = limits;
  }

  /** The entry for `key`, unless absent or expired (an expired entry is dropped). */
  get(key: string, now: number): CacheEntry | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.expires <= now) {
      this.slots.delete(key);
      this.bytes -= slot.bytes;
      return undefined;
    }
    slot.used = true;
    return slot.entry;
  }

  set(key: string, entry: CacheEntry, now: number): void {
    const bytes = ENTRY_OVERHEAD + key.length * 2 + (entry.kind === 'memory' ? entry.body.length : 0);
    if (bytes > this.limits.maxBytes) return;
    this.delete(key);
    this.slots.set(key, { entry, bytes, expires: now + this.limits.revalidateAfter, used: false });
    this.bytes += bytes;
    // Each pass either evicts or clears a flag, so this ends within two sweeps of the map.
    while (this.slots.size > this.limits.maxEntries || this.bytes > this.limits.maxBytes) {
      const oldest = this.slots.entries().next();
      if (oldest.done === true) break;
      const [oldestKey, slot] = oldest.value;
      this.slots.delete(oldestKey);
      if (slot.used && oldestKey !== key) {
        slot.used = false;
        this.slots.set(oldestKey, slot);
      } else {
        this.bytes -= slot.bytes;
      }
    }
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.bytes -= slot.bytes;
  }

  /** Entries held and the bytes they account for. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.slots.size, bytes: this.bytes };
  }
}
