import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, type LocalRedis, startLocalRedis } from './local-redis.js';

/** A Redis Cluster of `redis-server` processes this process started on 127.0.0.1. */
export interface LocalCluster {
  /** The masters, in the order `redis-cli --cluster create` was given them (it assigns slots in that order). */
  readonly nodes: readonly LocalRedis[];
  /** A seed URL (the first master): the loader discovers the rest with `CLUSTER SHARDS`. */
  readonly url: string;
  /** Stops every node by its own pid and removes their directories. */
  stop(): Promise<void>;
}

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /** @default 3 */
  masters?: number;
  /** Extra `redis-server` arguments for every node. */
  args?: readonly string[];
  /** `cluster-node-timeout` in ms: how long until a node that stopped answering counts as failed. @default 2000 */
  nodeTimeoutMs?: number;
}

const READY_TIMEOUT_MS = 20_000;

/** Runs `redis-cli` with `args` and resolves with its stdout. */
export function redisCliRun(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`redis-cli ${args.join(' ')} failed: ${(stderr || stdout || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

/**
 * Starts `masters` `redis-server --cluster-enabled yes` processes (no persistence, own temp dirs, the cluster
 * bus on a second free port via `cluster-port`), joins them with `redis-cli --cluster create --cluster-yes`,
 * and waits until every node reports `cluster_state:ok` and knows all the others.
 *
 * @example
 * const cluster = await startLocalCluster();
 * // … load into cluster.url …
 * await cluster.stop();
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const masters = options.masters ?? 3;
  const nodes: LocalRedis[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startLocalRedis({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 2000),
            '--cluster-port',
            String(await freePort()),
            ...(options.args ?? []),
          ],
        }),
      );
    }
    await redisCliRun([
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitForClusterOk(
      nodes.map((n) => n.port),
      masters,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, url: nodes[0]!.url, stop };
}

/**
 * Waits until every node in `ports` says `cluster_state:ok` and knows `size` nodes (polled every 50 ms, up to
 * 20 s): gossip needs a moment after `--cluster create` and after resharding or a restart.
 */
export async function waitForClusterOk(ports: readonly number[], size: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: string;
  for (;;) {
    const states = await Promise.all(
      ports.map((p) =>
        redisCliRun(['-h', '127.0.0.1', '-p', String(p), 'CLUSTER', 'INFO']).catch((e: Error) => e.message),
      ),
    );
    const ok = states.every(
      (s) =>
        s.includes('cluster_state:ok') &&
        s.includes(`cluster_known_nodes:${size}`) &&
        s.includes('cluster_slots_assigned:16384'),
    );
    if (ok) return;
    last = states.join(' | ').replace(/\s+/g, ' ').slice(0, 400);
    if (Date.now() > deadline) throw new Error(`cluster not ok after ${READY_TIMEOUT_MS} ms: ${last}`);
    await sleep(50);
  }
}
