import { setTimeout as sleep } from 'node:timers/promises';
import {
  AuthError,
  backoffDelay,
  FatalError,
  type LoaderError,
  RetryableError,
  type RetryPolicy,
} from '../errors/index.js';
import { responseText, retryAfterMs } from './upstash-protocol.js';
import type { RestEndpoint } from './url.js';

/** What {@link UpstashHttp.post} resolves with for HTTP 413: nothing ran, the request must be split. */
export const TOO_LARGE: unique symbol = Symbol('too large');

/** The longest `Retry-After` honoured; a server asking for more gets the retry sooner. */
const MAX_RETRY_AFTER_MS = 60_000;

/** Options of {@link UpstashHttp}. */
export interface UpstashHttpOptions {
  readonly token: string;
  readonly requestTimeoutMs: number;
  readonly retry: RetryPolicy;
}

/** How one HTTP attempt ended. */
type Attempt =
  | { kind: 'ok'; body: unknown }
  | { kind: 'too-large' }
  | { kind: 'retry'; error: RetryableError; waitMs?: number }
  | { kind: 'fail'; error: LoaderError };

/**
 * The transport of the Upstash REST driver: one POST with Node's `fetch`, what its status means, and the
 * bounded retries of a request (exponential backoff with full jitter, never shorter than `Retry-After`).
 * HTTP 401/403 is an {@link AuthError} at once; 429, 5xx, network errors and timeouts are retried and end
 * in a {@link RetryableError}; 413 is handed back; any other status is a {@link FatalError}. Messages name
 * the endpoint and never the token.
 */
export class UpstashHttp {
  private readonly headers: Record<string, string>;
  private aborter = new AbortController();
  private sent = 0;

  constructor(
    private readonly endpoint: RestEndpoint,
    private readonly options: UpstashHttpOptions,
  ) {
    this.headers = {
      authorization: `Bearer ${options.token}`,
      'content-type': 'application/json',
      // Strings in results come base64-encoded: binary values survive JSON.
      'upstash-encoding': 'base64',
    };
  }

  /** HTTP requests sent so far, retries included. */
  get requests(): number {
    return this.sent;
  }

  /** Aborts the requests in flight and the retry waits; their posts reject with a {@link RetryableError}. */
  abort(): void {
    this.aborter.abort();
    this.aborter = new AbortController();
  }

  /**
   * POSTs `body` to `path` (`/pipeline`), retrying what may pass; resolves with the parsed JSON, or
   * {@link TOO_LARGE} for HTTP 413 (nothing ran; the caller splits).
   */
  async post(path: string, body: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(path, body);
      if (outcome.kind === 'ok') return outcome.body;
      if (outcome.kind === 'too-large') return TOO_LARGE;
      if (outcome.kind === 'fail') throw outcome.error;
      const policy = this.options.retry;
      if (policy === false || attempt >= policy.retries) {
        const tries = attempt + 1;
        throw new RetryableError(`${outcome.error.message} (${tries} attempt${tries === 1 ? '' : 's'})`, {
          cause: outcome.error.cause,
        });
      }
      const waitMs = Math.max(
        backoffDelay(attempt, policy),
        Math.min(outcome.waitMs ?? 0, MAX_RETRY_AFTER_MS),
      );
      const signal = this.aborter.signal;
      try {
        await sleep(waitMs, undefined, { signal });
      } catch {
        throw this.closedError();
      }
    }
  }

  /** One HTTP request and what its answer means. */
  private async attempt(path: string, body: string): Promise<Attempt> {
    const closing = this.aborter.signal;
    if (closing.aborted) return { kind: 'fail', error: this.closedError() };
    // One controller per request, tied to close() and a timer by hand: AbortSignal.any() over the long-lived
    // close signal keeps every request's signal registered on it.
    const request = new AbortController();
    const abort = () => request.abort();
    closing.addEventListener('abort', abort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort();
    }, this.options.requestTimeoutMs);
    this.sent++;
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await fetch(`${this.endpoint.base}${path}`, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: request.signal,
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      if (closing.aborted) return { kind: 'fail', error: this.closedError() };
      const reason = timedOut ? `no response within ${this.options.requestTimeoutMs} ms` : networkText(err);
      return {
        kind: 'retry',
        error: new RetryableError(`Upstash REST ${this.endpoint.name}: ${reason}`, { cause: err }),
      };
    } finally {
      clearTimeout(timer);
      closing.removeEventListener('abort', abort);
    }
    if (status >= 200 && status < 300) {
      try {
        return { kind: 'ok', body: JSON.parse(text) as unknown };
      } catch {
        return {
          kind: 'fail',
          error: new FatalError(
            `Upstash REST ${this.endpoint.name} answered HTTP ${status} with a body that is not JSON: ${responseText(text, this.options.token)}`,
          ),
        };
      }
    }
    const said = responseText(text, this.options.token);
    if (status === 413) return { kind: 'too-large' };
    if (status === 401 || status === 403) {
      return {
        kind: 'fail',
        error: new AuthError(
          `Upstash REST ${this.endpoint.name} refused the token (HTTP ${status}: ${said}): check UPSTASH_REDIS_REST_TOKEN`,
        ),
      };
    }
    if (status === 429 || status >= 500) {
      const waitMs = retryAfterMs(retryAfter);
      return {
        kind: 'retry',
        error: new RetryableError(`Upstash REST ${this.endpoint.name}: HTTP ${status}: ${said}`),
        ...(waitMs === undefined ? {} : { waitMs }),
      };
    }
    return {
      kind: 'fail',
      error: new FatalError(
        `Upstash REST ${this.endpoint.name} refused the request (HTTP ${status}: ${said})`,
      ),
    };
  }

  private closedError(): RetryableError {
    return new RetryableError(`Upstash REST ${this.endpoint.name}: closed while a request was in flight`);
  }
}

/** `fetch failed` says nothing: the socket error under it (`ECONNREFUSED …`) does. */
function networkText(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const inner = cause instanceof Error ? cause : err instanceof Error ? err : undefined;
  const code = (inner as { code?: unknown } | undefined)?.code;
  const message = inner?.message ?? String(err);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
