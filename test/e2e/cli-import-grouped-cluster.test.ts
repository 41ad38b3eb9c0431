import { describe, expect, it } from 'vitest';
import type { ImportSummary } from '../../cli/import-run.js';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { scoreRows } from '../support/grouped.js';
import { sumOverMasters, useCluster } from '../support/redis-cluster.js';
import { redisCli } from '../support/redis-server.js';

/** Grouped bucket writes into a 3-master Redis Cluster: the HSETs built as bytes go through the slot routing. */

const cluster = useCluster();
const tmp = useTempDir();

describe('grouped writes into a Redis Cluster', () => {
  it('every bucket lands on the master owning its slot, whole, with the last value of every key', async () => {
    const p = randomPrefix();
    const { text, last } = scoreRows(60_000, 6000);
    const file = await tmp.write(`${p}.csv`, text);
    const result = await runCli([
      'import',
      file,
      '--redis',
      cluster.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--model',
      'bucketed',
      '--group-buckets',
      'on',
      '--temp-dir',
      tmp.dir,
      '--group-memory',
      '1',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as ImportSummary;
    expect(summary.status).toBe('completed');
    expect(summary.writePath?.path).toBe('grouped');
    expect(summary.writePath?.grouped?.partitions).toBeGreaterThan(1);
    expect(summary.counts.written).toBe(60_000);
    // Fields and exact values over all masters: one Lua pass per master, independent of the driver.
    const expected = [...last].map(([id, score]) => `${id}=${score}`).sort();
    const script = `local ks = redis.call('KEYS', ARGV[1] .. '[0-9]*') local out = {}
for _, b in ipairs(ks) do local kv = redis.call('HGETALL', b) for i = 1, #kv, 2 do out[#out + 1] = kv[i] .. '=' .. kv[i + 1] end end
return out`;
    const seen: string[] = [];
    for (const node of cluster.server.nodes) {
      const out = await redisCli(node.port, 'EVAL', script, '0', `${p}:bkt:`);
      if (out !== '') seen.push(...out.split('\n'));
    }
    expect(seen.sort()).toEqual(expected);
    const [buckets, masters] = await sumOverMasters(
      cluster.server,
      `local n = #redis.call('KEYS', ARGV[1] .. '[0-9]*') return {n, n > 0 and 1 or 0}`,
      `${p}:bkt:`,
    );
    expect(buckets).toBe(summary.buckets?.scheme === 'hash' ? summary.buckets.bucketCount : -1);
    expect(masters).toBe(3);
  });
});
