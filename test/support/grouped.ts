import { expect } from 'vitest';
import { redisCli } from './redis-server.js';

/** `id,score` CSV of `n` rows `<i>,s<i>` after a header, with the last `dupes` rows repeating ids with `t<i>`. */
export function scoreRows(n: number, dupes = 0): { text: string; last: Map<string, string> } {
  const parts = ['id,score\n'];
  const last = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const dupe = i >= n - dupes;
    const id = dupe ? String((i * 7919) % (n - dupes)) : String(i);
    const score = dupe ? `t${i}` : `s${i}`;
    parts.push(`${id},${score}\n`);
    last.set(id, score);
  }
  return { text: parts.join(''), last };
}

/**
 * Asserts that the hash-scheme buckets `<prefix>0 … <prefix><count-1>` hold exactly the fields of `last`
 * (field = id, value = its last score): no field missing, none extra, none stale. Read with redis-cli and one
 * Lua pass per bucket range, independent of the loader's driver and of readKey.
 */
export async function expectBucketFields(
  port: number,
  prefix: string,
  count: number,
  last: Map<string, string>,
): Promise<void> {
  const script = `local out = {} for i = tonumber(ARGV[2]), tonumber(ARGV[3]) do local h = redis.call('HGETALL', ARGV[1] .. i) for j = 1, #h do out[#out + 1] = h[j] end end return out`;
  const seen = new Map<string, string>();
  const step = 200;
  for (let from = 0; from < count; from += step) {
    const text = await redisCli(
      port,
      'EVAL',
      script,
      '0',
      prefix,
      String(from),
      String(Math.min(count, from + step) - 1),
    );
    const items = text === '' ? [] : text.split('\n');
    for (let j = 0; j + 1 < items.length; j += 2) {
      expect(seen.has(items[j]!)).toBe(false);
      seen.set(items[j]!, items[j + 1]!);
    }
  }
  expect(seen.size).toBe(last.size);
  for (const [id, score] of last)
    if (seen.get(id) !== score) expect(`${id}=${seen.get(id)}`).toBe(`${id}=${score}`);
}
