import type { HealthStatus, ShardHealth } from './health.js';
import type { ProbeReport } from './probe.js';

/** Where the probe's metrics go in CloudWatch. */
export interface MetricsOptions {
  /** @default 'RedisBulkLoader' */
  readonly namespace?: string;
  /** Value of the `Service` dimension (e.g. `redis-bulk-loader-prod`), which the alarms select on. */
  readonly service: string;
  /** Milliseconds since the epoch. @default Date.now() */
  readonly timestamp?: number;
}

type Unit = 'None' | 'Count' | 'Percent' | 'Bytes' | 'Milliseconds';

/** Numeric value of a status for metrics and alarms: ok 0, warn 1, critical 2. */
export const STATUS_VALUE: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

/** One CloudWatch embedded-metric-format document: the metrics with a value, under the given dimensions. */
function emfDocument(
  namespace: string,
  timestamp: number,
  dimensions: Record<string, string>,
  metrics: [string, Unit, number | undefined][],
): Record<string, unknown> {
  const present = metrics.filter(
    (m): m is [string, Unit, number] => m[2] !== undefined && Number.isFinite(m[2]),
  );
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [Object.keys(dimensions)],
          Metrics: present.map(([Name, Unit]) => ({ Name, Unit })),
        },
      ],
    },
    ...dimensions,
  };
  for (const [name, , value] of present) doc[name] = value;
  return doc;
}

function maxOf(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

function minOf(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.min(...known) : undefined;
}

function sumOf(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? known.reduce((a, b) => a + b, 0) : undefined;
}

function linkDown(s: ShardHealth): boolean {
  return s.replication?.role === 'replica' && s.replication.linkStatus !== 'up';
}

/**
 * The probe's CloudWatch metrics in embedded metric format (one JSON document per line on stdout; no SDK):
 * one document with the `Service` dimension aggregating all shards (what the alarms in infra/alarms.yml watch),
 * and one per shard with `Service` and `Shard` (for dashboards).
 *
 * @example
 * for (const doc of healthMetrics(report, { service: 'redis-bulk-loader-prod' })) console.log(JSON.stringify(doc));
 */
export function healthMetrics(report: ProbeReport, options: MetricsOptions): Record<string, unknown>[] {
  const namespace = options.namespace ?? 'RedisBulkLoader';
  const timestamp = options.timestamp ?? Date.now();
  const { shards } = report;
  const count = (f: (s: ShardHealth) => boolean) => shards.filter(f).length;
  const aggregate = emfDocument(namespace, timestamp, { Service: options.service }, [
    ['Status', 'None', STATUS_VALUE[report.status]],
    ['Shards', 'Count', shards.length],
    ['ShardsCritical', 'Count', count((s) => s.status === 'critical')],
    ['ShardsWarn', 'Count', count((s) => s.status === 'warn')],
    ['ShardsUnreachable', 'Count', count((s) => !s.reachable)],
    ['ReplicationLinksDown', 'Count', count(linkDown)],
    ['MaxMemoryUsedPercent', 'Percent', maxOf(shards.map((s) => s.memory?.percent))],
    ['MinHeadroomKeys', 'Count', minOf(shards.map((s) => s.headroomKeys))],
    ['MaxPingMs', 'Milliseconds', maxOf(shards.map((s) => s.pingMs))],
    ['EvictedKeys', 'Count', sumOf(shards.map((s) => s.evictedKeys))],
    ['RejectedConnections', 'Count', sumOf(shards.map((s) => s.rejectedConnections))],
  ]);
  const perShard = shards.map((s) =>
    emfDocument(namespace, timestamp, { Service: options.service, Shard: s.shard }, [
      ['Status', 'None', STATUS_VALUE[s.status]],
      ['MemoryUsedPercent', 'Percent', s.memory?.percent],
      ['UsedMemory', 'Bytes', s.memory?.used],
      ['PeakMemory', 'Bytes', s.memory?.peak],
      ['FragmentationRatio', 'None', s.memory?.fragmentation],
      ['PingMs', 'Milliseconds', s.pingMs],
      ['ConnectedClients', 'Count', s.clients?.connected],
      ['ClientsUsedPercent', 'Percent', s.clients?.percent],
      ['EvictedKeys', 'Count', s.evictedKeys],
      ['RejectedConnections', 'Count', s.rejectedConnections],
      ['Keys', 'Count', s.keys],
      ['BytesPerKey', 'Bytes', s.bytesPerKey],
      ['HeadroomKeys', 'Count', s.headroomKeys],
    ]),
  );
  return [aggregate, ...perShard];
}

/** The probe's structured log line: level from the status, the whole report as fields. */
export function healthLogLine(report: ProbeReport): Record<string, unknown> {
  const level = report.status === 'ok' ? 'info' : report.status === 'warn' ? 'warn' : 'error';
  return { level, message: `redis health: ${report.status}`, ...report };
}
