import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRespArray,
  EncodedCommand,
  HsetEncoder,
  indexPartition,
  PartitionWriter,
  spillLocator,
  stableOrder,
} from '../../../shared/grouping/index.js';
import { type BucketParams, bucketOf, fnv1a32, fnv1a32Bytes } from '../../../shared/mapping/index.js';
import { encodeCommands } from '../../../shared/redis/index.js';
import { MemorySpillStore } from '../../support/spill.js';

const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

/** Spills `rows` (key suffix, value) in source order into one partition and groups it as the load pass does. */
async function groupRows(
  rows: readonly [string, string][],
  buckets: BucketParams,
  maxFields?: number,
  subRangeBytes?: number,
) {
  const store = new MemorySpillStore();
  const writer = await PartitionWriter.open(store, 0, { partitions: 1, bufferBytes: 4096 });
  rows.forEach(([suffix, value], i) => {
    void writer.add(0, i * 10, suffix, value);
  });
  await writer.finish();
  const index = indexPartition(
    [{ name: 'p0', bytes: await store.read(0, 0) }],
    spillLocator(buckets),
    rows.length,
    subRangeBytes,
  );
  const order = index.order;
  const encoder = new HsetEncoder(
    buckets.prefix,
    buckets.scheme === 'range' ? buckets.bucketSize : 0,
    maxFields,
  );
  const commands: string[][] = [];
  const offsets: number[][] = [];
  let i = 0;
  while (i < index.count) {
    const bucket = index.buckets[order[i]!]!;
    const next = encoder.encode(index, order, i, bucket);
    const cmd = new EncodedCommand(buckets.prefix + bucket, Buffer.from(encoder.bytes), []);
    commands.push(cmd.args);
    // The bytes are exactly what encodeCommands makes of the same arguments.
    expect(Buffer.compare(encodeCommands([{ args: cmd.args }]), encoder.bytes)).toBe(0);
    offsets.push(Array.from(order.subarray(i, next), (r) => index.offsets[r]!));
    i = next;
  }
  return { commands, offsets, count: index.count };
}

/** Redis's HSET semantics applied in order: the final hashes. */
function apply(commands: string[][]): Map<string, Map<string, string>> {
  const db = new Map<string, Map<string, string>>();
  for (const [name, key, ...pairs] of commands) {
    expect(name).toBe('HSET');
    const hash = db.get(key!) ?? new Map<string, string>();
    for (let i = 0; i < pairs.length; i += 2) hash.set(pairs[i]!, pairs[i + 1]!);
    db.set(key!, hash);
  }
  return db;
}

const hashBuckets: BucketParams = { scheme: 'hash', prefix: 'u:bkt:', keyPrefix: 'u:', bucketCount: 7 };
const rangeBuckets: BucketParams = { scheme: 'range', prefix: 'u:bkt:', keyPrefix: 'u:', bucketSize: 10 };

describe('grouping a partition by bucket', () => {
  it('hashes spilled bytes exactly as fnv1a32 hashes the key', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: 'binary' }), (prefix, suffix) => {
        const bytes = Buffer.from(suffix, 'utf8');
        expect(fnv1a32Bytes(bytes, 0, bytes.length, fnv1a32(prefix))).toBe(fnv1a32(prefix + suffix));
      }),
    );
  });

  it('one HSET per bucket; replaying the commands leaves every key with its last value in source order', async () => {
    const suffixes = fc.oneof(
      fc.constantFrom('1', '2', '3', 'α', '42'),
      fc.string({ unit: 'binary', maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(suffixes, fc.string({ maxLength: 8 })), { maxLength: 200 }),
        fc.constantFrom(7, 1000),
        // Small sub-ranges make the partition be laid out by bucket ranges first, as large ones are.
        fc.constantFrom(undefined, 16, 200),
        async (rows, bucketCount, subRangeBytes) => {
          const buckets: BucketParams = { ...hashBuckets, bucketCount };
          const { commands, count } = await groupRows(rows, buckets, undefined, subRangeBytes);
          expect(count).toBe(rows.length);
          const keys = commands.map((c) => c[1]);
          expect(new Set(keys).size).toBe(keys.length);
          const expected = new Map<string, Map<string, string>>();
          for (const [suffix, value] of rows) {
            const at = bucketOf(`u:${suffix}`, buckets);
            if (typeof at === 'string') throw new Error(at);
            const hash = expected.get(at.bucket) ?? new Map<string, string>();
            hash.set(utf8(at.field), utf8(value));
            expected.set(at.bucket, hash);
          }
          expect(apply(commands)).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('range scheme: field = id mod size, bucket = id / size; a bucket past the field limit is split in order', async () => {
    const rows: [string, string][] = [];
    for (let i = 0; i < 40; i++) rows.push([String((i * 7) % 25), `v${i}`]);
    const { commands, offsets } = await groupRows(rows, rangeBuckets, 3, 16);
    for (const c of commands) expect(c.length).toBeLessThanOrEqual(2 + 2 * 3);
    for (const run of offsets) expect([...run].sort((a, b) => a - b)).toEqual(run);
    const expected = new Map<string, Map<string, string>>();
    for (const [id, value] of rows) {
      const bucket = `u:bkt:${Math.floor(Number(id) / 10)}`;
      const hash = expected.get(bucket) ?? new Map<string, string>();
      hash.set(String(Number(id) % 10), value);
      expected.set(bucket, hash);
    }
    expect(apply(commands)).toEqual(expected);
  });

  it('stableOrder sorts by key and keeps ties in record order, dense or sparse', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(20), fc.nat(2 ** 40)), { maxLength: 300 }), (keys) => {
        const order = Array.from(stableOrder(Float64Array.from(keys), keys.length));
        const expected = keys.map((k, i) => [k, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(order).toEqual(expected.map(([, i]) => i));
      }),
    );
  });

  it('decodes the RESP of an encoded command back into its arguments', () => {
    const args = ['HSET', 'k', 'é', '', 'f', 'x'.repeat(300)];
    expect(decodeRespArray(encodeCommands([{ args }]))).toEqual(args);
  });
});
