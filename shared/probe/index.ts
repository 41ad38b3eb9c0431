/**
 * The health probe: per shard `PING` round trips and `INFO` assessed as ok / warn / critical (memory against
 * `maxmemory`, clients, replication, persistence, evictions, cluster state), its configuration from the
 * environment, and its CloudWatch metrics.
 *
 * @example
 * import { probeShards } from '../probe/index.js';
 * const report = await probeShards(targets, { thresholds: { warnPercent: 85, criticalPercent: 95, pingWarnMs: 100 } });
 * if (report.status !== 'ok') console.warn(report.shards.flatMap((s) => s.problems));
 *
 * @module
 */
export { DEFAULT_THRESHOLDS, type HealthThresholds } from './constants.js';
export { type ProbeEnv, parseProbeEnv, probeEnvSchema, probeThresholds } from './config.js';
export {
  assessShard,
  type HealthProblem,
  type HealthStatus,
  PROBE_SECTIONS,
  type ShardHealth,
  type ShardObservation,
  worst,
} from './health.js';
export {
  type HealthMetric,
  healthLogLine,
  healthMetrics,
  type MetricsOptions,
  publishHealthMetrics,
  STATUS_VALUE,
} from './metrics.js';
export { observeShard, type ProbeOptions, type ProbeReport, probeShards } from './probe.js';
