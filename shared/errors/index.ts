export {
  classifyError,
  classifyReplyError,
  matchesReplyPrefix,
  type ReplyErrorContext,
  truncate,
} from './classify.js';
export {
  AUTH_REPLY_PREFIXES,
  ErrorCode,
  INPUT_REPLY_PREFIXES,
  REPLY_ERROR_HINTS,
  RETRYABLE_REPLY_PREFIXES,
  RETRYABLE_SOCKET_CODES,
  SCRIPT_ERROR_HINT,
  SCRIPT_ERROR_SUFFIX,
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
