import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import {
  loadGrouped,
  loadRange,
  localSpill,
  MemoryRejectSink,
  openGroupedRun,
  resolveBucketParams,
} from '../../../shared/import/index.js';
import { type BucketParams, loadBucketParams, readKey } from '../../../shared/mapping/index.js';
import { FileSource } from '../../../shared/records/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

/**
 * A `{key}` template over keys that share a namespace (`user:…`): the buckets' fields leave it out, on the
 * direct path and on both grouped writes (HSET and RESTORE), and every key reads back through `readKey`,
 * including keys outside the namespace and keys whose rest starts with the NUL mark.
 */

const redis = useRedis();
const tmp = useTempDir();
const opened: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()));
});

function rows(n: number): { text: string; last: Map<string, string> } {
  let text = 'key,score\n';
  const last = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    // Mostly `user:<id>`; a few outside the namespace, one whose rest starts with NUL, and rewrites.
    const key =
      i % 501 === 7 ? `team:${i}` : i === 11 ? `user:\u0000${i}` : `user:${i % 4000 === i ? i : i % 4000}`;
    const score = `v${i}`;
    text += `${key},${score}\n`;
    last.set(key, score);
  }
  return { text, last };
}

async function readAll(t: TcpTarget, buckets: BucketParams, last: Map<string, string>): Promise<void> {
  const keys = [...last.keys()];
  const got = await Promise.all(keys.map((k) => readKey(t, k, buckets)));
  expect(got).toEqual(keys.map((k) => last.get(k)));
}

describe('a {key} template over one namespace', () => {
  for (const path of ['direct', 'grouped hset', 'grouped restore'] as const) {
    it(`${path}: fields without "user:", every key read back, the strip kept in the meta hash`, async () => {
      const p = randomPrefix();
      const n = 4500;
      const { text, last } = rows(n);
      const file = await tmp.write(`${p}.csv`, text);
      const t = new TcpTarget(redis.server.url);
      opened.push(t);
      const spec = parseImportSpec({
        format: { type: 'csv' },
        key: '{key}',
        model: { type: 'bucketed', value: 'score', prefix: `${p}:bkt:` },
        groupBuckets: path === 'direct' ? 'off' : 'on',
      });
      // The sample the pre-flight would take: the first rows are enough here.
      const sampleKeys = text
        .split('\n')
        .slice(1, 200)
        .map((l) => l.split(',')[0]!);
      const buckets = await resolveBucketParams(spec, [t], n, undefined, sampleKeys);
      expect(buckets).toMatchObject({ scheme: 'hash', keyPrefix: '', fieldStrip: 'user:' });
      expect(await loadBucketParams(t, `${p}:bkt:`)).toEqual(buckets);
      const source = new FileSource(file);
      const rejects = new MemoryRejectSink();
      const result =
        path === 'direct'
          ? await loadRange({ source, spec, targets: [t], rejects, buckets })
          : await loadGrouped({
              source,
              spec,
              targets: [t],
              rejects,
              buckets,
              grouped: await openGroupedRun({
                source,
                spec,
                buckets,
                targets: [t],
                plan: { partitions: 2, spillBytesPerRecord: 0, tempBytes: 0, recordsPerPartition: 0 },
                store: localSpill(tmp.dir),
              }),
              ...(path === 'grouped restore' ? { restore: { entries: 128, value: 64 } } : {}),
            });
      expect(result.status).toBe('completed');
      expect(result.counts).toMatchObject({ read: n, written: n, rejected: 0 });
      await readAll(t, buckets, last);
      // The fields as stored: no bucket holds a field with the namespace in it.
      const fields = await redisCli(
        redis.server.port,
        'EVAL',
        `local out = {} for i = 0, tonumber(ARGV[2]) - 1 do for _, f in ipairs(redis.call('HKEYS', ARGV[1] .. i)) do out[#out + 1] = f end end return out`,
        '0',
        `${p}:bkt:`,
        String((buckets as { bucketCount: number }).bucketCount),
      );
      const list = fields.split('\n');
      expect(list.length).toBe(last.size);
      expect(list.filter((f) => f.startsWith('user:'))).toEqual([]);
      expect(list).toContain('42');
      expect(list).toContain('\u0000team:7');
      expect(list).toContain('\u0000user:\u000011');
    });
  }

  it('a later load keeps the dataset strip, whatever its own sample says', async () => {
    const p = randomPrefix();
    const t = new TcpTarget(redis.server.url);
    opened.push(t);
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: '{key}',
      model: { type: 'bucketed', value: 'score', prefix: `${p}:bkt:`, bucketCount: 10 },
    });
    const first = await resolveBucketParams(spec, [t], 100, undefined, ['user:1', 'user:2']);
    const second = await resolveBucketParams(spec, [t], 100, undefined, ['team:1', 'team:2']);
    expect(second).toEqual(first);
    expect(first).toMatchObject({ fieldStrip: 'user:' });
  });
});
