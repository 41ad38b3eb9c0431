import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allocSize,
  dictGrowth,
  dictSlots,
  fitBucketSize,
  listpackEntryBytes,
  maxHashBucketMean,
  redisInteger,
  sdsAlloc,
  stringValueBytes,
} from '../../../shared/memory/index.js';

describe('allocSize (jemalloc size classes)', () => {
  it('rounds to the classes Redis sees in used_memory', () => {
    const cases: [number, number][] = [
      [1, 8],
      [8, 8],
      [9, 16],
      [24, 32],
      [50, 64],
      [104, 112],
      [128, 128],
      [129, 160],
      [494, 512],
      [794, 896],
      [1025, 1280],
      [4_194_304, 4_194_304],
      [4_194_305, 5_242_880],
    ];
    for (const [n, size] of cases) expect(allocSize(n), `allocSize(${n})`).toBe(size);
  });

  it('is the smallest class ≥ n, and classes are at most 25 % apart above 128 bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 129, max: 2 ** 34 }), (n) => {
        const size = allocSize(n);
        expect(size).toBeGreaterThanOrEqual(n);
        expect(size).toBeLessThanOrEqual(n * 1.25 + 1);
        expect(allocSize(size)).toBe(size);
      }),
    );
  });
});

describe('Redis structure sizes', () => {
  it('SDS: 1-byte header under 32 bytes, 3 bytes under 256', () => {
    expect(sdsAlloc(11)).toBe(16); // "user:123456"
    expect(sdsAlloc(31)).toBe(48);
    expect(sdsAlloc(44)).toBe(48);
    expect(sdsAlloc(100)).toBe(112);
  });

  it('integers are canonical decimals in the signed 64-bit range', () => {
    expect(redisInteger('0')).toBe(0n);
    expect(redisInteger('-42')).toBe(-42n);
    expect(redisInteger('9223372036854775807')).toBe(9223372036854775807n);
    for (const text of ['007', '-0', '+1', '1.5', ' 1', '9223372036854775808', '', '1e3'])
      expect(redisInteger(text), text).toBeUndefined();
  });

  it('string values: shared integers, int robj, embstr up to 44 bytes, raw beyond', () => {
    expect(stringValueBytes('999', true)).toBe(0);
    expect(stringValueBytes('999', false)).toBe(16);
    expect(stringValueBytes('100999', true)).toBe(16);
    expect(stringValueBytes('x'.repeat(30), true)).toBe(64);
    expect(stringValueBytes('x'.repeat(44), true)).toBe(64);
    expect(stringValueBytes('x'.repeat(100), true)).toBe(16 + 112);
  });

  it('listpack entries: integer encodings by range, string headers by length, plus the back-length', () => {
    expect(listpackEntryBytes('127')).toBe(2);
    expect(listpackEntryBytes('999')).toBe(3);
    expect(listpackEntryBytes('-4096')).toBe(3);
    expect(listpackEntryBytes('32767')).toBe(4);
    expect(listpackEntryBytes('123456')).toBe(5);
    expect(listpackEntryBytes('2147483647')).toBe(6);
    expect(listpackEntryBytes('9223372036854775807')).toBe(10);
    expect(listpackEntryBytes('name')).toBe(6);
    expect(listpackEntryBytes('007')).toBe(5);
    expect(listpackEntryBytes('x'.repeat(63))).toBe(65);
    expect(listpackEntryBytes('x'.repeat(64))).toBe(67);
    expect(listpackEntryBytes('x'.repeat(200))).toBe(204);
  });

  it('hash tables grow by powers of two; the old table lives on while rehashing', () => {
    expect(dictSlots(0)).toBe(0);
    expect(dictSlots(3)).toBe(4);
    expect(dictSlots(1_000_000)).toBe(2 ** 20);
    expect(dictGrowth(0, 1_000_000)).toEqual({ bytes: 8 * 2 ** 20, transient: 4 * 2 ** 20 });
    expect(dictGrowth(600_000, 100_000)).toEqual({ bytes: 0, transient: 0 });
  });
});

describe('listpack-aware bucket sizes', () => {
  it('the hash-scheme mean leaves five standard deviations below the limit', () => {
    expect(maxHashBucketMean(128)).toBe(82);
    expect(maxHashBucketMean(512)).toBe(410);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (limit) => {
        const m = maxHashBucketMean(limit);
        expect(m).toBeGreaterThanOrEqual(1);
        if (limit >= 6) {
          expect(m + 5 * Math.sqrt(m)).toBeLessThanOrEqual(limit + 1e-9);
          expect(m + 1 + 5 * Math.sqrt(m + 1)).toBeGreaterThan(limit);
        }
      }),
    );
  });

  it('lowers only sizes that would overflow: the range scheme up to the limit itself', () => {
    expect(fitBucketSize('hash', 100, 512)).toEqual({ requested: 100, size: 100, lowered: false });
    const hash = fitBucketSize('hash', 100, 128);
    expect(hash).toMatchObject({ requested: 100, size: 82, lowered: true });
    expect(hash.reason).toContain('hash-max-listpack-entries 128');
    expect(fitBucketSize('range', 128, 128)).toMatchObject({ size: 128, lowered: false });
    expect(fitBucketSize('range', 200, 128)).toMatchObject({ size: 128, lowered: true });
  });
});
