import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BucketParams,
  bucketOf,
  commonPrefix,
  decodeBucketParams,
  encodeBucketParams,
  fieldOfSuffix,
  fnv1a32,
  UNSTRIPPED_MARK,
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

describe('stripped field prefixes', () => {
  it('commonPrefix keeps the namespace 90 % of the sampled keys share, up to a separator', () => {
    expect(commonPrefix(['user:0012', 'user:0047', 'user:0099'])).toBe('user:');
    expect(commonPrefix(['tenant/7/a', 'tenant/7/b'])).toBe('tenant/7/');
    expect(commonPrefix(['app.cache.x1', 'app.cache.x2'])).toBe('app.cache.');
    expect(commonPrefix(['12345', '12999'])).toBe('');
    expect(commonPrefix(['user:1', 'team:1'])).toBe('');
    expect(commonPrefix(['only:one'])).toBe('only:');
    expect(commonPrefix([])).toBe('');
    const mostly = [
      ...Array.from({ length: 95 }, (_, i) => `user:${i}`),
      ...Array.from({ length: 5 }, (_, i) => `team:${i}`),
    ];
    expect(commonPrefix(mostly)).toBe('user:');
    const split = [
      ...Array.from({ length: 85 }, (_, i) => `user:${i}`),
      ...Array.from({ length: 15 }, (_, i) => `team:${i}`),
    ];
    expect(commonPrefix(split)).toBe('');
  });

  it('fieldOfSuffix is one-to-one, and a stripped field never starts with the mark (property)', () => {
    const strip = fc.constantFrom('user:', 'a/', '\u00e9t\u00e9:', 'x-');
    const suffix = (s: string) =>
      fc.oneof(
        fc.string({ maxLength: 8 }).map((t) => s + t),
        fc.string({ maxLength: 8 }).map((t) => `${s}\u0000${t}`),
        fc.string({ maxLength: 10 }),
      );
    fc.assert(
      fc.property(
        strip.chain((s) => fc.tuple(fc.constant(s), suffix(s), suffix(s))),
        ([s, a, b]) => {
          const fa = fieldOfSuffix(a, s);
          const fb = fieldOfSuffix(b, s);
          expect(fa === fb).toBe(a === b);
          if (fa.startsWith(UNSTRIPPED_MARK)) expect(fa.slice(1)).toBe(a);
          else expect(s + fa).toBe(a);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('bucketOf gives the stripped field; the parameters survive the meta hash', () => {
    const p: BucketParams = {
      scheme: 'hash',
      prefix: 'bkt:',
      keyPrefix: '',
      bucketCount: 10,
      fieldStrip: 'user:',
    };
    expect(bucketOf('user:42', p)).toEqual({
      index: fnv1a32('user:42') % 10,
      bucket: `bkt:${fnv1a32('user:42') % 10}`,
      field: '42',
    });
    expect(bucketOf('team:42', p)).toMatchObject({ field: '\u0000team:42' });
    expect(decodeBucketParams(encodeBucketParams(p))).toEqual(p);
    expect(encodeBucketParams(hash)).not.toContain('fieldStrip');
    expect(decodeBucketParams(encodeBucketParams(hash))).toEqual(hash);
  });
});
