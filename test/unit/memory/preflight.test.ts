import { describe, expect, it } from 'vitest';
import { type ImportSpecInput, parseImportSpec } from '../../../shared/config/index.js';
import {
  assessPreflight,
  DEFAULT_LISTPACK,
  estimateMemory,
  type KeySample,
  type ShardReading,
  type SourceSample,
} from '../../../shared/memory/index.js';

const MiB = 1024 * 1024;

function spec(model: ImportSpecInput['model'], extra: Partial<ImportSpecInput> = {}) {
  return parseImportSpec({ format: { type: 'csv' }, key: 'user:{id}', model, ...extra });
}

/** A sample of `n` records user:<i> → value(i), standing for `keys` keys. */
function sample(keys: number, value = (i: number) => String(i % 1000), n = 10_000): SourceSample {
  const samples: KeySample[] = Array.from({ length: n }, (_, i) => {
    const id = Math.floor((i * keys) / n);
    return { key: `user:${id}`, value: value(id) };
  });
  return {
    source: 'users.csv',
    bytes: keys * 12,
    sampledBytes: n * 12,
    sampledRecords: n,
    bytesPerRecord: 12,
    records: keys,
    keys,
    samples,
    complete: false,
  };
}

function reading(over: Partial<ShardReading> = {}): ShardReading {
  return {
    shard: 'redis://127.0.0.1:6379/0',
    usedMemory: 1 * MiB,
    maxMemory: 1024 * MiB,
    policy: 'noeviction',
    keys: 0,
    expires: 0,
    listpack: { entries: 128, value: 64 },
    listpackSource: 'config',
    sharedIntegers: true,
    unread: [],
    ...over,
  };
}

describe('estimateMemory', () => {
  const ctx = { listpack: DEFAULT_LISTPACK, sharedIntegers: true, ttl: false };

  it('string keys with small integer values: dictEntry + key SDS + table slot (56.4 bytes at 1 M)', () => {
    const e = estimateMemory({ type: 'string' }, sample(1_000_000).samples, 1_000_000, ctx);
    expect(e.bytesPerKey).toBeCloseTo(32 + 16 + 8.39, 1);
    expect(e.transientBytes).toBe(4 * MiB);
    const ttl = estimateMemory({ type: 'string' }, sample(1_000_000).samples, 1_000_000, {
      ...ctx,
      ttl: true,
    });
    expect(ttl.bytesPerKey - e.bytesPerKey).toBeCloseTo(32 + 8.39, 1);
  });

  it('under an LRU policy even small integers need their own object', () => {
    const shared = estimateMemory({ type: 'string' }, sample(1000).samples, 1000, ctx);
    const own = estimateMemory({ type: 'string' }, sample(1000).samples, 1000, {
      ...ctx,
      sharedIntegers: false,
    });
    expect(own.bytes - shared.bytes).toBe(16 * 1000);
  });

  it('existing keys: the keyspace table only grows past its current size', () => {
    const fresh = estimateMemory({ type: 'string' }, sample(100_000).samples, 100_000, ctx);
    const onTop = estimateMemory({ type: 'string' }, sample(100_000).samples, 100_000, {
      ...ctx,
      existingKeys: 600_000,
    });
    // 100 k fresh keys need a 2^17-slot table; on top of 600 k they fit the 2^20 table already there.
    expect(fresh.bytes - onTop.bytes).toBe(8 * 2 ** 17);
  });

  it('bucketed range scheme: full buckets of 100 small entries in one 512-byte listpack each', () => {
    const e = estimateMemory(
      {
        type: 'bucketed',
        scheme: 'range',
        prefix: 'user:bkt:',
        keyPrefix: 'user:',
        bucketSize: 100,
        totalKeys: 1e6,
      },
      sample(1_000_000).samples,
      1_000_000,
      { ...ctx, listpack: { entries: 512, value: 64 } },
    );
    expect(e.redisKeys).toBe(10_000);
    expect(e.meanBucketFill).toBe(100);
    expect(e.bytesPerKey).toBeGreaterThan(5.5);
    expect(e.bytesPerKey).toBeLessThan(6.2);
    expect(e.hashtableShare).toBe(0);
  });

  it('bucketed hash scheme: too many keys per bucket turn buckets into hashtables', () => {
    const model = (buckets: number) =>
      ({
        type: 'bucketed',
        scheme: 'hash',
        prefix: 'user:bkt:',
        keyPrefix: 'user:',
        bucketCount: buckets,
        totalBuckets: buckets,
      }) as const;
    const s = sample(1_000_000).samples;
    const fitting = estimateMemory(model(12_200), s, 1_000_000, ctx);
    const crowded = estimateMemory(model(5_000), s, 1_000_000, ctx);
    expect(fitting.hashtableShare).toBeLessThan(0.001);
    expect(crowded.hashtableShare).toBeGreaterThan(0.99);
    expect(crowded.bytesPerKey).toBeGreaterThan(5 * fitting.bytesPerKey);
  });

  it('a long value costs its bucket the listpack encoding', () => {
    const longEvery100 = sample(100_000, (i) => (i % 100 === 0 ? 'x'.repeat(100) : '7'));
    const e = estimateMemory(
      {
        type: 'bucketed',
        scheme: 'range',
        prefix: 'user:bkt:',
        keyPrefix: 'user:',
        bucketSize: 50,
        totalKeys: 1e5,
      },
      longEvery100.samples,
      100_000,
      ctx,
    );
    // One sampled value in ten is long: a bucket of 50 almost surely holds one.
    expect(e.longEntries).toBe(1000);
    expect(e.hashtableShare).toBeGreaterThan(0.99);
  });
});

