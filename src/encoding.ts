import { Negotiator } from './deps.js';
import type { Config, Sidecar } from './options.js';

/**
 * What a request's `Accept-Encoding` asks of the sidecars: the ones it prefers to the file itself, best first,
 * and a key naming that choice (for the lookup cache; empty when nothing beats the plain file).
 */
export interface EncodingChoice {
  readonly sidecars: readonly Sidecar[];
  readonly key: string;
}

const PLAIN: EncodingChoice = Object.freeze({ sidecars: Object.freeze([]), key: '' });
/** Distinct header values remembered per middleware; browsers send a handful, a hostile client many. */
const MEMO_LIMIT = 256;

/**
 * Builds the negotiation step for a middleware's `precompressed` list. Negotiator reads the header (q-values,
 * `q=0` refusals, `identity`, `*`); the server's order breaks ties, and the file itself (`identity`) loses
 * them, so `gzip, br` gets the brotli copy under the default `['br', 'gzip']`. A header without any coding it
 * accepts, or none at all, gets the plain file. Results are remembered per header value.
 */
export function createEncodingChooser(config: Config): (acceptEncoding: string | undefined) => EncodingChoice {
  const offered = config.precompressed;
  if (offered.length === 0) return () => PLAIN;
  const names = offered.map((sidecar) => sidecar.encoding as string);
  const provided = [...names, 'identity'];
  const memo = new Map<string, EncodingChoice>();

  const negotiate = (header: string): EncodingChoice => {
    // negotiator 1.x takes `{ preferred }` (the tie-break order); its published types predate it.
    const negotiator = new Negotiator({ headers: { 'accept-encoding': header } }) as unknown as {
      encodings(available: readonly string[], options: { preferred: readonly string[] }): string[];
    };
    const ranked = negotiator.encodings(provided, { preferred: provided });
    const sidecars: Sidecar[] = [];
    for (const name of ranked) {
      if (name === 'identity') break;
      sidecars.push(offered[names.indexOf(name)] as Sidecar);
    }
    if (sidecars.length === 0) return PLAIN;
    return Object.freeze({ sidecars: Object.freeze(sidecars), key: sidecars.map((sidecar) => sidecar.encoding).join(',') });
  };

  return (acceptEncoding) => {
    if (acceptEncoding === undefined || acceptEncoding === '') return PLAIN;
    let choice = memo.get(acceptEncoding);
    if (choice === undefined) {
      choice = negotiate(acceptEncoding);
      if (memo.size < MEMO_LIMIT) memo.set(acceptEncoding, choice);
    }
    return choice;
  };
}
