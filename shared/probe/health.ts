import { type RedisInfo, SLOT_COUNT } from '../redis/index.js';
import { DEFAULT_THRESHOLDS, type HealthThresholds } from './constants.js';
import { formatBytes, formatCount } from '../memory/index.js';

/** `ok` < `warn` < `critical`. */
export type HealthStatus = 'ok' | 'warn' | 'critical';

/** One thing wrong with a shard. */
export interface HealthProblem {
  readonly level: 'warn' | 'critical';
  readonly text: string;
}

/** The health of one shard, as the probe reports it. Fields are absent when they could not be read. */
export interface ShardHealth {
  readonly shard: string;
  readonly status: HealthStatus;
  /** Why the status is not `ok`, worst first. */
  readonly problems: HealthProblem[];
  /** What could not be read (INFO sections, the whole INFO). */
  readonly unread: string[];
  readonly reachable: boolean;
  /** Median PING round trip in milliseconds. */
  readonly pingMs?: number;
  /** A Redis Cluster master: the cluster as this node sees it. */
  readonly cluster?: {
    readonly state: string;
    readonly slotsAssigned: number;
    readonly slotsFail: number;
    readonly slotsPfail: number;
    readonly knownNodes: number;
    readonly failedNodes: readonly string[];
  };
  readonly memory?: {
    readonly used: number;
    /** `maxmemory`; 0 means no limit. */
    readonly max: number;
    /** Used share in percent of `maxmemory`, or of the host's memory when maxmemory is 0. */
    readonly percent?: number;
    readonly limitSource: 'maxmemory' | 'system' | 'none';
    readonly peak?: number;
    readonly rss?: number;
    readonly fragmentation?: number;
    readonly policy?: string;
  };
  readonly clients?: { readonly connected: number; readonly max?: number; readonly percent?: number };
  /** Cumulative since the server started (or `CONFIG RESETSTAT`). */
  readonly evictedKeys?: number;
  readonly rejectedConnections?: number;
  readonly replication?: {
    readonly role: 'master' | 'replica';
    /** Replicas only: `up` or `down`. */
    readonly linkStatus?: string;
    readonly master?: string;
    readonly linkDownSeconds?: number;
    readonly connectedReplicas?: number;
  };
  readonly persistence?: {
    readonly loading: boolean;
    readonly rdbLastSaveStatus?: string;
    readonly aofEnabled: boolean;
    readonly aofLastWriteStatus?: string;
  };
  /** Keys in all databases. */
  readonly keys?: number;
  /** Observed `(used_memory − used_memory_startup) / keys`. */
  readonly bytesPerKey?: number;
  /** Keys that still fit under the limit at the observed bytes per key (a bucket counts as one key). */
  readonly headroomKeys?: number;
}

/** Sections of `INFO` the probe reads. */
export const PROBE_SECTIONS = [
  'memory',
  'clients',
  'persistence',
  'replication',
  'stats',
  'keyspace',
] as const;

const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

/** The worse of statuses (`ok` for none). */
export function worst(statuses: readonly HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>((a, s) => (RANK[s] > RANK[a] ? s : a), 'ok');
}

