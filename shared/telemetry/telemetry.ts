import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** The `service` of every log line and the `service` dimension of every metric, unless the stage sets its own. */
export const DEFAULT_SERVICE = 'redis-bulk-loader';
/** The CloudWatch namespace of every metric, unless the stage sets its own. */
export const DEFAULT_NAMESPACE = 'RedisBulkLoader';

/**
 * The structured logger of one function (Powertools): JSON lines with the level, the service, the function's
 * name, and, through `injectLambdaContext`, the request id and cold start. `POWERTOOLS_LOG_LEVEL` sets the level
 * and `POWERTOOLS_SERVICE_NAME` the service. Nothing secret is ever handed to it: Redis URLs are logged through
 * their redacted `name`, credentials never.
 *
 * @example
 * const logger = createLogger('import-chunk');
 * export const handler = middy(run).use(injectLambdaContext(logger, { resetKeys: true }));
 */
export function createLogger(functionName: string): Logger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE,
    persistentKeys: { function: functionName },
  });
}

/**
 * The metrics of one function (Powertools, embedded metric format on stdout), flushed after every invocation
 * by `logMetrics`. Namespace and service come from `METRICS_NAMESPACE`/`POWERTOOLS_METRICS_NAMESPACE` and
 * `METRICS_SERVICE`/`POWERTOOLS_SERVICE_NAME`; `service` is the dimension the alarms in infra/alarms.yml select on.
 */
export function createMetrics(options: { namespace?: string; service?: string } = {}): Metrics {
  return new Metrics({
    namespace:
      options.namespace ??
      process.env.METRICS_NAMESPACE ??
      process.env.POWERTOOLS_METRICS_NAMESPACE ??
      DEFAULT_NAMESPACE,
    serviceName:
      options.service ??
      process.env.METRICS_SERVICE ??
      process.env.POWERTOOLS_SERVICE_NAME ??
      DEFAULT_SERVICE,
  });
}
