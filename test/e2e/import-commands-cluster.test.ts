import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { dataCommandCalls, resetCommandStats } from '../support/commandstats.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { idValueRows } from '../support/read-back.js';
import { useCluster } from '../support/redis-cluster.js';

/**
 * The commands an import into a 3-master Redis Cluster reports, against `INFO commandstats` summed over the
 * masters: the count sits above the cluster driver (in the batching layer), so the routing changes nothing.
 */

const ROWS = 100_000;
const cluster = useCluster();
const tmp = useTempDir();

describe('import into a Redis Cluster: the summary counts the commands the masters ran', () => {
  it.each([
    ['string with a TTL', ['--value', 'v', '--ttl', '3600'], { set: ROWS }, 0],
    [
      'hash with a TTL',
      ['--model', 'hash', '--fields', 'v', '--ttl', '3600'],
      { hset: ROWS, expire: ROWS },
      0,
    ],
    ['bucketed with a TTL', ['--model', 'bucketed', '--value', 'v', '--ttl', '3600'], undefined, 1],
  ] as const)('%s', async (_, flags, exact, metaWrites) => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, idValueRows(ROWS));
    const ports = cluster.server.nodes.map((n) => n.port);
    await resetCommandStats(ports);
    const result = await runCli([
      'import',
      file,
      '--redis',
      cluster.server.url,
      '-k',
      `${p}:{id}`,
      ...flags,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const server = await dataCommandCalls(ports);
    const summary = JSON.parse(result.stdout) as {
      counts: { written: number; commands: number };
      commandsPer100Keys: number;
      redirects: { moved: number; ask: number };
    };
    expect(summary.counts.written).toBe(ROWS);
    expect(summary.redirects).toEqual({ moved: 0, ask: 0 });
    if (exact) expect(server.byCommand).toEqual(exact);
    // The bucketed dataset's meta hash (one HSET through the cluster) is outside the load's count.
    expect(summary.counts.commands).toBe(server.total - metaWrites);
    expect(summary.commandsPer100Keys).toBeCloseTo((100 * summary.counts.commands) / ROWS, 6);
  });
});
