import { describe, expect, it } from 'vitest';
import { type ImportSpecInput, parseImportSpec } from '../../../shared/config/index.js';
import {
  billPrice,
  commandBill,
  commandsPer100Keys,
  describeBill,
  formatUsd,
  planCommands,
  UPSTASH_PRICE_PER_100K,
} from '../../../shared/import/index.js';
import { assessPreflight, type KeySample, type SourceSample } from '../../../shared/memory/index.js';

function spec(model: ImportSpecInput['model'], extra: Partial<ImportSpecInput> = {}) {
  return parseImportSpec({ format: { type: 'csv' }, key: 'user:{id}', model, ...extra });
}

/**
 * A sample like the one `sampleSource` takes: 8 slices of consecutive records along a file of `keys`
 * records whose ids are `idAt(position)`, 12 bytes per record.
 */
function sample(keys: number, idAt: (position: number) => number): SourceSample {
  const samples: KeySample[] = [];
  for (let slice = 0; slice < 8; slice++) {
    const from = Math.floor((slice * keys) / 8);
    for (let i = 0; i < 1250; i++) samples.push({ key: `user:${idAt(from + i)}`, value: '1' });
  }
  return {
    source: 'users.csv',
    bytes: keys * 12,
    sampledBytes: samples.length * 12,
    sampledRecords: samples.length,
    bytesPerRecord: 12,
    records: keys,
    keys,
    samples,
    complete: false,
  };
}

/** A fixed permutation of 0 … n-1 (an affine map with a multiplier coprime to n). */
const scattered = (n: number) => (position: number) => (position * 7_919 + 13) % n;

describe('commands per 100 keys and the bill', () => {
  it('commandsPer100Keys: per 100 keys written; null when nothing was written', () => {
    expect(commandsPer100Keys(1_000_000, 1_000_000)).toBe(100);
    expect(commandsPer100Keys(25_642, 100_000)).toBeCloseTo(25.642);
    expect(commandsPer100Keys(3, 0)).toBeNull();
  });

  it('billPrice: an explicit price wins; an http(s) URL (Upstash REST) means the list price; else none', () => {
    expect(UPSTASH_PRICE_PER_100K).toBe(0.2);
    expect(billPrice(['https://eu1-fine-cat-31.upstash.io'])).toBe(0.2);
    expect(billPrice(['redis://a:6379', ' HTTP://127.0.0.1:8079'])).toBe(0.2);
    expect(billPrice(['redis://a:6379', 'rediss://b:6380'])).toBeUndefined();
    expect(billPrice([])).toBeUndefined();
    expect(billPrice(['redis://a:6379'], 0.35)).toBe(0.35);
    expect(billPrice(['https://x.upstash.io'], 0)).toBe(0);
  });

  it('commandBill: dollars for the commands at the price per 100 k', () => {
    expect(commandBill(1_000_000, 0.2)).toEqual({ pricePer100k: 0.2, usd: 2 });
    expect(commandBill(250_000_000, 0.2).usd).toBeCloseTo(500);
    expect(commandBill(0, 0.2).usd).toBe(0);
  });

  it('formatUsd: cents from a cent on, two significant digits below', () => {
    expect(formatUsd(2)).toBe('$2.00');
    expect(formatUsd(0.2)).toBe('$0.20');
    expect(formatUsd(1234.567)).toBe('$1,234.57');
    expect(formatUsd(0.01)).toBe('$0.01');
    expect(formatUsd(0.002)).toBe('$0.0020');
    expect(formatUsd(0.000_123_4)).toBe('$0.00012');
    expect(formatUsd(0)).toBe('$0.00');
  });

  it('describeBill: the amount and the price it assumes', () => {
    expect(describeBill(commandBill(1_000_000, 0.2))).toBe('≈ $2.00 at $0.20 per 100 k commands');
    expect(describeBill(commandBill(5_000, 0.2))).toBe('≈ $0.01 at $0.20 per 100 k commands');
  });
});

describe('planCommands: what each planned model would send', () => {
  const keys = 10_000_000;

  it('string: 100 per 100 keys, with or without a TTL (SET … EX); hash: 200 with a TTL', () => {
    const s = sample(keys, (i) => i);
    for (const ttl of [false, { seconds: 60, jitterPercent: 0 }] as const) {
      const sp = spec({ type: 'string', value: 'v' }, { ttl });
      const report = assessPreflight({ spec: sp, sample: s, readings: [] });
      expect(planCommands(report.model, s, sp)).toMatchObject({ commands: keys, per100Keys: 100 });
    }
    const hash = spec({ type: 'hash' }, { ttl: { seconds: 60, jitterPercent: 0 } });
    const report = assessPreflight({ spec: hash, sample: s, readings: [] });
    expect(planCommands(report.model, s, hash).per100Keys).toBe(200);
  });

  it('bucketed hash scheme: one HSET per key among many buckets, plus one EXPIRE per bucket and load', () => {
    const s = sample(keys, (i) => i);
    const sp = spec({ type: 'bucketed', value: 'v' }, { ttl: { seconds: 60, jitterPercent: 0 } });
    const report = assessPreflight({ spec: sp, sample: s, readings: [] });
    const buckets = report.model.bucketCount!;
    const one = planCommands(report.model, s, sp);
    expect(one.writes).toBe(keys);
    expect(one.expires).toBeCloseTo(buckets, -1);
    // 20 Lambda chunks of 500,000 keys: each touches nearly every bucket, so nearly 20 EXPIREs per bucket.
    const chunks = planCommands(report.model, s, sp, 20);
    expect(chunks.expires).toBeGreaterThan(19 * buckets);
    expect(chunks.per100Keys).toBeGreaterThan(one.per100Keys + 10);
  });

  it('bucketed range scheme: ids sorted in the file share HSETs; scattered ids cost about one per key', () => {
    const sp = spec({ type: 'bucketed', value: 'v', scheme: 'range', bucketSize: 100 });
    const sorted = sample(keys, (i) => i);
    const sortedPlan = planCommands(
      assessPreflight({ spec: sp, sample: sorted, readings: [] }).model,
      sorted,
      sp,
    );
    // A batch of ~4,000 sorted ids spans ~40 buckets of 100: one HSET each.
    expect(sortedPlan.per100Keys).toBeGreaterThan(1);
    expect(sortedPlan.per100Keys).toBeLessThan(1.1);
    const shuffled = sample(keys, scattered(keys));
    const shuffledPlan = planCommands(
      assessPreflight({ spec: sp, sample: shuffled, readings: [] }).model,
      shuffled,
      sp,
    );
    expect(shuffledPlan.per100Keys).toBeGreaterThan(95);
  });
});
