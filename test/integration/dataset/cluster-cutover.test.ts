import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runImport } from '../../../cli/import-run.js';
import { parseImportSpec } from '../../../shared/config/index.js';
import { openCurrent, readCurrent } from '../../../shared/dataset/index.js';
import { openTarget } from '../../../shared/redis/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { sumOverMasters, useCluster } from '../../support/redis-cluster.js';
import { redisCli } from '../../support/redis-server.js';

const cluster = useCluster();
const tmp = useTempDir();

const N = 3000;

/** Keys matching `pattern` summed over the masters (redis-cli, independent of the loader's driver). */
async function count(pattern: string): Promise<number> {
  const [n] = await sumOverMasters(cluster.server, `return {#redis.call('KEYS', ARGV[1]), 0}`, pattern);
  return n;
}

describe('dataset cutover in a Redis Cluster', () => {
  it.each(['string', 'bucketed'] as const)(
    '%s model: three loads with keep 2 — versions spread over the masters, no CROSSSLOT, v1 gone, current v3',
    async (type) => {
      const name = randomPrefix();
      const model = type === 'string' ? { type, value: 'v' } : { type, value: 'v', bucketSize: 10 };
      for (const tag of ['v1', 'v2', 'v3']) {
        const source = await tmp.write(
          `${name}-${tag}.csv`,
          `id,v\n${Array.from({ length: N }, (_, i) => `${i},${tag}:${i}`).join('\n')}\n`,
        );
        const summary = await runImport({
          source,
          redis: [cluster.server.url],
          spec: parseImportSpec({
            format: { type: 'csv' },
            key: 'user:{id}',
            model,
            dataset: { name, keep: 2, graceSeconds: 0 },
          }),
          rejectsPath: join(tmp.dir, `${name}-${tag}.rejects.jsonl`),
          progress: false,
        });
        expect(summary.status, summary.error?.message).toBe('completed');
        expect(summary.dataset).toMatchObject({ version: Number(tag.slice(1)), flipped: true });
      }
      expect(await count(`${name}:v1*`)).toBe(0);
      expect(await count(`${name}:v2:*`)).toBeGreaterThan(0);
      const perMaster = await Promise.all(
        cluster.server.nodes.map(async (node) =>
          Number(
            await redisCli(node.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${name}:v3:*`),
          ),
        ),
      );
      // The version is spread over every master: its namespace carries no hash tag.
      expect(perMaster.every((n) => n > 0)).toBe(true);
      const target = await openTarget(cluster.server.url);
      try {
        const view = await openCurrent(target, name);
        expect(view?.version).toBe(3);
        const ids = Array.from({ length: 200 }, (_, i) => i * 15);
        expect(await view!.readMany(ids.map((i) => `user:${i}`))).toEqual(ids.map((i) => `v3:${i}`));
        expect(await readCurrent(target, name, 'user:2999')).toBe('v3:2999');
      } finally {
        await target.close();
      }
    },
  );
});
