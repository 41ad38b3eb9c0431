import type { TtlSpec } from '../config/index.js';
import { fnv1a32 } from './fnv.js';

/**
 * Returns the TTL in seconds for a key: `seconds` plus a jitter of up to `jitterPercent` %, derived from the key's
 * hash so that replaying a record sets the very same TTL (idempotent), while keys loaded together still expire
 * spread out rather than all in the same second.
 */
export function createTtl(spec: TtlSpec): ((key: string) => string) | undefined {
  if (spec === false) return undefined;
  const { seconds, jitterPercent } = spec;
  if (jitterPercent === 0) {
    const fixed = String(seconds);
    return () => fixed;
  }
  const spread = Math.floor((seconds * jitterPercent) / 100);
  return (key) => String(seconds + (fnv1a32(key) % (spread + 1)));
}
