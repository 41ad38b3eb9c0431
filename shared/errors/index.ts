export { classifyError, classifyReplyError, truncate } from './classify.js';
export {
  AUTH_REPLY_PREFIXES,
  ErrorCode,
  RETRYABLE_REPLY_PREFIXES,
  RETRYABLE_SOCKET_CODES,
} from './constants.js';
export {
  AuthError,
  ConfigError,
  FatalError,
  InputError,
  LoaderError,
  type PreflightRefusal,
  PreflightRefusedError,
  type RecordLocation,
  RedisOutOfMemoryError,
  RejectBudgetExceededError,
  RetryableError,
  ServerResetError,
  type ServerResetDetails,
  SourceChangedError,
} from './errors.js';
export { backoffDelay, DEFAULT_RETRY, type RetryEvent, type RetryPolicy, withRetry } from './retry.js';