describe('assessPreflight: RSS', () => {
  const bucketed = spec({ type: 'bucketed', value: 'v' });
  const growthOf = (writes: 'direct' | 'grouped') =>
    assessPreflight({
      spec: bucketed,
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 0 })],
      writes,
    }).shards[0]!;

  it('projects RSS from used_memory_rss and the growth: 1.45 × for one-field HSETs into hash buckets, 1.05 × grouped', () => {
    const direct = assessPreflight({
      spec: bucketed,
      sample: sample(1_000_000),
      readings: [reading({ rss: 8 * MiB })],
    }).shards[0]!;
    expect(direct.rssFactor).toBe(1.45);
    expect(direct.projectedRss).toBeCloseTo(8 * MiB + direct.growth * 1.45, 0);
    const grouped = growthOf('grouped');
    expect(grouped.rssFactor).toBe(1.05);
    // Without used_memory_rss, the projection starts from used_memory.
    expect(grouped.projectedRss).toBeCloseTo(1 * MiB + grouped.growth * 1.05, 0);
    // Strings and range buckets filled in order hardly fragment, whatever the path.
    const string = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1000),
      readings: [reading()],
    });
    expect(string.shards[0]!.rssFactor).toBe(1.05);
  });

  it('warns when RSS would pass maxmemory though used_memory fits, and names grouped writes as the remedy', () => {
    const growth = growthOf('direct').growth;
    // used_memory ends at 80 % of maxmemory (under the 85 % limit); RSS at 1.45 × the growth passes it.
    const maxMemory = Math.round((1 * MiB + growth) / 0.8);
    const input = { spec: bucketed, sample: sample(1_000_000), readings: [reading({ maxMemory })] };
    const direct = assessPreflight({ ...input, writes: 'direct' });
    expect(direct.decision).toBe('proceed');
    const warning = direct.warnings.find((w) => w.includes('RSS'));
    expect(warning).toContain('above maxmemory');
    expect(warning).toContain('1.45 × the growth');
    expect(warning).toContain('--group-buckets on');
    expect(assessPreflight({ ...input, writes: 'grouped' }).warnings.join('\n')).not.toContain('RSS');
  });

  it("refuses a load whose RSS would outgrow the host's memory, says why and how, and force overrides", () => {
    const growth = growthOf('direct').growth;
    const systemMemory = Math.round(1 * MiB + growth * 1.2);
    const input = {
      spec: bucketed,
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 0, systemMemory })],
    };
    const refused = assessPreflight({ ...input, writes: 'direct' });
    expect(refused.decision).toBe('refuse');
    expect(refused.refusal).toContain("of the host's");
    expect(refused.refusal).toContain('OOM killer');
    expect(refused.suggestion).toContain('--group-buckets on');
    expect(assessPreflight({ ...input, writes: 'grouped' }).decision).toBe('proceed');
    expect(assessPreflight({ ...input, writes: 'direct', force: true })).toMatchObject({
      decision: 'proceed',
      forced: true,
    });
  });
});

