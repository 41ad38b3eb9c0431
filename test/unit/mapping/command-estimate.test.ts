import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import {
  type BucketParams,
  bucketChangeRate,
  type CommandModel,
  createMapper,
  estimateCommands,
  locateBucket,
} from '../../../shared/mapping/index.js';
import { recordFactory } from '../../support/records.js';

const csv = { type: 'csv' } as const;
const TTL = { seconds: 3600, jitterPercent: 0 };

/** Runs the real mapper over `ids` in batches of `batch`, in `loads` independent loads; counts its commands. */
function mapperCommands(
  spec: Parameters<typeof parseImportSpec>[0],
  ids: readonly number[],
  batch: number,
  buckets?: BucketParams,
  loads = 1,
): number {
  const parsed = parseImportSpec(spec);
  const perLoad = Math.ceil(ids.length / loads);
  let commands = 0;
  for (let l = 0; l < loads; l++) {
    const mapper = createMapper(parsed, buckets);
    const mine = ids.slice(l * perLoad, (l + 1) * perLoad);
    for (let i = 0; i < mine.length; i += batch) {
      const records = mine.slice(i, i + batch).map((id) => recordFactory({ id: String(id), v: 'x' }));
      commands += mapper.map(records).commands.length;
    }
  }
  return commands;
}

/** 0 … n-1 in a fixed pseudo-random order. */
function shuffled(n: number): number[] {
  const ids = Array.from({ length: n }, (_, i) => i);
  let seed = 42;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids;
}

