import {
  AUTH_REPLY_PREFIXES,
  INPUT_REPLY_PREFIXES,
  REPLY_ERROR_HINTS,
  RETRYABLE_REPLY_PREFIXES,
  RETRYABLE_SOCKET_CODES,
  SCRIPT_ERROR_HINT,
  SCRIPT_ERROR_SUFFIX,
} from './constants.js';
import {
  AuthError,
  FatalError,
  InputError,
  LoaderError,
  RedisOutOfMemoryError,
  RetryableError,
} from './errors.js';

const MAX_MESSAGE = 200;
const MAX_COMMAND_NAME = 32;

/** Cuts a message so error bodies never flood logs. */
export function truncate(text: string, max = MAX_MESSAGE): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/**
 * Where a server error reply came from, so its message names the place. Every field is optional; the message
 * names what it is given.
 */
export interface ReplyErrorContext {
  /** The shard as `Target.name` gives it, password already redacted, e.g. `redis://127.0.0.1:6379/0`. */
  readonly shard?: string;
  /** The command's name (`args[0]`), e.g. `HSET`; shown upper case. */
  readonly command?: string;
  /**
   * 0-based position of the command in its pipeline (the index of its reply); the message shows it 1-based,
   * as upstash/redis-js does: index 2 reads `Command 3`.
   */
  readonly index?: number;
}

/**
 * Whether a server reply starts with one of `prefixes` at a word boundary: the reply ends right after the
 * prefix or goes on with a space (so `BUSY` does not match `BUSYKEY …`).
 */
export function matchesReplyPrefix(message: string, prefixes: readonly string[]): boolean {
  return prefixes.some(
    (p) => message.startsWith(p) && (message.length === p.length || message[p.length] === ' '),
  );
}

function fatalHint(message: string): string | undefined {
  if (SCRIPT_ERROR_SUFFIX.test(message) || message.startsWith('ERR Error running script')) {
    return SCRIPT_ERROR_HINT;
  }
  return REPLY_ERROR_HINTS.find((h) => matchesReplyPrefix(message, h.prefixes))?.hint;
}

// Defence in depth: the shard name should come redacted, but a password must never reach a log line.
function redactShard(shard: string): string {
  return shard.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:).*@/i, '$1***@');
}

function where(context: ReplyErrorContext | undefined): string | undefined {
  if (context === undefined) return undefined;
  const parts: string[] = [];
  if (context.index !== undefined) parts.push(String(context.index + 1));
  const command = context.command?.trim();
  if (command) parts.push(`[ ${truncate(command.toUpperCase(), MAX_COMMAND_NAME)} ]`);
  if (context.shard) parts.push(`on ${redactShard(context.shard)}`);
  return parts.length === 0 ? undefined : `Command ${parts.join(' ')}`;
}

function describeReply(message: string, context: ReplyErrorContext | undefined, hint?: string): string {
  const place = where(context);
  const body = `redis: ${truncate(message)}${hint === undefined ? '' : ` (hint: ${hint})`}`;
  return place === undefined ? body : `${place} failed: ${body}`;
}

/**
 * Classifies a Redis error reply (the text after `-`) as it applies to one command. Only errors about the
 * command's own data reject the record; an error this table does not know stops the load, so a setup problem
 * never turns good records into rejects:
 * - `OOM …` → {@link RedisOutOfMemoryError} (fatal);
 * - `NOAUTH`/`WRONGPASS`/`NOPERM` → {@link AuthError} (fatal);
 * - `LOADING`/`BUSY`/`TRYAGAIN`/`CLUSTERDOWN`/`MASTERDOWN`/`READONLY`/`MISCONF`/`NOREPLICAS` →
 *   {@link RetryableError};
 * - the data errors of {@link INPUT_REPLY_PREFIXES} (`WRONGTYPE`, `BUSYKEY`, `ERR value is not an integer or
 *   out of range`, `ERR invalid expire time in 'set' command`, …) → {@link InputError}, unless raised inside a
 *   script or function ({@link SCRIPT_ERROR_SUFFIX});
 * - anything else (`ERR unknown command …`, `MOVED`, `ASK`, `CROSSSLOT`, `NOSCRIPT`, `EXECABORT`,
 *   `ERR max number of clients reached`, `ERR syntax error`, …) → {@link FatalError}, with a hint from
 *   {@link REPLY_ERROR_HINTS} where the cause is known.
 *
 * The message is `redis: <reply>` (the reply cut to 200 characters), prefixed with the place when `context`
 * names one: `Command 3 [ HSET ] on redis://127.0.0.1:6379/0 failed: redis: WRONGTYPE …`.
 *
 * @example
 * const error = classifyReplyError(reply.message, { shard: target.name, command: 'HSET', index: i });
 * if (error instanceof InputError) reject(record, error.message);
 * else throw error;
 */
export function classifyReplyError(message: string, context?: ReplyErrorContext): LoaderError {
  if (matchesReplyPrefix(message, ['OOM'])) return new RedisOutOfMemoryError(describeReply(message, context));
  if (matchesReplyPrefix(message, AUTH_REPLY_PREFIXES)) return new AuthError(describeReply(message, context));
  if (matchesReplyPrefix(message, RETRYABLE_REPLY_PREFIXES))
    return new RetryableError(describeReply(message, context));
  if (!SCRIPT_ERROR_SUFFIX.test(message) && matchesReplyPrefix(message, INPUT_REPLY_PREFIXES))
    return new InputError(describeReply(message, context));
  return new FatalError(describeReply(message, context, fatalHint(message)));
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
