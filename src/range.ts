import type { Range } from 'range-parser';
import { parseRange } from './deps.js';
import { parseHttpDate, type Validators } from './conditional.js';

/** The body to send: all of it, one slice (206), or nothing (416). */
export type RangeOutcome =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const FULL: RangeOutcome = Object.freeze({ kind: 'full' });
const UNSATISFIABLE: RangeOutcome = Object.freeze({ kind: 'unsatisfiable' });
const BYTES_UNIT = /^ *bytes=/;
/** More parts than any real client sends: probably an attack, so the Range is ignored (nginx `max_ranges`). */
export const MAX_RANGE_PARTS = 32;

/**
 * Decides what a `Range` header asks of a file of `size` bytes (RFC 9110 section 14.2). A request with too
 * many parts, or whose parts add up to more than the file (Go's net/http rule: overlapping ranges are an
 * amplification attack), is ignored; overlapping parts are otherwise combined, and a request that still has
 * several parts, a malformed one, or one whose `If-Range` no longer matches gets the whole file.
 */
export function evaluateRange(
  range: string | undefined,
  ifRange: string | undefined,
  size: number,
  validators: Validators,
): RangeOutcome {
  if (range === undefined || !BYTES_UNIT.test(range)) return FULL;
  if (!rangeStillValid(ifRange, validators)) return FULL;
  let parts = 1;
  for (let i = range.indexOf(','); i !== -1; i = range.indexOf(',', i + 1)) {
    if (++parts >= MAX_RANGE_PARTS) return FULL;
  }
  const ranges = parseRange(size, range);
  if (ranges === -1) return UNSATISFIABLE;
  if (ranges === -2) return FULL;
  if (ranges.length === 1) {
    const only = ranges[0] as Range;
    return { kind: 'partial', start: only.start, end: only.end };
  }
  let total = 0;
  for (const part of ranges) total += part.end - part.start + 1;
  if (total > size) return FULL;
  const combined = parseRange(size, range, { combine: true });
  if (combined === -1 || combined === -2 || combined.length !== 1) return FULL;
  const only = combined[0] as Range;
  return { kind: 'partial', start: only.start, end: only.end };
}

/** If-Range holds an entity tag (it has a quote) or a date; it must still describe the file. */
function rangeStillValid(ifRange: string | undefined, validators: Validators): boolean {
  if (!ifRange) return true;
  if (ifRange.includes('"')) return validators.etag !== undefined && ifRange.includes(validators.etag);
  return parseHttpDate(validators.lastModified) <= parseHttpDate(ifRange);
}

/** `Content-Range` value for a slice, or for an unsatisfiable request (`bytes *\/size`). */
export function contentRange(size: number, start?: number, end?: number): string {
  return start === undefined ? `bytes */${size}` : `bytes ${start}-${end}/${size}`;
}
