import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FatalError } from '../../../shared/errors/index.js';
import {
  indexPartition,
  LocalSpillStore,
  PartitionWriter,
  spillFileName,
  spillLocator,
} from '../../../shared/grouping/index.js';
import { PartitionIndexWorker } from '../../../shared/import/partition-index-worker.js';
import type { BucketParams } from '../../../shared/mapping/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';

const tmp = useTempDir();
const BUCKETS: BucketParams = { scheme: 'hash', prefix: 'u:bkt:', keyPrefix: 'u:', bucketCount: 500 };
const workers: PartitionIndexWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

/** Two segments of 3 partitions each, spilled the way the partition pass spills them. */
async function spill(dir: string, rows: number) {
  const store = new LocalSpillStore(dir);
  for (let segment = 0; segment < 2; segment++) {
    const writer = await PartitionWriter.open(store, segment, { partitions: 3 });
    for (let i = 0; i < rows; i++) {
      const id = `${segment}-${(i * 7919) % 3001}`;
      const wait = writer.add(i % 3, segment * 1e9 + i * 12, id, `v${i}`);
      if (wait) await wait;
    }
    await writer.finish();
  }
  return store;
}

describe('PartitionIndexWorker (a worker thread indexing a local spill)', () => {
  it('gives the index indexPartition gives here, partition by partition, segments in order', async () => {
    const dir = join(tmp.dir, randomPrefix());
    const store = await spill(dir, 30_000);
    const worker = new PartitionIndexWorker({ location: dir, segments: 2, buckets: BUCKETS });
    workers.push(worker);
    for (let p = 0; p < 3; p++) {
      const parts = [];
      for (let s = 0; s < 2; s++) parts.push({ name: `${s}/${p}`, bytes: await store.read(s, p) });
      const here = indexPartition(parts, spillLocator(BUCKETS), 20_000);
      const there = await worker.index(p, 20_000);
      expect(there.count).toBe(20_000);
      expect(Buffer.compare(there.buf, here.buf)).toBe(0);
      for (const field of ['at', 'offsets', 'buckets', 'order'] as const) {
        expect(there[field].subarray(0, there.count)).toEqual(here[field].subarray(0, here.count));
      }
    }
  });

  it('a damaged spill file is a FatalError naming the file, and the worker keeps answering', async () => {
    const dir = join(tmp.dir, randomPrefix());
    await spill(dir, 3000);
    await truncate(join(dir, spillFileName(1, 2)), 100);
    const worker = new PartitionIndexWorker({ location: dir, segments: 2, buckets: BUCKETS });
    workers.push(worker);
    const failed = worker.index(2, 2000);
    await expect(failed).rejects.toBeInstanceOf(FatalError);
    await expect(failed).rejects.toThrow(spillFileName(1, 2));
    expect((await worker.index(0, 2000)).count).toBe(2000);
  });
});
