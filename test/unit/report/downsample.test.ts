import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { downsampleMinMax, pickChunks, thinEvenly } from '../../../shared/report/downsample.js';
import { ratesOf } from '../../../shared/report/throughput.js';
import type { ChunkSpan } from '../../../shared/report/index.js';

const limit = fc.integer({ min: 2, max: 700 });

describe('downsampling', () => {
  it('thinEvenly keeps at most max items, in order, with the first and the last', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 3000 }), limit, (items, max) => {
        const kept = thinEvenly(
          items.map((v, i) => ({ i, v })),
          max,
        );
        expect(kept.length).toBe(Math.min(items.length, max));
        if (items.length > 0) {
          expect(kept[0]!.i).toBe(0);
          expect(kept.at(-1)!.i).toBe(items.length - 1);
        }
        for (let k = 1; k < kept.length; k++) expect(kept[k]!.i).toBeGreaterThan(kept[k - 1]!.i);
      }),
    );
    expect(thinEvenly([1, 2, 3], 0)).toEqual([]);
  });

  it('downsampleMinMax keeps at most max points, in time order, and the extremes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 5000 }),
        limit,
        (ys, max) => {
          const points = ys.map((y, x) => ({ x, y }));
          const kept = downsampleMinMax(points, max);
          expect(kept.length).toBeLessThanOrEqual(max);
          for (let k = 1; k < kept.length; k++) expect(kept[k]!.x).toBeGreaterThan(kept[k - 1]!.x);
          // A memory peak is what the chart is for: it must survive.
          expect(Math.max(...kept.map((p) => p.y))).toBe(Math.max(...ys));
          expect(Math.min(...kept.map((p) => p.y))).toBe(Math.min(...ys));
        },
      ),
    );
  });

  it('rates of cumulative samples are never negative and sum back to the total', () => {
    const samples = [
      { atMs: 0, written: 0, rejected: 0, bytesRead: 0 },
      { atMs: 1000, written: 500, rejected: 0, bytesRead: 10 },
      { atMs: 1000, written: 600, rejected: 0, bytesRead: 10 },
      { atMs: 3000, written: 400, rejected: 0, bytesRead: 20 },
    ];
    expect(ratesOf(samples, 'written')).toEqual([
      { x: 1000, y: 500 },
      { x: 3000, y: 0 },
    ]);
    const thinned = thinEvenly(
      Array.from({ length: 10_001 }, (_, i) => ({
        atMs: i * 100,
        written: i * 7,
        rejected: 0,
        bytesRead: 0,
      })),
      601,
    );
    const rates = ratesOf(thinned, 'written');
    expect(rates.length).toBe(600);
    const total = rates.reduce((a, p, k) => a + (p.y * (p.x - thinned[k]!.atMs)) / 1000, 0);
    expect(total).toBeCloseTo(70_000, 6);
  });

  it('pickChunks caps the bars, keeps every notable chunk first and draws in index order', () => {
    const span = fc.record({
      retries: fc.nat({ max: 2 }),
      continuations: fc.nat({ max: 1 }),
      status: fc.constantFrom('completed', 'completed', 'completed', 'failed', 'running', 'not completed'),
    });
    fc.assert(
      fc.property(fc.array(span, { maxLength: 2000 }), limit, (specs, max) => {
        const chunks: ChunkSpan[] = specs.map((s, index) => ({
          index,
          startMs: index,
          endMs: index + 5,
          ...s,
        }));
        const picked = pickChunks(chunks, max);
        expect(picked.length).toBe(Math.min(max, chunks.length));
        for (let k = 1; k < picked.length; k++)
          expect(picked[k]!.index).toBeGreaterThan(picked[k - 1]!.index);
        const notable = chunks.filter(
          (c) => c.status !== 'completed' || c.retries > 0 || c.continuations > 0,
        );
        const pickedNotable = picked.filter((c) => notable.includes(c));
        expect(pickedNotable.length).toBe(Math.min(notable.length, max));
      }),
    );
  });
});
