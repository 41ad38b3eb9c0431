import { setTimeout as sleep } from 'node:timers/promises';
import { classifyError } from './classify.js';
import type { LoaderError } from './errors.js';

/** Retry policy: `false` turns retries off. Delays use exponential backoff with full jitter. */
export type RetryPolicy =
  | false
  | {
      /** Attempts after the first. @default 8 */
      retries: number;
      /** First backoff ceiling in ms. @default 100 */
      baseMs: number;
      /** Largest backoff ceiling in ms. @default 10000 */
      maxMs: number;
    };

/** The default policy: 8 retries, 100 ms doubling to at most 10 s, full jitter (about a minute in the worst case). */
export const DEFAULT_RETRY: Exclude<RetryPolicy, false> = { retries: 8, baseMs: 100, maxMs: 10_000 };

/** Full-jitter delay for a 0-based attempt: uniform in [0, min(maxMs, baseMs * 2^attempt)]. */
export function backoffDelay(
  attempt: number,
  policy: Exclude<RetryPolicy, false>,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** What {@link withRetry} tells its observer about each failed attempt. */
export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: LoaderError;
}

/**
 * Runs `fn`, retrying only errors that {@link classifyError} marks retryable, at most `policy.retries` times.
 * Non-retryable errors surface at once (a wrong password never causes a retry storm); the last retryable
 * error surfaces when the budget is spent.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: { onRetry?: (event: RetryEvent) => void; signal?: AbortSignal } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const error = classifyError(err);
      if (!error.retryable || policy === false || attempt >= policy.retries || options.signal?.aborted)
        throw error;
      const delayMs = backoffDelay(attempt, policy);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}
