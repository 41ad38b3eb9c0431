import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import { loaderErrors, secretsRuntime, validateEvent, withCredentials } from '../../shared/import/index.js';
import {
  healthLogLine,
  publishHealthMetrics,
  type ProbeEnv,
  type ProbeReport,
  parseProbeEnv,
  probeShards,
  probeThresholds,
} from '../../shared/probe/index.js';
import { isProvisional, openTargets, type Target } from '../../shared/redis/index.js';
import { createLogger } from '../../shared/telemetry/index.js';
import { probeEventSchema } from './event.js';

const logger = createLogger('health-probe');

/** Configuration and Redis connections of one health-probe process. */
export interface ProbeRuntime {
  readonly env: ProbeEnv;
  readonly targets: readonly Target[];
}

/**
 * On Lambda: the environment parsed once per process, each REDIS_URL asked whether it is a cluster node, and
 * the connections kept while warm. A server that cannot be reached is kept as a standalone target: the probe
 * reports it down (and sees a cluster node's cluster state once it answers).
 */
const lambdaRuntime = secretsRuntime(
  async (source): Promise<ProbeRuntime> => {
    const env = parseProbeEnv(source);
    const credentials = { username: env.REDIS_USERNAME, password: env.REDIS_PASSWORD };
    const targets = await openTargets(
      env.REDIS_URL.map((url) => withCredentials(url, credentials)),
      {
        cluster: env.REDIS_CLUSTER,
        connectTimeoutMs: env.PROBE_TIMEOUT_MS,
        commandTimeoutMs: env.PROBE_TIMEOUT_MS,
        clientName: 'redis-bulk-loader-probe',
        ...(env.UPSTASH_REDIS_REST_TOKEN ? { restToken: env.UPSTASH_REDIS_REST_TOKEN } : {}),
        lenient: true,
      },
    );
    return { env, targets };
  },
  {
    keep: (runtime) => !runtime.targets.some(isProvisional),
    dispose: async (runtime) => {
      await Promise.allSettled(runtime.targets.map((t) => t.close()));
    },
  },
);

/**
 * middy middleware: after the probe, publishes its CloudWatch metrics (Powertools, embedded metric format on
 * stdout, which Lambda ships to CloudWatch Logs) and logs the report as one structured line.
 */
function emitHealth(
  runtime: () => ProbeRuntime | Promise<ProbeRuntime>,
  log: Logger,
): MiddlewareObj<unknown, ProbeReport> {
  return {
    after: async (request) => {
      const { env } = await runtime();
      const report = request.response!;
      publishHealthMetrics(report, { namespace: env.METRICS_NAMESPACE, service: env.METRICS_SERVICE });
      const { level, message, ...fields } = healthLogLine(report);
      log[level](message, fields);
    },
  };
}

/** The health-probe handler over a runtime (tests pass their own) and a logger. */
export function createProbeHandler(
  runtime: () => ProbeRuntime | Promise<ProbeRuntime> = lambdaRuntime,
  log: Logger = logger,
) {
  return middy(async (): Promise<ProbeReport> => {
    const { env, targets } = await runtime();
    return probeShards(targets, { pings: env.PROBE_PINGS, thresholds: probeThresholds(env) });
  })
    .use(injectLambdaContext(log, { resetKeys: true }))
    .use(validateEvent(probeEventSchema, 'health-probe event'))
    .use(emitHealth(runtime, log))
    .use(loaderErrors('health-probe', log));
}

/** EventBridge schedule → per-shard health (PING, INFO) → EMF metrics, a log line, and the report as result. */
export const handler = createProbeHandler();
