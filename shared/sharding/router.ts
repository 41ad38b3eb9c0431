import { fnv1a32 } from '../mapping/index.js';
import { jumpHash } from './jump-hash.js';

/** Picks the shard of a routing key (the bucket key in the bucketed model, the key otherwise). */
export interface Router {
  readonly shards: number;
  route(key: string): number;
}

/**
 * A router over `shards` standalone Redis servers: jump consistent hash of the key's FNV-1a hash, so adding a
 * shard moves only 1/(n+1) of the keys. With one shard every key routes to 0 without hashing.
 *
 * @example
 * const router = createJumpRouter(3);
 * router.route('user:bkt:17') // 0, 1 or 2, stable across runs and machines
 */
export function createJumpRouter(shards: number): Router {
  if (!Number.isInteger(shards) || shards < 1)
    throw new RangeError(`shard count must be a positive integer, got ${shards}`);
  if (shards === 1) return { shards, route: () => 0 };
  return { shards, route: (key) => jumpHash(0, fnv1a32(key), shards) };
}
