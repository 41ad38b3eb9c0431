import { ErrorCode } from './constants.js';

/**
 * Base class of every error the loader raises on purpose. `name` is set on every subclass
 * (Step Functions matches on it), `code` is stable, `retryable` tells callers whether a retry can help.
 */
export class LoaderError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(message: string, options: { code: ErrorCode; retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LoaderError';
    this.code = options.code;
    this.retryable = options.retryable;
  }
}

/** Where a record came from, for rejects and error messages. `line` is unknown when a range starts mid-file. */
export interface RecordLocation {
  file: string;
  /** 1-based physical line where the record starts, when known. */
  line?: number;
  /** Byte offset of the record's first byte in the source. */
  offset: number;
}

/** A record-level problem: never retried, the record goes to the rejects file and the load goes on. */
export class InputError extends LoaderError {
  readonly location?: RecordLocation;
  constructor(message: string, options: { location?: RecordLocation; cause?: unknown } = {}) {
    super(message, { code: ErrorCode.Input, retryable: false, cause: options.cause });
    this.name = 'InputError';
    this.location = options.location;
  }
}

/** A transient failure (connection lost, server loading/busy, throttling): retry with backoff. */
export class RetryableError extends LoaderError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: ErrorCode.Retryable, retryable: true, cause: options.cause });
    this.name = 'RetryableError';
  }
}

/** A failure that no retry can fix; the whole load stops. */
export class FatalError extends LoaderError {
  constructor(message: string, options: { code?: ErrorCode; cause?: unknown } = {}) {
    super(message, { code: options.code ?? ErrorCode.Fatal, retryable: false, cause: options.cause });
    this.name = 'FatalError';
  }
}

/** Redis answered `OOM command not allowed when used memory > 'maxmemory'`. */
export class RedisOutOfMemoryError extends FatalError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: ErrorCode.RedisOutOfMemory, cause: options.cause });
    this.name = 'RedisOutOfMemoryError';
  }
}

/** Wrong or missing credentials, or an ACL user lacking a permission. */
export class AuthError extends FatalError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: ErrorCode.Auth, cause: options.cause });
    this.name = 'AuthError';
  }
}

/** A bad job spec, configuration or command line: the message says what to fix. */
export class ConfigError extends FatalError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: ErrorCode.Config, cause: options.cause });
    this.name = 'ConfigError';
  }
}

/** The source object changed (ETag or size) while it was being loaded. */
export class SourceChangedError extends FatalError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: ErrorCode.SourceChanged, cause: options.cause });
    this.name = 'SourceChangedError';
  }
}

/** More records were rejected than the spec's reject budget allows. */
export class RejectBudgetExceededError extends FatalError {
  readonly rejected: number;
  readonly read: number;
  constructor(message: string, options: { rejected: number; read: number }) {
    super(message, { code: ErrorCode.RejectBudgetExceeded });
    this.name = 'RejectBudgetExceededError';
    this.rejected = options.rejected;
    this.read = options.read;
  }
}

/** What the memory pre-flight found, as a {@link PreflightRefusedError} carries it. */
export interface PreflightRefusal {
  /** Why: the shard(s) past the limit and the projection (the pre-flight's `refusal`). */
  readonly refusal: string;
  /** The models that would fit, or what to do when none does (the pre-flight's `suggestion`). */
  readonly suggestion?: string;
  /** Share of maxmemory a shard may reach. */
  readonly limit: number;
}

/**
 * The memory pre-flight refused the load before any write: a shard would pass the memory limit. Retrying
 * cannot help; change the model, free memory, or force the load (an operator decision).
 */
export class PreflightRefusedError extends FatalError {
  readonly refusal: string;
  readonly suggestion?: string;
  readonly limit: number;
  constructor(message: string, options: PreflightRefusal & { cause?: unknown }) {
    super(message, { code: ErrorCode.PreflightRefused, cause: options.cause });
    this.name = 'PreflightRefusedError';
    this.refusal = options.refusal;
    if (options.suggestion !== undefined) this.suggestion = options.suggestion;
    this.limit = options.limit;
  }
}

/** What a {@link ServerResetError} says changed about a shard between two connections. */
export interface ServerResetDetails {
  /** The shard's name (password redacted). */
  readonly shard: string;
  /** The `run_id` (and `master_replid`) seen before, and now. */
  readonly before: { readonly runId: string; readonly replId?: string };
  readonly after: { readonly runId: string; readonly replId?: string; readonly uptimeSeconds?: number };
}

/**
 * A shard is not the server it was: after a reconnect its `run_id` (a restart) or `master_replid` (a failover
 * or a resync from another primary) changed, so writes it confirmed earlier may be gone. No retry of the
 * pipeline can fix that: the load replays its range from the start (writes are idempotent) or stops with the
 * range start as its resume point.
 */
export class ServerResetError extends FatalError {
  readonly shard: string;
  readonly before: ServerResetDetails['before'];
  readonly after: ServerResetDetails['after'];
  constructor(message: string, options: ServerResetDetails & { cause?: unknown }) {
    super(message, { code: ErrorCode.ServerReset, cause: options.cause });
    this.name = 'ServerResetError';
    this.shard = options.shard;
    this.before = options.before;
    this.after = options.after;
  }
}