function num(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function totalKeys(keyspace: Record<string, string>): number {
  let keys = 0;
  for (const [name, line] of Object.entries(keyspace)) {
    if (!/^db\d+$/.test(name)) continue;
    const match = /(?:^|,)keys=(\d+)/.exec(line);
    if (match) keys += Number(match[1]);
  }
  return keys;
}

/** What the probe measured on one shard, before judging it. */
export interface ShardObservation {
  readonly shard: string;
  /** Round trips of the PINGs that succeeded. */
  readonly pings: readonly number[];
  /** Why the shard could not be reached (the first PING failed). */
  readonly unreachable?: string;
  readonly info?: RedisInfo;
  /** Why INFO could not be read, when the shard answered PING. */
  readonly infoError?: string;
  /** A cluster node's `CLUSTER INFO` fields (`cluster_state`, `cluster_slots_assigned`, …). */
  readonly cluster?: Record<string, string>;
  /** Nodes this cluster node sees as failed (`fail`) and as suspected (`fail?`), as `host:port`. */
  readonly failedNodes?: readonly string[];
  readonly suspectNodes?: readonly string[];
  /** Why `CLUSTER INFO` could not be read on a cluster node. */
  readonly clusterError?: string;
}

/**
 * Judges one shard from what the probe observed: pure, so every rule is testable without a server.
 *
 * - `critical`: unreachable; memory ≥ `criticalPercent` of maxmemory; clients ≥ `criticalPercent` of maxclients;
 *   a replica whose link to its master is down; the last AOF write failed.
 * - `warn`: memory ≥ `warnPercent`; no maxmemory (measured against the host's memory instead); clients ≥
 *   `warnPercent`; evicted keys or rejected connections since start; fragmentation above 1.5 (with > 100 MiB at
 *   stake); loading; a replica still syncing; the last RDB save failed; median PING ≥ `pingWarnMs`; INFO or
 *   some of its sections unreadable.
 *
 * @example
 * assessShard({ shard: 'redis://10.0.0.5:6379/0', pings: [0.4, 0.3, 0.5], info: parseInfo(text) }).status; // 'ok'
 */
export function assessShard(
  observation: ShardObservation,
  thresholds: HealthThresholds = DEFAULT_THRESHOLDS,
): ShardHealth {
  const { shard } = observation;
  const problems: HealthProblem[] = [];
  const unread: string[] = [];
  const warn = (text: string) => problems.push({ level: 'warn', text });
  const critical = (text: string) => problems.push({ level: 'critical', text });
  const finish = (fields: Partial<ShardHealth>): ShardHealth => {
    problems.sort((a, b) => RANK[b.level] - RANK[a.level]);
    return {
      shard,
      status: worst(problems.map((p) => p.level)),
      problems,
      unread,
      reachable: observation.unreachable === undefined,
      ...fields,
    };
  };

  if (observation.unreachable !== undefined) {
    critical(`unreachable: ${observation.unreachable}`);
    return finish({});
  }
  const pingMs = median(observation.pings);
  if (pingMs !== undefined && pingMs >= thresholds.pingWarnMs) {
    warn(`PING takes ${pingMs.toFixed(1)} ms (median), at or above ${thresholds.pingWarnMs} ms`);
  }
  const base: Partial<ShardHealth> = pingMs === undefined ? {} : { pingMs };
  const info = observation.info;
  if (info === undefined) {
    unread.push(`INFO: ${observation.infoError ?? 'not read'}`);
    warn(
      `INFO unavailable (${observation.infoError ?? 'not read'}): memory, clients and replication unknown`,
    );
    return finish(base);
  }
  const missing = PROBE_SECTIONS.filter((s) => info[s] === undefined);
  if (missing.length > 0) {
    unread.push(...missing.map((s) => `INFO ${s}`));
    warn(`INFO lacks section${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: not checked`);
  }
  const fields: Record<string, unknown> = { ...base };
  const pct = (n: number) => `${n.toFixed(1)} %`;

  if (observation.clusterError !== undefined) {
    unread.push(`CLUSTER INFO: ${observation.clusterError}`);
    warn(`a cluster node whose CLUSTER INFO could not be read (${observation.clusterError})`);
  }
  const cluster = observation.cluster;
  if (cluster) {
    const state = cluster.cluster_state ?? 'unknown';
    const assigned = num(cluster.cluster_slots_assigned) ?? 0;
    const failing = num(cluster.cluster_slots_fail) ?? 0;
    const suspect = num(cluster.cluster_slots_pfail) ?? 0;
    const failedNodes = observation.failedNodes ?? [];
    const suspectNodes = observation.suspectNodes ?? [];
    fields.cluster = {
      state,
      slotsAssigned: assigned,
      slotsFail: failing,
      slotsPfail: suspect,
      knownNodes: num(cluster.cluster_known_nodes) ?? 0,
      failedNodes,
    };
    if (state !== 'ok') critical(`cluster_state:${state}: the cluster refuses commands until it recovers`);
    if (assigned < SLOT_COUNT)
      critical(`${SLOT_COUNT - assigned} of ${SLOT_COUNT} slots are not covered by any master`);
    if (failing > 0) critical(`${failing} slots are served by a failed master`);
    else if (suspect > 0) warn(`${suspect} slots are served by a master suspected to be down`);
    if (failedNodes.length > 0) critical(`failed cluster nodes: ${failedNodes.join(', ')}`);
    if (suspectNodes.length > 0) warn(`cluster nodes suspected down: ${suspectNodes.join(', ')}`);
  }

  const mem = info.memory;
  let headroomLimit: number | undefined;
  let used: number | undefined;
  if (mem) {
    used = num(mem.used_memory);
    const max = num(mem.maxmemory);
    const system = num(mem.total_system_memory);
    if (used === undefined || max === undefined) {
      unread.push('INFO memory: used_memory or maxmemory');
      warn('INFO memory lacks used_memory or maxmemory: memory not checked');
    } else {
      const limit = max > 0 ? max : system;
      const limitSource = max > 0 ? 'maxmemory' : system ? 'system' : 'none';
      const percent = limit ? (used / limit) * 100 : undefined;
      headroomLimit = limit;
      const peak = num(mem.used_memory_peak);
      const rss = num(mem.used_memory_rss);
      const fragmentation = num(mem.mem_fragmentation_ratio);
      fields.memory = {
        used,
        max,
        ...(percent === undefined ? {} : { percent }),
        limitSource,
        ...(peak === undefined ? {} : { peak }),
        ...(rss === undefined ? {} : { rss }),
        ...(fragmentation === undefined ? {} : { fragmentation }),
        ...(mem.maxmemory_policy === undefined ? {} : { policy: mem.maxmemory_policy }),
      };
      const of = max > 0 ? `of maxmemory ${formatBytes(max)}` : `of the host's ${formatBytes(system ?? 0)}`;
      if (max === 0) {
        warn(
          "maxmemory is 0 (no limit): Redis grows until the kernel's OOM killer stops it" +
            (percent === undefined ? '' : `; ${pct(percent)} of the host's memory used`),
        );
      }
      if (percent !== undefined && percent >= thresholds.criticalPercent) {
        critical(
          `memory ${formatBytes(used)} = ${pct(percent)} ${of} (critical at ${thresholds.criticalPercent} %)`,
        );
      } else if (percent !== undefined && percent >= thresholds.warnPercent) {
        warn(`memory ${formatBytes(used)} = ${pct(percent)} ${of} (warn at ${thresholds.warnPercent} %)`);
      }
      if (
        fragmentation !== undefined &&
        fragmentation > 1.5 &&
        rss !== undefined &&
        rss - used > 100 * 1024 * 1024
      ) {
        warn(
          `fragmentation ratio ${fragmentation.toFixed(2)}: ${formatBytes(rss - used)} of RSS is not data`,
        );
      }
    }
  }

  const clients = info.clients;
  if (clients) {
    const connected = num(clients.connected_clients);
    const max = num(clients.maxclients);
    if (connected !== undefined) {
      const percent = max ? (connected / max) * 100 : undefined;
      fields.clients = {
        connected,
        ...(max === undefined ? {} : { max }),
        ...(percent === undefined ? {} : { percent }),
      };
      if (percent !== undefined && percent >= thresholds.criticalPercent) {
        critical(`${formatCount(connected)} clients = ${pct(percent)} of maxclients ${formatCount(max!)}`);
      } else if (percent !== undefined && percent >= thresholds.warnPercent) {
        warn(`${formatCount(connected)} clients = ${pct(percent)} of maxclients ${formatCount(max!)}`);
      }
    }
  }

  const stats = info.stats;
  if (stats) {
    const evicted = num(stats.evicted_keys);
    const rejected = num(stats.rejected_connections);
    if (evicted !== undefined) fields.evictedKeys = evicted;
    if (rejected !== undefined) fields.rejectedConnections = rejected;
    if (evicted)
      warn(
        `${formatCount(evicted)} keys evicted since the server started (data dropped under memory pressure)`,
      );
    if (rejected)
      warn(`${formatCount(rejected)} connections rejected since the server started (maxclients reached)`);
  }

  const repl = info.replication;
  if (repl?.role) {
    const replica = repl.role === 'slave' || repl.role === 'replica';
    const linkStatus = repl.master_link_status;
    const master = repl.master_host ? `${repl.master_host}:${repl.master_port ?? '?'}` : undefined;
    const downFor = num(repl.master_link_down_since_seconds);
    fields.replication = {
      role: replica ? 'replica' : 'master',
      ...(linkStatus === undefined ? {} : { linkStatus }),
      ...(master === undefined ? {} : { master }),
      ...(downFor === undefined || linkStatus === 'up' ? {} : { linkDownSeconds: downFor }),
      ...(num(repl.connected_slaves) === undefined ? {} : { connectedReplicas: num(repl.connected_slaves) }),
    };
    if (replica && linkStatus !== 'up') {
      const since = downFor === undefined || downFor < 0 ? '' : ` for ${formatCount(downFor)} s`;
      critical(`replica: link to master ${master ?? '?'} is ${linkStatus ?? 'unknown'}${since}`);
    } else if (replica && repl.master_sync_in_progress === '1') {
      warn(`replica: full sync from master ${master ?? '?'} in progress`);
    }
  }

  const persistence = info.persistence;
  if (persistence) {
    const loading = persistence.loading === '1';
    const aofEnabled = persistence.aof_enabled === '1';
    fields.persistence = {
      loading,
      ...(persistence.rdb_last_bgsave_status === undefined
        ? {}
        : { rdbLastSaveStatus: persistence.rdb_last_bgsave_status }),
      aofEnabled,
      ...(persistence.aof_last_write_status === undefined
        ? {}
        : { aofLastWriteStatus: persistence.aof_last_write_status }),
    };
    if (loading) warn('loading its dataset: commands fail with LOADING until it is done');
    if (persistence.rdb_last_bgsave_status === 'err') warn('the last RDB save failed');
    if (aofEnabled && persistence.aof_last_write_status === 'err') {
      critical('the last AOF write failed: Redis refuses writes until it succeeds');
    }
  }

  if (info.keyspace) {
    const keys = totalKeys(info.keyspace);
    fields.keys = keys;
    const startup = num(mem?.used_memory_startup);
    if (keys > 0 && used !== undefined && startup !== undefined && used > startup) {
      const bytesPerKey = (used - startup) / keys;
      fields.bytesPerKey = bytesPerKey;
      if (headroomLimit) fields.headroomKeys = Math.max(0, Math.floor((headroomLimit - used) / bytesPerKey));
    }
  }
  return finish(fields as Partial<ShardHealth>);
}
