import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { type BucketParams, bucketOf, createMapper } from '../../../shared/mapping/index.js';
import { recordFactory } from '../../support/records.js';

const csv = { type: 'csv' } as const;

describe('createMapper: string model', () => {
  it('maps each record to SET key value, with a fixed or jittered TTL', () => {
    const plain = createMapper(
      parseImportSpec({ format: csv, key: 'user:{id}', model: { type: 'string', value: 'score' } }),
    );
    const r = recordFactory({ id: '1', score: '42' });
    expect(plain.map([r]).commands).toEqual([{ key: 'user:1', args: ['SET', 'user:1', '42'], records: [r] }]);

    const ttl = createMapper(
      parseImportSpec({
        format: csv,
        key: 'user:{id}',
        model: { type: 'string', value: 'score' },
        ttl: { seconds: 1000, jitterPercent: 10 },
      }),
    );
    const ttls = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const [cmd] = ttl.map([recordFactory({ id: String(i), score: '1' })]).commands;
      expect(cmd!.args.slice(3, 4)).toEqual(['EX']);
      const seconds = Number(cmd!.args[4]);
      expect(seconds).toBeGreaterThanOrEqual(1000);
      expect(seconds).toBeLessThanOrEqual(1100);
      ttls.add(seconds);
      // the same key always gets the same TTL, so a replay changes nothing
      expect(ttl.map([recordFactory({ id: String(i), score: '1' })]).commands[0]!.args[4]).toBe(cmd!.args[4]);
    }
    expect(ttls.size).toBeGreaterThan(50);
  });

  it('stores several value fields as a JSON object and JSON values as text', () => {
    const m = createMapper(
      parseImportSpec({
        format: { type: 'jsonl' },
        key: 'u:{id}',
        model: { type: 'string', value: ['a', 'b'] },
      }),
    );
    expect(m.map([recordFactory({ id: 1, a: { x: 1 }, b: true })]).commands[0]!.args[2]).toBe(
      '{"a":{"x":1},"b":true}',
    );
    const one = createMapper(
      parseImportSpec({ format: { type: 'jsonl' }, key: 'u:{id}', model: { type: 'string', value: 'a' } }),
    );
    expect(one.map([recordFactory({ id: 1, a: 3.5 })]).commands[0]!.args[2]).toBe('3.5');
    expect(one.map([recordFactory({ id: 1, a: [1, 2] })]).commands[0]!.args[2]).toBe('[1,2]');
  });

  it('rejects bad records with a reason and skips null values, keeping counts whole', () => {
    const m = createMapper(
      parseImportSpec({
        format: { type: 'jsonl' },
        key: 'u:{id}',
        model: { type: 'string', value: 'v' },
        limits: { maxKeyBytes: 10, maxValueBytes: 5 },
      }),
    );
    const records = [
      recordFactory({ id: '', v: '1' }),
      recordFactory({ v: '1' }),
      recordFactory({ id: '1234567890', v: '1' }),
      recordFactory({ id: '1', v: '123456' }),
      recordFactory({ id: '1' }),
      recordFactory({ id: '2', v: null }),
      recordFactory({ id: 'é', v: 'ok' }),
    ];
    const result = m.map(records);
    expect(result.rejects.map((r) => r.reason)).toEqual([
      "key field 'id' is empty",
      "missing key field 'id'",
      'key is 12 bytes, limit 10',
      "value of 'v' is 6 bytes, limit 5",
      "missing value field 'v'",
    ]);
    expect(result.skipped).toBe(1);
    expect(result.commands.map((c) => c.key)).toEqual(['u:é']);
    expect(result.commands.length + result.rejects.length + result.skipped).toBe(records.length);
  });
});

