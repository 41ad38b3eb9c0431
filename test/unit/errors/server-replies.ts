/**
 * Server error replies and the class each must map to, as redis-server 7.0 words them. The unit test checks
 * the classification of every entry; `test/integration/errors/server-errors.test.ts` provokes the entries
 * marked `real` on a real server and checks that the server still says exactly this, so the table cannot
 * drift from the server.
 */
export type ErrorName =
  'InputError' | 'RetryableError' | 'FatalError' | 'RedisOutOfMemoryError' | 'AuthError';

/** One reply of the table: its exact text, the class it maps to, and whether the integration test provokes it. */
export interface ServerReply {
  readonly reply: string;
  readonly name: ErrorName;
  /** Provoked on a real redis-server by the integration test, which compares the text exactly. */
  readonly real?: true;
}

const input = (reply: string): ServerReply => ({ reply, name: 'InputError', real: true });

/** Errors about the record's own data: the record is rejected. */
export const DATA_REPLIES = {
  wrongType: input('WRONGTYPE Operation against a key holding the wrong kind of value'),
  busyKey: input('BUSYKEY Target key name already exists.'),
  notInteger: input('ERR value is not an integer or out of range'),
  hashNotInteger: input('ERR hash value is not an integer'),
  overflow: input('ERR increment or decrement would overflow'),
  notFloat: input('ERR value is not a valid float'),
  hashNotFloat: input('ERR hash value is not a float'),
  incrNaN: input('ERR increment would produce NaN or Infinity'),
  hashIncrNaN: input('ERR value is NaN or Infinity'),
  setExpire: input("ERR invalid expire time in 'set' command"),
  expireExpire: input("ERR invalid expire time in 'expire' command"),
  pexpireExpire: input("ERR invalid expire time in 'pexpire' command"),
  restoreTtl: input('ERR Invalid TTL value, must be >= 0'),
  tooBig: input('ERR string exceeds maximum allowed size (proto-max-bulk-len)'),
  badChecksum: input('ERR DUMP payload version or checksum are wrong'),
  badData: input('ERR Bad data format'),
} as const satisfies Record<string, ServerReply>;

/** Transient server states: the pipeline is retried with backoff. */
export const RETRYABLE_REPLIES = {
  loading: { reply: 'LOADING Redis is loading the dataset in memory', name: 'RetryableError' },
  busy: {
    reply: 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
    name: 'RetryableError',
    real: true,
  },
  tryAgain: {
    reply: 'TRYAGAIN Multiple keys request during rehashing of slot',
    name: 'RetryableError',
    real: true,
  },
  clusterDown: { reply: 'CLUSTERDOWN Hash slot not served', name: 'RetryableError', real: true },
  clusterFailed: { reply: 'CLUSTERDOWN The cluster is down', name: 'RetryableError' },
  masterDown: {
    reply: "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    name: 'RetryableError',
    real: true,
  },
  readOnly: {
    reply: "READONLY You can't write against a read only replica.",
    name: 'RetryableError',
    real: true,
  },
  misconf: {
    reply:
      "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
    name: 'RetryableError',
  },
  noReplicas: { reply: 'NOREPLICAS Not enough good replicas to write.', name: 'RetryableError', real: true },
} as const satisfies Record<string, ServerReply>;

/** Out of memory and credential problems: fatal, with their own classes. */
export const OOM_AND_AUTH_REPLIES = {
  oom: {
    reply: "OOM command not allowed when used memory > 'maxmemory'.",
    name: 'RedisOutOfMemoryError',
    real: true,
  },
  noAuth: { reply: 'NOAUTH Authentication required.', name: 'AuthError' },
  wrongPass: {
    reply: 'WRONGPASS invalid username-password pair or user is disabled.',
    name: 'AuthError',
    real: true,
  },
  noPerm: {
    reply: "NOPERM this user has no permissions to run the 'hset' command",
    name: 'AuthError',
    real: true,
  },
  noPermKey: { reply: 'NOPERM No permissions to access a key', name: 'AuthError' },
} as const satisfies Record<string, ServerReply>;

const fatal = (reply: string, real?: true): ServerReply =>
  real ? { reply, name: 'FatalError', real } : { reply, name: 'FatalError' };

/** Errors about the setup, the server or the loader's own commands: the load stops, no record is rejected. */
export const FATAL_REPLIES = {
  maxClients: fatal('ERR max number of clients reached', true),
  moved: fatal('MOVED 1234 10.0.0.1:6379'),
  ask: fatal('ASK 1234 10.0.0.1:6379'),
  crossSlot: fatal("CROSSSLOT Keys in request don't hash to the same slot", true),
  notOwner: fatal("ERR I'm not the owner of hash slot 15495"),
  clusterDisabled: fatal('ERR This instance has cluster support disabled', true),
  unknownCommand: fatal("ERR unknown command 'FOO', with args beginning with: 'bar' ", true),
  noScript: fatal('NOSCRIPT No matching script. Please use EVAL.', true),
  execAbort: fatal('EXECABORT Transaction discarded because of previous errors.', true),
  execWithoutMulti: fatal('ERR EXEC without MULTI', true),
  syntax: fatal('ERR syntax error', true),
  arity: fatal("ERR wrong number of arguments for 'hset' command", true),
  unsupportedOption: fatal('ERR Unsupported option BADOPT', true),
  dbIndex: fatal('ERR DB index is out of range', true),
  functionNotFound: fatal('ERR Function not found', true),
  // Data errors raised inside a script or function: the script may have written part of its records.
  scriptWrongType: fatal(
    'WRONGTYPE Operation against a key holding the wrong kind of value script: 041fbb2a5ef0d7c7ac1f5cea8c46a087e58fd63f, on @user_script:1.',
  ),
  scriptNotInteger: fatal(
    'ERR value is not an integer or out of range script: bca86f5de1ac6354fe04fd1b6ad0378dbc3501e8, on @user_script:1.',
  ),
  functionWrongType: fatal(
    'WRONGTYPE Operation against a key holding the wrong kind of value script: f, on @user_function:2.',
  ),
  scriptLuaError: fatal(
    'ERR user_script:1: x script: 9851144f39f03a0d597a980c5aa79c80cb696891, on @user_script:1.',
  ),
  scriptUnknownCommand: fatal(
    'ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.',
  ),
  // Redis 6 wording of a data error inside a script.
  redis6Script: fatal(
    'ERR Error running script (call to f_0d6bd8ad3f8d2ebd2ebc2bcb2f0ee6fc1e8f3b77): @user_script:1: WRONGTYPE Operation against a key holding the wrong kind of value',
  ),
  // Not from redis-server 7; the kind of text providers and future versions send. Unknown means fatal.
  disabled: fatal('ERR DISABLED'),
  commandDisabled: fatal('ERR command is disabled'),
  unknownCode: fatal('SOMENEWCODE something the loader never heard of'),
  empty: fatal(''),
  // Near misses of other classes' prefixes must not borrow their class.
  busyKeyLike: fatal('BUSYKEYS not a real reply'),
  oomLike: fatal('OOMKILLED not a real reply'),
  notIntegerLike: fatal('ERR value is not an integer or out of rangeX'),
} as const satisfies Record<string, ServerReply>;

/** Every reply of the table. */
export const SERVER_REPLIES = {
  ...DATA_REPLIES,
  ...RETRYABLE_REPLIES,
  ...OOM_AND_AUTH_REPLIES,
  ...FATAL_REPLIES,
} as const;

/** The id of one reply of the table. */
export type ServerReplyId = keyof typeof SERVER_REPLIES;
