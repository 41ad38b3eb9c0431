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

/** Server error prefixes that mean "try again later": the server is alive but cannot serve now. */
export const RETRYABLE_REPLY_PREFIXES = [
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'READONLY',
  'MISCONF',
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
