import { z } from 'zod';
import { parseEnv, redisCluster, redisUrlList } from '../config/index.js';
import type { HealthThresholds } from './constants.js';

const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

function numberVar(min: number, max: number, fallback: number, int = true) {
  return z.preprocess(
    (v) => (v === undefined || v === '' ? fallback : Number(v)),
    (int
      ? z.number({ error: 'must be a number' }).int('must be an integer')
      : z.number({ error: 'must be a number' })
    )
      .min(min, `must be >= ${min}`)
      .max(max, `must be <= ${max}`),
  );
}

/** Environment of the `health-probe` function (and defaults of `redis-bulk-loader probe`). */
export const probeEnvSchema = z
  .strictObject({
    /** Comma-separated redis:// or rediss:// URLs, one per shard, or an Upstash REST URL. */
    REDIS_URL: redisUrlList,
    REDIS_CLUSTER: redisCluster,
    /** Applied to URLs without credentials. */
    REDIS_USERNAME: z.preprocess(unsetIfEmpty, z.string().optional()),
    REDIS_PASSWORD: z.preprocess(unsetIfEmpty, z.string().optional()),
    /** The token of an Upstash REST `REDIS_URL`. */
    UPSTASH_REDIS_REST_TOKEN: z.preprocess(unsetIfEmpty, z.string().optional()),
    /** Memory (and clients) used, in percent of the limit, from which a shard is `warn`. @default 85 */
    PROBE_WARN_PERCENT: numberVar(1, 100, 85, false),
    /** … and from which it is `critical`. @default 95 */
    PROBE_CRITICAL_PERCENT: numberVar(1, 100, 95, false),
    /** Median PING round trip from which a shard is `warn`. @default 100 */
    PROBE_PING_WARN_MS: numberVar(1, 60_000, 100, false),
    /** PINGs per shard. @default 5 */
    PROBE_PINGS: numberVar(1, 50, 5),
    /** Connect and command timeout per shard. @default 2000 */
    PROBE_TIMEOUT_MS: numberVar(100, 60_000, 2000),
    /** CloudWatch namespace of the metrics. @default 'RedisBulkLoader' */
    METRICS_NAMESPACE: z.string().min(1).default('RedisBulkLoader'),
    /** Value of the metrics' `service` dimension (the alarms select on it). @default 'redis-bulk-loader' */
    METRICS_SERVICE: z.string().min(1).default('redis-bulk-loader'),
  })
  .refine((env) => env.PROBE_WARN_PERCENT < env.PROBE_CRITICAL_PERCENT, {
    message: 'must be below PROBE_CRITICAL_PERCENT',
    path: ['PROBE_WARN_PERCENT'],
  });

/** The health probe's validated environment. */
export type ProbeEnv = z.output<typeof probeEnvSchema>;

/** The probe's settings from the environment, validated; throws a `ConfigError` naming the bad variable. */
export function parseProbeEnv(env: Record<string, string | undefined>): ProbeEnv {
  return parseEnv(probeEnvSchema, env);
}

/** The thresholds of a parsed probe environment. */
export function probeThresholds(env: ProbeEnv): HealthThresholds {
  return {
    warnPercent: env.PROBE_WARN_PERCENT,
    criticalPercent: env.PROBE_CRITICAL_PERCENT,
    pingWarnMs: env.PROBE_PING_WARN_MS,
  };
}
