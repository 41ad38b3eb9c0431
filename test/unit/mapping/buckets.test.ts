import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BucketParams,
  bucketOf,
  decodeBucketParams,
  encodeBucketParams,
  fnv1a32,
} from '../../../shared/mapping/index.js';

const hash: BucketParams = { scheme: 'hash', prefix: 'user:bkt:', keyPrefix: 'user:', bucketCount: 1000 };
const range: BucketParams = { scheme: 'range', prefix: 'user:bkt:', keyPrefix: 'user:', bucketSize: 100 };

describe('bucketOf', () => {
  it('hash scheme: bucket from FNV-1a of the whole key, field = key without its prefix', () => {
    const a = bucketOf('user:12345', hash);
    expect(a).toEqual({
      index: fnv1a32('user:12345') % 1000,
      bucket: `user:bkt:${fnv1a32('user:12345') % 1000}`,
      field: '12345',
    });
  });

  it('range scheme: bucket = id / size, field = id mod size', () => {
    expect(bucketOf('user:12345', range)).toEqual({ index: 123, bucket: 'user:bkt:123', field: '45' });
    expect(bucketOf('user:0', range)).toEqual({ index: 0, bucket: 'user:bkt:0', field: '0' });
    expect(bucketOf('user:abc', range)).toMatch(/non-negative integer/);
    expect(bucketOf('user:007', range)).toMatch(/non-negative integer/);
    expect(bucketOf('item:1', range)).toMatch(/does not start with "user:"/);
  });

  it('never puts two different keys at the same address', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: 10_000_000 }), { minLength: 2, maxLength: 300 }), (ids) => {
        for (const params of [hash, range]) {
          const seen = new Set<string>();
          for (const id of ids) {
            const a = bucketOf(`user:${id}`, params);
            if (typeof a === 'string') throw new Error(a);
            const address = `${a.bucket}\u0000${a.field}`;
            expect(seen.has(address)).toBe(false);
            seen.add(address);
          }
        }
      }),
    );
  });

  it('round-trips its parameters through the meta hash encoding', () => {
    for (const params of [hash, range])
      expect(decodeBucketParams(encodeBucketParams(params))).toEqual(params);
    expect(decodeBucketParams([])).toBeUndefined();
    expect(() => decodeBucketParams(['scheme', 'nope'])).toThrow(/unreadable/);
  });
});
