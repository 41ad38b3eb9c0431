import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSampleData } from '../../../cli/sample-data.js';
import { type ImportSpecInput, parseImportSpec } from '../../../shared/config/index.js';
import { loadRange, MemoryRejectSink, resolveBucketParams } from '../../../shared/import/index.js';
import { runPreflight, sampleSource } from '../../../shared/memory/index.js';
import { FileSource } from '../../../shared/records/index.js';
import { TcpTarget, usedMemory } from '../../../shared/redis/index.js';
import { useTempDir } from '../../support/files.js';
import { useRedis } from '../../support/redis-server.js';

// The memory model against measurement: 1 M records of id,score (ids 0…999999, scores 0…999, like the demo)
// loaded in each data model into a real redis-server with the listpack limits of redis.conf/ElastiCache
// (128 entries, 64 bytes); the pre-flight's projection must be within ±15 % of the growth of used_memory.
const ROWS = 1_000_000;
const TOLERANCE = 0.15;

const redis = useRedis({ args: ['--hash-max-listpack-entries', '128', '--hash-max-listpack-value', '64'] });
const tmp = useTempDir();
let file: string;
let target: TcpTarget;
const results: string[] = [];

beforeAll(async () => {
  file = join(tmp.dir, 'users.csv');
  await writeSampleData(file, ROWS);
  target = new TcpTarget(redis.server.url);
});

afterAll(async () => {
  await target.close();
  if (results.length > 0) console.info(`memory model vs used_memory at ${ROWS} keys:\n${results.join('\n')}`);
});

async function used(): Promise<number> {
  return usedMemory(await target.info(['memory']));
}

const cases: { name: string; model: ImportSpecInput['model']; ttl?: ImportSpecInput['ttl'] }[] = [
  { name: 'string', model: { type: 'string', value: 'score' } },
  { name: 'string with TTL', model: { type: 'string', value: 'score' }, ttl: { seconds: 86_400 } },
  { name: 'hash per record', model: { type: 'hash' } },
  { name: 'bucketed, hash scheme', model: { type: 'bucketed', value: 'score' } },
  { name: 'bucketed, range scheme', model: { type: 'bucketed', value: 'score', scheme: 'range' } },
];

describe('memory model calibration (1 M keys per model)', () => {
  for (const c of cases) {
    it(`${c.name}: projection within ±${TOLERANCE * 100} % of the measured growth`, async () => {
      await target.exec([{ args: ['FLUSHALL'] }]);
      const spec = parseImportSpec({
        format: { type: 'csv' },
        key: 'user:{id}',
        model: c.model,
        ...(c.ttl ? { ttl: c.ttl } : {}),
      });
      const source = new FileSource(file);
      const sample = await sampleSource(source, spec);
      const report = await runPreflight({ spec, sample, targets: [target] });
      expect(report.listpack).toEqual({ entries: 128, value: 64 });
      expect(report.listpackSource).toBe('config');
      const before = await used();
      const buckets =
        spec.model.type === 'bucketed'
          ? await resolveBucketParams(spec, [target], sample.records, report.listpack)
          : undefined;
      const result = await loadRange({
        source,
        spec,
        targets: [target],
        rejects: new MemoryRejectSink(),
        ...(buckets ? { buckets } : {}),
      });
      expect(result.counts).toMatchObject({ read: ROWS, written: ROWS, rejected: 0 });
      const measured = (await used()) - before;
      const estimated = report.model.estimate.bytes;
      const error = (estimated - measured) / measured;
      results.push(
        `  ${c.name.padEnd(28)} estimated ${(estimated / ROWS).toFixed(2).padStart(6)} B/key ` +
          `(${(estimated / 2 ** 20).toFixed(1)} MiB for ~${report.keys} keys), measured ${(measured / ROWS).toFixed(2).padStart(6)} B/key ` +
          `(${(measured / 2 ** 20).toFixed(1)} MiB): ${error >= 0 ? '+' : ''}${(error * 100).toFixed(1)} %`,
      );
      expect(Math.abs(error)).toBeLessThan(TOLERANCE);
      // Buckets sized under the limit all keep the listpack encoding.
      if (buckets) expect(report.model.estimate.hashtableShare ?? 0).toBeLessThan(0.001);
    });
  }
});