const sorted = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('estimateCommands', () => {
  it('string: one SET per key, the TTL riding on it (SET … EX)', () => {
    for (const ttl of [false, true]) {
      const e = estimateCommands({ type: 'string' }, { keys: 1_000_000, ttl, batchRecords: 4096 });
      expect(e).toEqual({ writes: 1_000_000, expires: 0, commands: 1_000_000, per100Keys: 100 });
      const spec = { format: csv, key: 'u:{id}', model: { type: 'string', value: 'v' }, ttl: ttl && TTL };
      expect(mapperCommands(spec, sorted(10_000), 4096)).toBe(10_000);
    }
  });

  it('hash: HSET per key, plus EXPIRE per key with a TTL', () => {
    expect(
      estimateCommands({ type: 'hash' }, { keys: 5000, ttl: false, batchRecords: 4096 }).per100Keys,
    ).toBe(100);
    expect(estimateCommands({ type: 'hash' }, { keys: 5000, ttl: true, batchRecords: 4096 }).per100Keys).toBe(
      200,
    );
    const spec = { format: csv, key: 'u:{id}', model: { type: 'hash' }, ttl: TTL };
    expect(mapperCommands(spec, sorted(5000), 4096)).toBe(10_000);
  });

  it('no keys: no commands, and a ratio of 0', () => {
    expect(estimateCommands({ type: 'hash' }, { keys: 0, ttl: true, batchRecords: 4096 })).toEqual({
      writes: 0,
      expires: 0,
      commands: 0,
      per100Keys: 0,
    });
  });

  // The mapper writes a hash-scheme batch key by key once bucketCount >= 4 x the batch, else grouped by bucket.
  it.each([
    ['grouped (few buckets)', 2000, 4096],
    ['grouped, just under the cut-over', 16_000, 4096],
    ['key by key (many buckets)', 50_000, 4096],
    ['key by key, small batches', 2000, 400],
  ])('bucketed hash scheme, %s: within 4 %% of what the mapper sends', (_, bucketCount, batch) => {
    const n = 200_000;
    const buckets: BucketParams = { scheme: 'hash', prefix: 'u:bkt:', keyPrefix: 'u:', bucketCount };
    const model: CommandModel = { type: 'bucketed', scheme: 'hash', bucketCount };
    for (const ttl of [false, true]) {
      const spec = { format: csv, key: 'u:{id}', model: { type: 'bucketed', value: 'v' }, ttl: ttl && TTL };
      const actual = mapperCommands(spec, sorted(n), batch, buckets);
      const e = estimateCommands(model, { keys: n, ttl, batchRecords: batch });
      // The estimate takes buckets as uniformly random; FNV-1a of sequential ids collides a little less
      // (3,717 distinct buckets per batch of 4,096 over 16,000 buckets, against 3,614 expected).
      expect(Math.abs(e.commands - actual) / actual).toBeLessThan(0.04);
    }
  });

  it('bucketed with a TTL: each load (Lambda chunk) gives every bucket it touches its own EXPIRE', () => {
    const n = 200_000;
    const bucketCount = 2000;
    const buckets: BucketParams = { scheme: 'hash', prefix: 'u:bkt:', keyPrefix: 'u:', bucketCount };
    const spec = { format: csv, key: 'u:{id}', model: { type: 'bucketed', value: 'v' }, ttl: TTL };
    const model: CommandModel = { type: 'bucketed', scheme: 'hash', bucketCount };
    const one = estimateCommands(model, { keys: n, ttl: true, batchRecords: 4096 });
    const eight = estimateCommands(model, { keys: n, ttl: true, batchRecords: 4096, loads: 8 });
    expect(one.expires).toBeCloseTo(bucketCount, 0);
    expect(eight.expires).toBeGreaterThan(7.9 * bucketCount);
    const actual = mapperCommands(spec, sorted(n), 4096, buckets, 8);
    expect(Math.abs(eight.commands - actual) / actual).toBeLessThan(0.02);
  });

  it('grouped bucket writes: one HSET per bucket the load touches, and one EXPIRE each with a TTL', () => {
    const model: CommandModel = { type: 'bucketed', scheme: 'hash', bucketCount: 10_000 };
    const plain = estimateCommands(model, { keys: 1_000_000, ttl: false, batchRecords: 4096, grouped: true });
    expect(plain.writes).toBeCloseTo(10_000, 0);
    expect(plain.expires).toBe(0);
    const ttl = estimateCommands(model, { keys: 1_000_000, ttl: true, batchRecords: 4096, grouped: true });
    expect(ttl.commands).toBeCloseTo(20_000, 0);
    // Fewer keys than buckets: only the buckets they land in.
    const few = estimateCommands(model, { keys: 100, ttl: false, batchRecords: 4096, grouped: true });
    expect(few.writes).toBeGreaterThan(99);
    expect(few.writes).toBeLessThanOrEqual(100);
    const range: CommandModel = { type: 'bucketed', scheme: 'range', buckets: 500, changeRate: 1 };
    expect(
      estimateCommands(range, { keys: 50_000, ttl: true, batchRecords: 4096, grouped: true }).commands,
    ).toBe(1000);
  });

  it.each([
    ['ids sorted in the file', sorted],
    ['ids shuffled', shuffled],
  ])('bucketed range scheme, %s: within 3 %% of what the mapper sends', (_, order) => {
    const n = 200_000;
    const size = 100;
    const buckets: BucketParams = { scheme: 'range', prefix: 'u:bkt:', keyPrefix: 'u:', bucketSize: size };
    const ids = order(n);
    const slot = { field: '', reason: '' };
    const changeRate = bucketChangeRate(
      ids.map((id) => `u:${id}`),
      (key) => locateBucket(key, buckets, slot),
    );
    const model: CommandModel = { type: 'bucketed', scheme: 'range', buckets: n / size, changeRate };
    for (const ttl of [false, true]) {
      const spec = {
        format: csv,
        key: 'u:{id}',
        model: { type: 'bucketed', value: 'v', scheme: 'range', bucketSize: size },
        ttl: ttl && TTL,
      };
      const actual = mapperCommands(spec, ids, 4096, buckets);
      const e = estimateCommands(model, { keys: n, ttl, batchRecords: 4096 });
      expect(Math.abs(e.commands - actual) / actual).toBeLessThan(0.03);
    }
  });
});

describe('bucketChangeRate', () => {
  it('is the share of consecutive keys in another bucket; keys outside the scheme are skipped', () => {
    const of = (k: string) => (k === 'bad' ? -1 : Math.floor(Number(k) / 10));
    expect(bucketChangeRate(['1', '2', '3', '11'], of)).toBeCloseTo(1 / 3);
    expect(bucketChangeRate(['1', 'bad', '2'], of)).toBe(0);
    expect(bucketChangeRate(['1', '21', '2'], of)).toBe(1);
    // Nothing to compare: assume every key changes bucket (the dearer guess).
    expect(bucketChangeRate(['1'], of)).toBe(1);
  });
});
