import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import {
  checkTempDisk,
  GROUP_BYTES_PER_RECORD,
  MAX_PARTITIONS,
  planGrouping,
} from '../../../shared/grouping/index.js';
import { chooseWritePath, GROUP_AUTO_MIN_ROWS } from '../../../shared/import/index.js';
import type { SourceSample } from '../../../shared/memory/index.js';

function sample(records: number, ids: number[]): SourceSample {
  return {
    source: 'x.csv',
    bytes: records * 12,
    sampledBytes: 1,
    sampledRecords: ids.length,
    bytesPerRecord: 12,
    records,
    keys: records,
    samples: ids.map((id) => ({ key: `user:${id}`, value: '601' })),
    complete: false,
  };
}

const spec = (model: object, groupBuckets?: string) =>
  parseImportSpec({
    format: { type: 'csv' },
    key: 'user:{id}',
    model,
    ...(groupBuckets ? { groupBuckets } : {}),
  });
const bucketed = (scheme: 'hash' | 'range', groupBuckets?: string) =>
  spec({ type: 'bucketed', value: 'score', scheme }, groupBuckets);

describe('write path', () => {
  it('auto groups the hash scheme from the threshold on, and the range scheme only when ids are out of order', () => {
    const big = GROUP_AUTO_MIN_ROWS * 2;
    expect(chooseWritePath(bucketed('hash'), sample(big, [5, 1, 9])).path).toBe('grouped');
    expect(chooseWritePath(bucketed('hash'), sample(GROUP_AUTO_MIN_ROWS - 1, [5, 1])).path).toBe('direct');
    expect(chooseWritePath(bucketed('range'), sample(big, [1, 2, 2, 9])).path).toBe('direct');
    expect(chooseWritePath(bucketed('range'), sample(big, [1, 9, 2])).path).toBe('grouped');
    expect(chooseWritePath(bucketed('range', 'on'), sample(10, [1, 2])).path).toBe('grouped');
    expect(chooseWritePath(bucketed('hash', 'off'), sample(big, [5, 1])).path).toBe('direct');
    expect(chooseWritePath(spec({ type: 'string', value: 'score' }), sample(big, [])).path).toBe('direct');
  });

  it('auto groups a small hash-scheme load too when every command is billed (Upstash), unless off', () => {
    const billed = { billedPerCommand: true };
    expect(chooseWritePath(bucketed('hash'), sample(20_000, [5, 1]), billed)).toMatchObject({
      path: 'grouped',
      reason: expect.stringMatching(/billed per command/),
    });
    expect(chooseWritePath(bucketed('hash', 'off'), sample(20_000, [5, 1]), billed).path).toBe('direct');
    expect(chooseWritePath(bucketed('range'), sample(20_000, [1, 2, 3]), billed).path).toBe('direct');
    expect(chooseWritePath(spec({ type: 'string', value: 'score' }), sample(20_000, []), billed).path).toBe(
      'direct',
    );
  });

  it('groupBuckets is strict: on with a model without buckets, or an unknown mode, is refused', () => {
    expect(() => spec({ type: 'string', value: 'score' }, 'on')).toThrow(
      /groupBuckets: 'on' groups the buckets/,
    );
    expect(() => bucketed('hash', 'always')).toThrow(/groupBuckets/);
    expect(bucketed('hash').groupBuckets).toBe('auto');
  });

  it('sizes partitions to the memory per partition, with the temp disk close to the input', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => ({ key: `user:${1_000_000 + i}`, value: '601' }));
    const plan = planGrouping({ records: 20e6, bytesPerRecord: 12, samples, keyPrefix: 'user:' });
    expect(plan.partitions).toBeGreaterThan(1);
    // Two partitions at a time, each its spilled bytes twice plus the index, within 64 MiB.
    const perRecord = 2 * plan.spillBytesPerRecord + GROUP_BYTES_PER_RECORD;
    expect(2 * plan.recordsPerPartition * perRecord).toBeLessThanOrEqual(64 * 2 ** 20);
    expect(plan.tempBytes / (20e6 * 12)).toBeGreaterThan(1);
    expect(plan.tempBytes / (20e6 * 12)).toBeLessThan(1.2);
    expect(planGrouping({ records: 10, bytesPerRecord: 12, samples, keyPrefix: 'user:' }).partitions).toBe(1);
    // A file open per partition: never more than MAX_PARTITIONS, the spill's offset deltas still 2 bytes.
    const huge = planGrouping({ records: 200e6, bytesPerRecord: 14, samples, keyPrefix: 'user:' });
    expect(huge.partitions).toBe(MAX_PARTITIONS);
    expect(huge.spillBytesPerRecord).toBeLessThanOrEqual(12 + 2);
  });

  it('refuses a spill that does not fit, saying how much it needs and what to do', async () => {
    const plan = { partitions: 3, spillBytesPerRecord: 13, tempBytes: 2 ** 60, recordsPerPartition: 1 };
    const refusal = checkTempDisk('/tmp', plan);
    await expect(refusal).rejects.toThrow(ConfigError);
    await expect(refusal).rejects.toThrow(
      /grouped writes need about [\d.]+ [MG]iB of temp disk in \/tmp .* but only [\d.]+ [MG]iB is free: .*--temp-dir.*--group-buckets off/,
    );
    await expect(checkTempDisk('/tmp', { ...plan, tempBytes: 1000 })).resolves.toBeUndefined();
  });
});
