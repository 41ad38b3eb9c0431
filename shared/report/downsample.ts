import type { ChunkSpan } from './types.js';

/** A chart point: x in milliseconds since the import start, y in the series' unit. */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/**
 * At most `max` items evenly spread over `items`, always keeping the first and the last. For cumulative
 * counters this is exact: the rate between two kept samples is the mean rate over the samples dropped between.
 */
export function thinEvenly<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  if (max <= 0) return [];
  if (max === 1) return [items.at(-1)!];
  const out: T[] = [];
  const step = (items.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(items[Math.round(i * step)]!);
  return out;
}

/**
 * At most `max` points of a gauge (memory), keeping each bucket's lowest and highest point in time order, so a
 * peak that neared `maxmemory` survives however many samples were dropped around it.
 */
export function downsampleMinMax(points: readonly Point[], max: number): Point[] {
  if (points.length <= max) return [...points];
  const buckets = Math.max(1, Math.floor(max / 2));
  const size = points.length / buckets;
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * size);
    const to = Math.min(points.length, Math.floor((b + 1) * size));
    let lo = from;
    let hi = from;
    for (let i = from + 1; i < to; i++) {
      if (points[i]!.y < points[lo]!.y) lo = i;
      if (points[i]!.y > points[hi]!.y) hi = i;
    }
    if (lo === hi) out.push(points[lo]!);
    else out.push(points[Math.min(lo, hi)]!, points[Math.max(lo, hi)]!);
  }
  return out;
}

/** Whether a chunk deserves a bar even when most are left out: it failed, retried or continued. */
function notable(c: ChunkSpan): boolean {
  return c.status !== 'completed' || c.retries > 0 || c.continuations > 0;
}

/**
 * At most `max` chunks to draw, in index order: the notable ones first (failed, retried, continued), then
 * chunks evenly spread over the rest, so the drawn bars still show the shape of the whole run.
 */
export function pickChunks(chunks: readonly ChunkSpan[], max: number): ChunkSpan[] {
  const sorted = [...chunks].sort((a, b) => a.index - b.index);
  if (sorted.length <= max) return sorted;
  const special = sorted.filter(notable).slice(0, max);
  const rest = sorted.filter((c) => !notable(c));
  const chosen = [...special, ...thinEvenly(rest, max - special.length)];
  return chosen.sort((a, b) => a.index - b.index);
}
