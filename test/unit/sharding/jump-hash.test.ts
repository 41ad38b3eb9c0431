import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createJumpRouter, jumpHash } from '../../../shared/sharding/index.js';

/** Lamping & Veach's reference, in BigInt. */
function reference(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  let k = key;
  const mask = (1n << 64n) - 1n;
  while (j < BigInt(buckets)) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & mask;
    j = BigInt(Math.floor(Number(b + 1n) * (2 ** 31 / Number((k >> 33n) + 1n))));
  }
  return Number(b);
}

describe('jumpHash', () => {
  it('agrees with the 64-bit reference for any key and bucket count', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: 1, max: 5000 }),
        (key, n) => {
          const hi = Number(key >> 32n);
          const lo = Number(key & 0xffffffffn);
          expect(jumpHash(hi, lo, n)).toBe(reference(key, n));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('moves only the keys that go to the new shard when one is added', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { minLength: 50, maxLength: 200 }),
        fc.integer({ min: 1, max: 32 }),
        (keys, n) => {
          const before = createJumpRouter(n);
          const after = createJumpRouter(n + 1);
          for (const k of keys) {
            const moved = after.route(k);
            if (moved !== before.route(k)) expect(moved).toBe(n);
          }
        },
      ),
    );
  });

  it('spreads keys evenly over shards', () => {
    const router = createJumpRouter(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[router.route(`user:bkt:${i}`)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(9_400);
  });

  it('routes everything to shard 0 with one shard and refuses a bad count', () => {
    expect(createJumpRouter(1).route('anything')).toBe(0);
    expect(() => createJumpRouter(0)).toThrow(RangeError);
  });
});
