import { AUTH_REPLY_PREFIXES, RETRYABLE_REPLY_PREFIXES, RETRYABLE_SOCKET_CODES } from './constants.js';
import {
  AuthError,
  FatalError,
  InputError,
  LoaderError,
  RedisOutOfMemoryError,
  RetryableError,
} from './errors.js';

const MAX_MESSAGE = 200;

/** Cuts a message so error bodies never flood logs. */
export function truncate(text: string, max = MAX_MESSAGE): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function firstWord(message: string): string {
  const space = message.indexOf(' ');
  return space === -1 ? message : message.slice(0, space);
}

/**
 * Classifies a Redis error reply (the text after `-`) as it applies to one command:
 * - `OOM …` → {@link RedisOutOfMemoryError} (fatal);
 * - `NOAUTH`/`WRONGPASS`/`NOPERM` → {@link AuthError} (fatal);
 * - `LOADING`/`BUSY`/`TRYAGAIN`/`CLUSTERDOWN`/`MASTERDOWN`/`READONLY`/`MISCONF` → {@link RetryableError};
 * - anything else (`WRONGTYPE`, `ERR …`) is about this command's data → {@link InputError}.
 */
export function classifyReplyError(message: string): LoaderError {
  const word = firstWord(message);
  const text = `redis: ${truncate(message)}`;
  if (word === 'OOM') return new RedisOutOfMemoryError(text);
  if ((AUTH_REPLY_PREFIXES as readonly string[]).includes(word)) return new AuthError(text);
  if ((RETRYABLE_REPLY_PREFIXES as readonly string[]).includes(word)) return new RetryableError(text);
  return new InputError(text);
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function httpStatus(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  const status = meta?.httpStatusCode ?? (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * The one place that maps driver, socket, HTTP and S3 errors onto the loader's error classes.
 * Errors that already are {@link LoaderError}s pass through unchanged.
 *
 * @example
 * try { await target.exec(cmds) } catch (err) { const e = classifyError(err); if (!e.retryable) throw e }
 */
export function classifyError(err: unknown): LoaderError {
  if (err instanceof LoaderError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = errnoCode(err);
  if (code && (RETRYABLE_SOCKET_CODES as readonly string[]).includes(code)) {
    return new RetryableError(`connection: ${truncate(message)}`, { cause: err });
  }
  const status = httpStatus(err);
  if (status !== undefined) {
    if (status === 429 || status >= 500)
      return new RetryableError(`http ${status}: ${truncate(message)}`, { cause: err });
    if (status === 401 || status === 403)
      return new AuthError(`http ${status}: ${truncate(message)}`, { cause: err });
  }
  const name = err instanceof Error ? err.name : '';
  if (
    name === 'SlowDown' ||
    name === 'ThrottlingException' ||
    name === 'RequestTimeout' ||
    name === 'TimeoutError'
  ) {
    return new RetryableError(`${name}: ${truncate(message)}`, { cause: err });
  }
  return new FatalError(truncate(message), { cause: err });
}
