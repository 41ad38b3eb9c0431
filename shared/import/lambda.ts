import type { MiddlewareObj } from '@middy/core';
import type { z } from 'zod';
import { formatZodError } from '../config/index.js';
import { classifyError, ConfigError } from '../errors/index.js';
import { createLogger } from '../telemetry/index.js';

/**
 * middy middleware: validates the event with a zod schema before the handler runs and replaces it with the
 * parsed value. A bad event is a {@link ConfigError} naming every problem (never retried).
 *
 * @example
 * export const handler = middy(run).use(validateEvent(chunkTaskSchema, 'import-chunk task'));
 */
export function validateEvent(schema: z.ZodType, what: string): MiddlewareObj {
  return {
    name: 'validateEvent',
    before: (request) => {
      const result = schema.safeParse(request.event);
      if (!result.success) throw new ConfigError(`${what} is invalid: ${formatZodError(result.error)}`);
      request.event = result.data;
    },
  };
}

/** What {@link loaderErrors} logs through: a Powertools `Logger`, or anything with its `error` method. */
export interface ErrorLog {
  error(message: string, ...attributes: Record<string, unknown>[]): void;
}

/** Where {@link loaderErrors} counts failed invocations: a Powertools `Metrics`, flushed by `logMetrics`. */
export interface ErrorMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
}

/**
 * middy middleware: turns any error into a loader error (so its `name` is what Step Functions matches:
 * `RetryableError`, `AuthError`, …), logs it as one structured line and counts it in `metrics`
 * (`RetryableErrors` or `Errors`; the error's name is in the log line). Loader errors never carry a
 * credential (URLs are redacted where they are made), so the message is logged as it is.
 */
export function loaderErrors(
  functionName: string,
  log: ErrorLog = createLogger(functionName),
  metrics?: ErrorMetrics,
): MiddlewareObj {
  return {
    name: 'loaderErrors',
    onError: (request) => {
      const error = classifyError(request.error);
      request.error = error;
      metrics?.addMetric(error.retryable ? 'RetryableErrors' : 'Errors', 'Count', 1);
      log.error(`${functionName} failed: ${error.name}`, {
        error: { name: error.name, code: error.code, message: error.message },
      });
    },
  };
}