describe('assessPreflight', () => {
  it('proceeds when the projection stays under 85 % of maxmemory', () => {
    const r = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 128 * MiB })],
    });
    expect(r.decision).toBe('proceed');
    expect(r.shards[0]).toMatchObject({ verdict: 'fits' });
    expect(r.shards[0]!.ratio).toBeGreaterThan(0.4);
    expect(r.refusal).toBeUndefined();
  });

  it('refuses an overflow, names the shard and numbers, and suggests the bucketed model that fits', () => {
    const r = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 48 * MiB, usedMemory: 2 * MiB })],
    });
    expect(r.decision).toBe('refuse');
    expect(r.shards[0]!.verdict).toBe('overflow');
    expect(r.refusal).toContain('redis://127.0.0.1:6379/0');
    expect(r.refusal).toContain('maxmemory 48.0 MiB');
    expect(r.refusal).toContain('85.0 %');
    expect(r.alternatives.map((a) => [a.type, a.scheme, a.fits])).toEqual([
      ['bucketed', 'hash', true],
      ['bucketed', 'range', true],
    ]);
    expect(r.suggestion).toContain('--model bucketed');
    expect(r.alternatives[0]!.bucketSize).toBe(82);
  });

  it('force turns the refusal into a recorded override', () => {
    const r = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 48 * MiB })],
      force: true,
    });
    expect(r).toMatchObject({ decision: 'proceed', forced: true });
    expect(r.refusal).toBeDefined();
  });

  it('the limit is configurable', () => {
    const input = {
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 80 * MiB })],
    };
    expect(assessPreflight({ ...input, limit: 0.85 }).decision).toBe('proceed');
    expect(assessPreflight({ ...input, limit: 0.5 }).decision).toBe('refuse');
  });

  it('an eviction policy is named: keys would be dropped silently', () => {
    const r = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [reading({ maxMemory: 48 * MiB, policy: 'allkeys-lru', sharedIntegers: false })],
    });
    expect(r.refusal).toContain('allkeys-lru');
  });

  it('maxmemory 0, unreadable memory and unreachable shards are warnings, never refusals', () => {
    const r = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [
        reading({ shard: 'redis://a:6379/0', maxMemory: 0, systemMemory: 8 * 1024 * MiB }),
        reading({
          shard: 'redis://b:6379/0',
          usedMemory: undefined,
          maxMemory: undefined,
          unread: ['INFO failed (ERR unknown command): used memory, maxmemory and key counts unknown'],
        }),
        reading({ shard: 'redis://c:6379/0', error: 'unreachable: ECONNREFUSED', unread: [] }),
      ],
    });
    expect(r.decision).toBe('proceed');
    expect(r.shards.map((s) => s.verdict)).toEqual(['no-limit', 'unknown', 'unreachable']);
    expect(r.warnings.join('\n')).toMatch(/redis:\/\/a:6379\/0 has no maxmemory/);
    expect(r.warnings.join('\n')).toMatch(/redis:\/\/b:6379\/0: memory use or maxmemory unreadable/);
    expect(r.warnings.join('\n')).toMatch(/redis:\/\/c:6379\/0: unreachable: ECONNREFUSED: not checked/);
    expect(r.unread.join('\n')).toContain('redis://b:6379/0: INFO failed');
  });

  it('without CONFIG the documented defaults apply, and bucket sizes are fitted to them', () => {
    const r = assessPreflight({
      spec: spec({ type: 'bucketed', value: 'v', bucketSize: 120 }),
      sample: sample(100_000),
      readings: [reading({ listpack: DEFAULT_LISTPACK, listpackSource: 'default' })],
    });
    expect(r.listpackSource).toBe('default');
    expect(r.bucketFit).toMatchObject({ requested: 120, size: 82, lowered: true });
    expect(r.model.bucketSize).toBe(82);
    expect(r.warnings.join('\n')).toContain('bucket size lowered from 120 to 82');
  });

  it('counts long values and warns that they cost the saving', () => {
    const r = assessPreflight({
      spec: spec({ type: 'bucketed', value: 'v' }),
      sample: sample(100_000, (i) => (i % 500 === 0 ? 'y'.repeat(70) : '3')),
      readings: [reading()],
    });
    expect(r.model.estimate.longEntries).toBeGreaterThan(0);
    expect(r.warnings.join('\n')).toMatch(/longer than hash-max-listpack-value \(64 bytes\)/);
  });

  it('warns about an explicit bucket count that crowds buckets past the listpack limit', () => {
    const r = assessPreflight({
      spec: spec({ type: 'bucketed', value: 'v', bucketCount: 1000 }),
      sample: sample(1_000_000),
      readings: [reading()],
    });
    expect(r.warnings.join('\n')).toMatch(
      /bucketCount 1,000 puts ~1000 keys in a bucket.*use at least 12,196 buckets/,
    );
  });

  it('spreads keys over shards and judges each', () => {
    const r = assessPreflight({
      spec: spec({ type: 'string', value: 'v' }),
      sample: sample(1_000_000),
      readings: [
        reading({ shard: 'redis://a:6379/0', maxMemory: 64 * MiB }),
        reading({ shard: 'redis://b:6379/0', maxMemory: 20 * MiB }),
      ],
    });
    expect(r.shards.map((s) => s.keys)).toEqual([500_000, 500_000]);
    expect(r.shards.map((s) => s.verdict)).toEqual(['fits', 'overflow']);
    expect(r.decision).toBe('refuse');
  });
});
