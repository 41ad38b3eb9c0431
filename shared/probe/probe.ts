import { classifyError } from '../errors/index.js';
import { parseInfo, ReplyError, type Target } from '../redis/index.js';
import { DEFAULT_THRESHOLDS, type HealthThresholds } from './constants.js';
import { assessShard, type HealthStatus, type ShardHealth, type ShardObservation, worst } from './health.js';

/** How the probe measures. */
export interface ProbeOptions {
  /** PINGs per shard; the median round trip is reported. @default 5 */
  readonly pings?: number;
  readonly thresholds?: HealthThresholds;
}

/** The probe's result over all shards. */
export interface ProbeReport {
  /** The worst shard status. */
  readonly status: HealthStatus;
  /** ISO time the probe started. */
  readonly checkedAt: string;
  readonly thresholds: HealthThresholds;
  readonly shards: ShardHealth[];
}

/** PINGs a shard `pings` times and reads its INFO; never throws (an unreachable shard is an observation). */
export async function observeShard(target: Target, pings = 5): Promise<ShardObservation> {
  const times: number[] = [];
  for (let i = 0; i < Math.max(1, pings); i++) {
    const started = performance.now();
    try {
      const [reply] = await target.exec([{ args: ['PING'] }]);
      if (reply instanceof ReplyError) {
        // The server answered, but refuses (NOAUTH, NOPERM…): reachable, yet unusable.
        return {
          shard: target.name,
          pings: times,
          unreachable: `PING refused: ${reply.message.slice(0, 160)}`,
        };
      }
    } catch (err) {
      if (times.length === 0)
        return { shard: target.name, pings: times, unreachable: classifyError(err).message };
      break;
    }
    times.push(performance.now() - started);
  }
  try {
    // Plain INFO (the default sections) works on every Redis version; several section names need Redis 7.
    const info = await target.info();
    if (info.cluster?.cluster_enabled !== '1') return { shard: target.name, pings: times, info };
    return { shard: target.name, pings: times, info, ...(await observeCluster(target)) };
  } catch (err) {
    return { shard: target.name, pings: times, infoError: classifyError(err).message };
  }
}

/**
 * The health probe: per shard, the median of several PING round trips and INFO (memory, clients,
 * persistence, replication, stats, keyspace), judged against the thresholds ({@link assessShard}). Shards are
 * probed in parallel; one that cannot be reached is `critical` with the reason, and the others are still
 * reported. Never throws.
 *
 * @example
 * const report = await probeShards([new TcpTarget('redis://10.0.0.5:6379')]);
 * if (report.status !== 'ok') console.warn(report.shards.flatMap((s) => s.problems));
 */
export async function probeShards(
  targets: readonly Target[],
  options: ProbeOptions = {},
): Promise<ProbeReport> {
  const checkedAt = new Date().toISOString();
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  // A cluster is probed master by master; one whose slot map cannot be read is probed as its seed node.
  const servers = (
    await Promise.all(targets.map((t) => (t.members ? t.members().catch(() => [t]) : Promise.resolve([t]))))
  ).flat();
  const shards = await Promise.all(
    servers.map(async (t) => assessShard(await observeShard(t, options.pings ?? 5), thresholds)),
  );
  return { status: worst(shards.map((s) => s.status)), checkedAt, thresholds, shards };
}

/** `CLUSTER INFO` and the nodes `CLUSTER NODES` flags as failed (`fail`) or suspected (`fail?`). */
async function observeCluster(
  target: Target,
): Promise<Pick<ShardObservation, 'cluster' | 'failedNodes' | 'suspectNodes'> | { clusterError: string }> {
  try {
    const [info, nodes] = await target.exec([{ args: ['CLUSTER', 'INFO'] }, { args: ['CLUSTER', 'NODES'] }]);
    if (typeof info !== 'string' || typeof nodes !== 'string')
      return {
        clusterError: `CLUSTER INFO/NODES refused: ${String(info instanceof ReplyError ? info.message : nodes)}`,
      };
    const failedNodes: string[] = [];
    const suspectNodes: string[] = [];
    for (const line of nodes.split('\n')) {
      const [, address, flags] = line.split(' ');
      if (address === undefined || flags === undefined) continue;
      const shown = address.split('@')[0]!;
      const list = flags.split(',');
      if (list.includes('fail')) failedNodes.push(shown);
      else if (list.includes('fail?')) suspectNodes.push(shown);
    }
    return { cluster: parseInfo(`# cluster\r\n${info}`).cluster ?? {}, failedNodes, suspectNodes };
  } catch (err) {
    return { clusterError: classifyError(err).message };
  }
}