describe('createMapper: hash model', () => {
  it('writes the chosen fields as strings, skipping or keeping nulls, then EXPIRE', () => {
    const spec = parseImportSpec({
      format: { type: 'jsonl' },
      key: 'u:{id}',
      model: { type: 'hash', nulls: 'skip' },
      ttl: { seconds: 60 },
    });
    const r = recordFactory({ id: 1, n: 2, ok: false, o: { a: 1 }, z: null });
    expect(createMapper(spec).map([r]).commands).toEqual([
      { key: 'u:1', args: ['HSET', 'u:1', 'id', '1', 'n', '2', 'ok', 'false', 'o', '{"a":1}'], records: [r] },
      { key: 'u:1', args: ['EXPIRE', 'u:1', '60'], records: [] },
    ]);
    const keep = createMapper(
      parseImportSpec({
        format: { type: 'jsonl' },
        key: 'u:{id}',
        model: { type: 'hash', fields: ['z'], nulls: 'empty' },
      }),
    );
    expect(keep.map([r]).commands[0]!.args).toEqual(['HSET', 'u:1', 'z', '']);
    const only = createMapper(
      parseImportSpec({ format: { type: 'jsonl' }, key: 'u:{id}', model: { type: 'hash', fields: ['z'] } }),
    );
    expect(only.map([r])).toMatchObject({ commands: [], skipped: 1 });
  });
});

describe('createMapper: bucketed model', () => {
  const params: BucketParams = { scheme: 'hash', prefix: 'user:bkt:', keyPrefix: 'user:', bucketCount: 7 };
  const spec = parseImportSpec({
    format: csv,
    key: 'user:{id}',
    model: { type: 'bucketed', value: 'score' },
    ttl: { seconds: 100 },
  });

  it('groups a batch into one HSET per bucket and sets each bucket TTL once per load', () => {
    const mapper = createMapper(spec, params);
    const records = Array.from({ length: 50 }, (_, i) =>
      recordFactory({ id: String(i), score: String(i * 2) }),
    );
    const first = mapper.map(records);
    const hsets = first.commands.filter((c) => c.args[0] === 'HSET');
    const expires = first.commands.filter((c) => c.args[0] === 'EXPIRE');
    expect(hsets.length).toBe(7);
    expect(expires.length).toBe(7);
    expect(hsets.reduce((n, c) => n + c.records.length, 0)).toBe(50);
    for (const cmd of hsets) {
      for (let i = 2; i < cmd.args.length; i += 2) {
        const address = bucketOf(`user:${cmd.args[i]}`, params);
        expect(typeof address !== 'string' && address.bucket).toBe(cmd.key);
        expect(cmd.args[i + 1]).toBe(String(Number(cmd.args[i]) * 2));
      }
    }
    const second = mapper.map([recordFactory({ id: '3', score: '1' })]);
    expect(second.commands.map((c) => c.args[0])).toEqual(['HSET']);
  });

  it('with far more hash buckets than records, writes one HSET per record in source order', () => {
    const many: BucketParams = { scheme: 'hash', prefix: 'b:', keyPrefix: 'user:', bucketCount: 1_000_000 };
    const mapper = createMapper(spec, many);
    const records = ['5', '9', '5'].map((id, i) => recordFactory({ id, score: String(i) }));
    const out = mapper.map(records);
    const hsets = out.commands.filter((c) => c.args[0] === 'HSET');
    expect(hsets.map((c) => c.args.slice(2))).toEqual([
      ['5', '0'],
      ['9', '1'],
      ['5', '2'],
    ]);
    for (const cmd of hsets) {
      const address = bucketOf(`user:${cmd.args[2]}`, many);
      expect(typeof address !== 'string' && address.bucket).toBe(cmd.key);
    }
    // the TTL goes once per bucket, even when the bucket shows up twice
    expect(out.commands.filter((c) => c.args[0] === 'EXPIRE').map((c) => c.key)).toEqual([
      hsets[0]!.key,
      hsets[1]!.key,
    ]);
  });

  it('carries every valid record in exactly one HSET, for any ids (range scheme too)', () => {
    const range: BucketParams = { scheme: 'range', prefix: 'b:', keyPrefix: 'user:', bucketSize: 10 };
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { maxLength: 200 }), (ids) => {
        for (const p of [params, range]) {
          const m = createMapper(spec, p);
          const records = ids.map((id) => recordFactory({ id: String(id), score: '1' }));
          const out = m.map(records);
          const carried = out.commands.flatMap((c) => c.records);
          expect(carried.length).toBe(records.length);
          expect(new Set(carried)).toEqual(new Set(records));
        }
      }),
    );
  });
});
