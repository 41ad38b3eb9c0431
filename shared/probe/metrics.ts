import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { HealthStatus, ShardHealth } from './health.js';
import type { ProbeReport } from './probe.js';

type MetricUnitType = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Where the probe's metrics go in CloudWatch. */
export interface MetricsOptions {
  /** @default 'RedisBulkLoader' */
  readonly namespace?: string;
  /** Value of the `service` dimension (e.g. `redis-bulk-loader-prod`), which the alarms select on. */
  readonly service: string;
}

/** One metric value of the probe. Metrics without a value (a shard not reached) are left out. */
export interface HealthMetric {
  readonly name: string;
  readonly unit: MetricUnitType;
  readonly value: number;
}

/** Numeric value of a status for metrics and alarms: ok 0, warn 1, critical 2. */
export const STATUS_VALUE: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

function present(metrics: [string, MetricUnitType, number | undefined][]): HealthMetric[] {
  return metrics
    .filter((m): m is [string, MetricUnitType, number] => m[2] !== undefined && Number.isFinite(m[2]))
    .map(([name, unit, value]) => ({ name, unit, value }));
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
 * The probe's metric values: those aggregating all shards (what the alarms in infra/alarms.yml watch), and
 * each shard's own (for dashboards).
 */
export function healthMetrics(report: ProbeReport): {
  aggregate: HealthMetric[];
  shards: { shard: string; metrics: HealthMetric[] }[];
} {
  const { shards } = report;
  const count = (f: (s: ShardHealth) => boolean) => shards.filter(f).length;
  const aggregate = present([
    ['Status', MetricUnit.NoUnit, STATUS_VALUE[report.status]],
    ['Shards', MetricUnit.Count, shards.length],
    ['ShardsCritical', MetricUnit.Count, count((s) => s.status === 'critical')],
    ['ShardsWarn', MetricUnit.Count, count((s) => s.status === 'warn')],
    ['ShardsUnreachable', MetricUnit.Count, count((s) => !s.reachable)],
    ['ReplicationLinksDown', MetricUnit.Count, count(linkDown)],
    ['MaxMemoryUsedPercent', MetricUnit.Percent, maxOf(shards.map((s) => s.memory?.percent))],
    ['MinHeadroomKeys', MetricUnit.Count, minOf(shards.map((s) => s.headroomKeys))],
    ['MaxPingMs', MetricUnit.Milliseconds, maxOf(shards.map((s) => s.pingMs))],
    ['EvictedKeys', MetricUnit.Count, sumOf(shards.map((s) => s.evictedKeys))],
    ['RejectedConnections', MetricUnit.Count, sumOf(shards.map((s) => s.rejectedConnections))],
  ]);
  const perShard = shards.map((s) => ({
    shard: s.shard,
    metrics: present([
      ['Status', MetricUnit.NoUnit, STATUS_VALUE[s.status]],
      ['MemoryUsedPercent', MetricUnit.Percent, s.memory?.percent],
      ['UsedMemory', MetricUnit.Bytes, s.memory?.used],
      ['PeakMemory', MetricUnit.Bytes, s.memory?.peak],
      ['FragmentationRatio', MetricUnit.NoUnit, s.memory?.fragmentation],
      ['PingMs', MetricUnit.Milliseconds, s.pingMs],
      ['ConnectedClients', MetricUnit.Count, s.clients?.connected],
      ['ClientsUsedPercent', MetricUnit.Percent, s.clients?.percent],
      ['EvictedKeys', MetricUnit.Count, s.evictedKeys],
      ['RejectedConnections', MetricUnit.Count, s.rejectedConnections],
      ['Keys', MetricUnit.Count, s.keys],
      ['BytesPerKey', MetricUnit.Bytes, s.bytesPerKey],
      ['HeadroomKeys', MetricUnit.Count, s.headroomKeys],
    ]),
  }));
  return { aggregate, shards: perShard };
}

/**
 * Publishes the probe's metrics through Powertools (embedded metric format on stdout, which Lambda ships to
 * CloudWatch Logs): one document under the `service` dimension with the aggregate metrics, and one per shard
 * under `service` and `shard`.
 *
 * @example
 * publishHealthMetrics(report, { namespace: 'RedisBulkLoader', service: 'redis-bulk-loader-prod' });
 */
export function publishHealthMetrics(report: ProbeReport, options: MetricsOptions): void {
  const { aggregate, shards } = healthMetrics(report);
  const publish = (metrics: readonly HealthMetric[], shard?: string): void => {
    const out = new Metrics({
      namespace: options.namespace ?? 'RedisBulkLoader',
      serviceName: options.service,
      ...(shard === undefined ? {} : { defaultDimensions: { shard } }),
    });
    for (const m of metrics) out.addMetric(m.name, m.unit, m.value);
    out.publishStoredMetrics();
  };
  publish(aggregate);
  for (const s of shards) publish(s.metrics, s.shard);
}

/** The probe's structured log line: level from the status, the whole report as fields. */
export function healthLogLine(
  report: ProbeReport,
): { level: 'info' | 'warn' | 'error'; message: string } & ProbeReport {
  const level = report.status === 'ok' ? 'info' : report.status === 'warn' ? 'warn' : 'error';
  return { level, message: `redis health: ${report.status}`, ...report };
}
