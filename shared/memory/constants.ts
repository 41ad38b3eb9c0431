/** The two settings that decide whether a small hash keeps the compact listpack encoding. */
export interface ListpackLimits {
  /** `hash-max-listpack-entries`: more fields than this and the hash becomes a hashtable. */
  readonly entries: number;
  /** `hash-max-listpack-value`: a field or value longer than this (bytes) makes the hash a hashtable. */
  readonly value: number;
}

/**
 * What the loader assumes when it cannot read the server's settings (`CONFIG` disabled, as on most managed
 * Redis services): the values of the `redis.conf` that ships with Redis and of ElastiCache's default parameter
 * group. A redis-server started without any config file uses 512 entries instead; 128 is the safe guess.
 */
export const DEFAULT_LISTPACK: ListpackLimits = { entries: 128, value: 64 };

/** Share of `maxmemory` a load may fill, projected, before the pre-flight refuses it. @default 0.85 */
export const DEFAULT_MEMORY_LIMIT = 0.85;

/** Eviction policies under which Redis never shares the integer objects 0…9999 (each value needs its own robj). */
export const LRU_LFU_POLICIES = ['allkeys-lru', 'volatile-lru', 'allkeys-lfu', 'volatile-lfu'] as const;

/**
 * How much Redis RSS grows per byte of `used_memory` a load adds: jemalloc's fragmentation, which
 * `maxmemory` does not count but the host (or container) must hold. Measured after loads into Redis 7.0
 * (bench/RESULTS.md, 2026-12-06): 1.02-1.05 for string keys and for buckets written whole (grouped `HSET` or
 * `RESTORE`) at 50 M and 200 M keys; 1.44 for hash-scheme buckets grown one field at a time (the direct
 * path's one-field `HSET`s: every listpack realloc leaves a freed run behind) at 200 M.
 */
export const RSS_GROWTH = { compact: 1.05, scattered: 1.45 } as const;
