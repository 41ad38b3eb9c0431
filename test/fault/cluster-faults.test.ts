import { describe, expect, it } from 'vitest';
import { spawnCliUntil } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { idValueRows } from '../support/read-back.js';
import { type LocalCluster, sumOverMasters, useCluster, waitForClusterOk } from '../support/redis-cluster.js';
import { redisCli } from '../support/redis-server.js';

/**
 * A master of a 3-master Redis Cluster (no persistence, no replicas) SIGKILLed mid-import and restarted: it
 * rejoins with its slots (nodes.conf) but empty, so everything it confirmed is gone. The load must notice
 * (the masters' combined identity changed), load the range again, and end with every key exact.
 */

const ROWS = 1_000_000;
const cluster = useCluster();
const tmp = useTempDir();

/** Keys `<p>:<i>` holding `v<i>`, counted on every master with a script of its own (independent of the driver). */
async function exactKeys(c: LocalCluster, p: string): Promise<{ keys: number; ok: number }> {
  const script = `local ks = redis.call('KEYS', ARGV[1] .. ':*') local ok = 0
for _, k in ipairs(ks) do if redis.call('GET', k) == 'v' .. string.sub(k, #ARGV[1] + 2) then ok = ok + 1 end end
return {#ks, ok}`;
  const [keys, ok] = await sumOverMasters(c, script, p);
  return { keys, ok };
}

describe('a cluster master that restarts empty mid-import', () => {
  it('is a server reset: the CLI loads the range again and every key is exact', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, idValueRows(ROWS));
    const victim = cluster.server.nodes[2]!;
    // Strike once the victim holds a good share of its keys: a real condition, polled.
    const { running, done } = await spawnCliUntil(
      ['import', file, '--redis', cluster.server.url, '--key', `${p}:{id}`, '--value', 'v'],
      async () => Number(await redisCli(victim.port, 'DBSIZE')) >= ROWS / 12,
    );
    expect(running).toBe(true);
    await victim.kill('SIGKILL');
    await victim.restart();
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/server reset +.*\(cluster\).*loaded the range again/);
    await waitForClusterOk(
      cluster.server.nodes.map((n) => n.port),
      3,
    );
    expect(await exactKeys(cluster.server, p)).toEqual({ keys: ROWS, ok: ROWS });
  });
});
