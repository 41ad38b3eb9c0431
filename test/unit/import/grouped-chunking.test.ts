import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { groupedChunking } from '../../../shared/import/index.js';
import type { KeySample, SourceSample } from '../../../shared/memory/index.js';

const MiB = 1024 * 1024;
const spec = parseImportSpec({
  format: { type: 'csv' },
  key: 'user:{id}',
  model: { type: 'bucketed', value: 'score' },
  groupBuckets: 'on',
});

/** A sample of a `bytes`-long file of 13-byte records `user:<id>` → `s<id>`. */
function sample(bytes: number): SourceSample {
  const records = Math.round(bytes / 13);
  const samples: KeySample[] = Array.from({ length: 8000 }, (_, i) => {
    const id = Math.floor((i * records) / 8000);
    return { key: `user:${id}`, value: `s${id % 1000}` };
  });
  return {
    source: 'big.csv',
    bytes,
    sampledBytes: 8000 * 13,
    sampledRecords: 8000,
    bytesPerRecord: 13,
    records,
    keys: records,
    samples,
    complete: false,
  };
}

describe('groupedChunking: chunks of a grouped Lambda load', () => {
  const settings = { CHUNK_BYTES: 64 * MiB, GROUPED_CHUNK_BYTES: 1024 * MiB, CHUNK_TEMP_MIB: 10_240 };

  it('a file smaller than GROUPED_CHUNK_BYTES is one chunk; a larger one gets chunks of GROUPED_CHUNK_BYTES', () => {
    expect(groupedChunking(spec, sample(300 * MiB), settings)?.chunkBytes).toBe(300 * MiB);
    const big = groupedChunking(spec, sample(2600 * MiB), settings)!;
    expect(big.chunkBytes).toBe(1024 * MiB);
    expect(big.plan.partitions).toBeGreaterThan(1);
    // The spill of a chunk fits 80 % of the temp directory.
    expect(big.plan.tempBytes).toBeLessThanOrEqual(0.8 * 10_240 * MiB);
  });

  it('shrinks chunks until one spill fits 80 % of the temp directory', () => {
    const small = groupedChunking(spec, sample(2600 * MiB), { ...settings, CHUNK_TEMP_MIB: 512 })!;
    expect(small.chunkBytes).toBeLessThan(512 * MiB);
    expect(small.chunkBytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(small.plan.tempBytes).toBeLessThanOrEqual(0.8 * 512 * MiB);
    // Not much smaller than it has to be.
    expect(small.plan.tempBytes).toBeGreaterThan(0.6 * 512 * MiB);
  });

  it('never below CHUNK_BYTES: when even that spill does not fit, the load writes directly (undefined)', () => {
    expect(
      groupedChunking(spec, sample(2600 * MiB), { ...settings, CHUNK_BYTES: 600 * MiB, CHUNK_TEMP_MIB: 512 }),
    ).toBeUndefined();
  });
});
