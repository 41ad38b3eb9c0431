import { Redis, type Cluster } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import {
  type LocalCluster,
  type LocalClusterOptions,
  redisCliRun,
  startLocalCluster,
} from '../../cli/local-cluster.js';
import { redisCli } from './redis-server.js';

export {
  type LocalCluster,
  redisCliRun,
  startLocalCluster,
  waitForClusterOk,
} from '../../cli/local-cluster.js';

/**
 * Starts a Redis Cluster of 3 masters (3 `redis-server --cluster-enabled yes` + `redis-cli --cluster create`)
 * for the enclosing test file and stops it afterwards.
 *
 * @example
 * const cluster = useCluster();
 * it('routes', async () => { const target = new ClusterTarget(cluster.server.url); … });
 */
export function useCluster(options: LocalClusterOptions = {}): { readonly server: LocalCluster } {
  let server: LocalCluster | undefined;
  beforeAll(async () => {
    // The tests check a load with one Lua script per master over all its keys, which blocks that master for
    // seconds on a loaded machine: with the 2 s default its peers marked it failed and the cluster went down
    // (`CLUSTERDOWN`) under CI. No test here waits for a failover, so failure detection may be slow.
    server = await startLocalCluster({ nodeTimeoutMs: 15_000, ...options });
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server(): LocalCluster {
      if (server === undefined)
        throw new Error('useCluster: the cluster starts in beforeAll; use it inside tests');
      return server;
    },
  };
}

/** Keys per master (`DBSIZE` on each node), in node order. */
export async function keysPerNode(cluster: LocalCluster): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (n) => Number(await redisCli(n.port, 'DBSIZE'))));
}

/**
 * A reader independent of the loader's driver: ioredis' cluster client (it reads the slot map and follows
 * redirects itself). Close it with `quit()`.
 */
export function clusterReader(cluster: LocalCluster): Cluster {
  return new Redis.Cluster(
    cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { enableAutoPipelining: true, maxRedirections: 16, redisOptions: { maxRetriesPerRequest: 3 } },
  );
}

/** `GET` of every key through `reader` (auto-pipelined per node, 2,000 at a time), in key order. */
export async function getAll(reader: Cluster, keys: readonly string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < keys.length; i += 2000) {
    out.push(...(await Promise.all(keys.slice(i, i + 2000).map((k) => reader.get(k)))));
  }
  return out;
}

/**
 * Moves `slots` slots along each `[from, to]` pair of node indexes with `redis-cli --cluster reshard`, one
 * move after another.
 */
export async function reshard(
  cluster: LocalCluster,
  moves: readonly (readonly [number, number])[],
  slots: number,
): Promise<void> {
  const ports = cluster.nodes.map((n) => n.port);
  const ids = await Promise.all(ports.map((p) => redisCli(p, 'CLUSTER', 'MYID')));
  for (const [from, to] of moves) {
    await redisCliRun([
      '--cluster',
      'reshard',
      `127.0.0.1:${ports[0]}`,
      '--cluster-from',
      ids[from]!,
      '--cluster-to',
      ids[to]!,
      '--cluster-slots',
      String(slots),
      '--cluster-yes',
    ]);
  }
}

/**
 * Runs `script` (`EVAL … 0 args…`, returning `{a, b}`) on every master with redis-cli, independent of the
 * loader's driver, and sums the two numbers: the way these tests count what each master holds.
 */
export async function sumOverMasters(
  cluster: LocalCluster,
  script: string,
  ...args: string[]
): Promise<[number, number]> {
  let a = 0;
  let b = 0;
  for (const node of cluster.nodes) {
    const out = await redisCli(node.port, 'EVAL', script, '0', ...args);
    const [x, y] = out.split('\n').map(Number);
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`node ${node.port} answered ${out}`);
    a += x!;
    b += y!;
  }
  return [a, b];
}
