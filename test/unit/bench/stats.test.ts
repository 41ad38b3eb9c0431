import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, medianInterval } from '../../../bench/stats.js';

/** P(Binomial(n, 1/2) <= j), exactly for the small n used here. */
function binomialCdf(n: number, j: number): number {
  let c = 1;
  let sum = 0;
  for (let i = 0; i <= j; i++) {
    sum += c;
    c = (c * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

describe('medianInterval', () => {
  it('gives the order statistics of the textbook sign-test interval', () => {
    expect(medianInterval([9, 1, 8, 2, 7, 3, 6, 4, 5])).toEqual({ low: 2, high: 8, level: 0.961 });
    expect(medianInterval([1, 2, 3, 4, 5, 6])).toEqual({ low: 1, high: 6, level: 0.969 });
    expect(medianInterval(Array.from({ length: 15 }, (_, i) => i + 1))).toEqual({
      low: 4,
      high: 12,
      level: 0.965,
    });
  });

  it('has no interval below 6 values, where even the full range covers less than 95 %', () => {
    expect(medianInterval([1, 2, 3, 4, 5])).toBeUndefined();
    expect(medianInterval([])).toBeUndefined();
  });

  it('is the order statistics of the narrowest sign-test interval of at least 95 %, around the median', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 6, maxLength: 60 }),
        (xs) => {
          const n = xs.length;
          // The rank k found independently: the largest with 1 - 2 P(B <= k - 1) >= 95 %.
          let k = 0;
          while (k < n && 1 - 2 * binomialCdf(n, k) >= 0.95) k++;
          const s = [...xs].sort((a, b) => a - b);
          const ci = medianInterval(xs)!;
          expect(ci.low).toBe(s[k - 1]);
          expect(ci.high).toBe(s[n - k]);
          expect(ci.level).toBeCloseTo(1 - 2 * binomialCdf(n, k - 1), 3);
          expect(ci.low).toBeLessThanOrEqual(median(xs));
          expect(ci.high).toBeGreaterThanOrEqual(median(xs));
        },
      ),
    );
  });

  it('refuses more values than it can compute exactly', () => {
    expect(() => medianInterval(new Array<number>(1001).fill(1))).toThrow(RangeError);
  });
});
