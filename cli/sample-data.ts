import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** Deterministic pseudo-random numbers (mulberry32), so generated data is the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes `rows` records of `id,score` (ids 0…rows-1, score a seeded integer 0–999) as CSV with a header, or as
 * JSON Lines `{"id":…,"score":…}`. Streams with backpressure; memory stays flat whatever `rows` is.
 */
export async function writeSampleData(
  path: string,
  rows: number,
  format: 'csv' | 'jsonl' = 'csv',
  seed = 42,
) {
  const out = createWriteStream(path);
  const random = seeded(seed);
  let chunk = format === 'csv' ? 'id,score\n' : '';
  for (let i = 0; i < rows; i++) {
    const score = Math.floor(random() * 1000);
    chunk += format === 'csv' ? `${i},${score}\n` : `{"id":${i},"score":${score}}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}
