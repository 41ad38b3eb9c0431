/** Stable machine-readable error codes; `name` is what Step Functions matches, `code` what logs and reports carry. */
export const ErrorCode = {
  Input: 'INPUT',
  Retryable: 'RETRYABLE',
  Fatal: 'FATAL',
  RedisOutOfMemory: 'REDIS_OOM',
  Auth: 'AUTH',
  Config: 'CONFIG',
  SourceChanged: 'SOURCE_CHANGED',
  RejectBudgetExceeded: 'REJECT_BUDGET_EXCEEDED',
  PreflightRefused: 'PREFLIGHT_REFUSED',
  ServerReset: 'SERVER_RESET',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/*
 * Server error replies are matched by prefix at a word boundary: an entry matches a reply that starts with the
 * entry and either ends there or goes on with a space. `'BUSY'` thus matches `BUSY Redis is busy…` but not
 * `BUSYKEY …`, and `'ERR hash value is not an integer'` matches the reply with a script suffix appended too.
 */

/**
 * Server error prefixes that mean "try again later": the server is alive but cannot serve now.
 * `NOREPLICAS` (`min-replicas-to-write` not met) usually clears once a lagging replica catches up.
 */
export const RETRYABLE_REPLY_PREFIXES = [
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'READONLY',
  'MISCONF',
  'NOREPLICAS',
] as const;

/**
 * The allowlist of server error replies that are about the record's own data, so the record is rejected (an
 * `InputError`) and the load goes on. Any server error not listed here (nor retryable, OOM or auth) stops the
 * load: an unknown reply must never turn good records into rejects. The texts are those of redis-server 7.0,
 * checked against a real server by `test/integration/errors/server-errors.test.ts`; the comment says which of
 * the loader's commands (SET [EX], HSET, EXPIRE, INCRBY, HINCRBY, HINCRBYFLOAT, RESTORE, DEL, HDEL) give it.
 *
 * Deliberately absent: `ERR syntax error`, `ERR wrong number of arguments …` and `ERR Unsupported option …`
 * (the loader built a bad command: a bug, the same for every record), and errors raised inside a script or
 * function (see {@link SCRIPT_ERROR_SUFFIX}).
 */
export const INPUT_REPLY_PREFIXES = [
  // Any command on a key that holds another type (HSET on a string, INCRBY on a hash, …).
  'WRONGTYPE',
  // RESTORE without REPLACE onto a key that exists: `BUSYKEY Target key name already exists.`
  'BUSYKEY',
  // INCRBY/HINCRBY increment, SET EX/EXPIRE/RESTORE TTL not an integer; INCRBY on a non-integer string.
  'ERR value is not an integer or out of range',
  // HINCRBY on a field holding a non-integer.
  'ERR hash value is not an integer',
  // INCRBY/HINCRBY past the 64-bit signed range.
  'ERR increment or decrement would overflow',
  // INCRBYFLOAT/HINCRBYFLOAT increment not a float; INCRBYFLOAT on a string that is not a float.
  'ERR value is not a valid float',
  // HINCRBYFLOAT on a field holding a non-float.
  'ERR hash value is not a float',
  // INCRBYFLOAT with an infinite increment.
  'ERR increment would produce NaN or Infinity',
  // HINCRBYFLOAT with an infinite increment.
  'ERR value is NaN or Infinity',
  // SET EX/PX with a TTL of 0, negative or too large (`… in 'set' command`); EXPIRE/PEXPIRE overflow.
  'ERR invalid expire time in',
  // RESTORE with a negative TTL.
  'ERR Invalid TTL value, must be >= 0',
  // A value past `proto-max-bulk-len` (`… (proto-max-bulk-len)`), e.g. from SETRANGE or APPEND.
  'ERR string exceeds maximum allowed size',
  // RESTORE of a payload whose checksum or RDB version the server rejects.
  'ERR DUMP payload version or checksum are wrong',
  // RESTORE of a payload with a valid checksum that the server cannot decode.
  'ERR Bad data format',
] as const;

/**
 * What Redis 7 appends to an error raised by `redis.call` inside a script (`script: <sha>, on
 * @user_script:1.`) or a function (`script: <name>, on @user_function:2.`). Such an error is fatal even when
 * its prefix is a data error: the script may have applied part of its writes and covers more than one record.
 */
export const SCRIPT_ERROR_SUFFIX = / script: \S+, on @user_(?:script|function):\d+\.?$/;

/** The hint on errors raised inside a script or function (Redis 7's suffix, or Redis 6's `ERR Error running script`). */
export const SCRIPT_ERROR_HINT =
  'raised inside a script or function, which may have applied part of its writes: check the data it touched';

/** Hints added to fatal server errors whose cause is the setup rather than the data, by reply prefix. */
export const REPLY_ERROR_HINTS = [
  {
    prefixes: ['MOVED', 'ASK', 'CROSSSLOT'],
    hint: 'the server is a Redis Cluster node: load it in cluster mode (slot-aware routing), not as a standalone shard',
  },
  {
    prefixes: ['ERR max number of clients reached'],
    hint: "raise the server's maxclients or lower the loader's concurrency",
  },
  {
    prefixes: ['ERR unknown command'],
    hint: 'this server does not offer the command (an older version, or renamed or disabled by its operator)',
  },
  {
    prefixes: ['NOSCRIPT'],
    hint: 'the script is not cached on this server (restarted or flushed): load it again before EVALSHA',
  },
  {
    prefixes: ['EXECABORT'],
    hint: 'a command queued in MULTI was refused, so the whole transaction was discarded',
  },
] as const;

/** Server error prefixes that mean the credentials are wrong or lack permission: retrying cannot help. */
export const AUTH_REPLY_PREFIXES = ['NOAUTH', 'WRONGPASS', 'NOPERM'] as const;

/** Node socket error codes that mean the connection was lost or never made. */
export const RETRYABLE_SOCKET_CODES = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
] as const;
