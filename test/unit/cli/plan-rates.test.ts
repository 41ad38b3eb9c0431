import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETED_RATES, rateAt } from '../../../cli/plan-command.js';

describe('plan: the bucketed rate comes from the measured curve of the write path', () => {
  it('returns the measured points exactly and holds the ends', () => {
    for (const points of Object.values(BUCKETED_RATES)) {
      for (const [keys, rate] of points) expect(rateAt(points, keys)).toBeCloseTo(rate, 6);
      expect(rateAt(points, 1)).toBe(points[0]![1]);
      expect(rateAt(points, 1e12)).toBe(points[points.length - 1]![1]);
    }
  });

  it('interpolates on the log of the size: between its neighbours, halfway in log space', () => {
    const direct = BUCKETED_RATES.direct;
    expect(rateAt(direct, Math.sqrt(1e6 * 5e6))).toBeCloseTo((900_000 + 750_000) / 2, 0);
    fc.assert(
      fc.property(fc.double({ min: 1e6, max: 2e8, noNaN: true }), (keys) => {
        const rate = rateAt(direct, keys);
        expect(rate).toBeLessThanOrEqual(900_000);
        expect(rate).toBeGreaterThanOrEqual(414_000);
      }),
    );
  });

  it('the direct path slows as the keyspace grows, the grouped paths do not fall below it at 20 M', () => {
    expect(rateAt(BUCKETED_RATES.direct, 200e6)).toBeLessThan(rateAt(BUCKETED_RATES.direct, 1e6));
    expect(rateAt(BUCKETED_RATES.restore, 20e6)).toBeGreaterThan(rateAt(BUCKETED_RATES.direct, 20e6));
    expect(rateAt(BUCKETED_RATES.hset, 20e6)).toBeGreaterThan(rateAt(BUCKETED_RATES.direct, 20e6));
  });
});
