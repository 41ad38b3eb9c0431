import {
  AuthError,
  ConfigError,
  classifyError,
  LoaderError,
  PreflightRefusedError,
  RejectBudgetExceededError,
} from '../shared/errors/index.js';

/** Process exit codes of the CLI (documented in `--help` and the README). */
export const ExitCode = {
  /** Every record was read and is written, rejected or skipped. */
  Ok: 0,
  /** A bug: an error the loader did not expect. */
  Internal: 1,
  /** Bad command line, import spec, CSV header or TLS setting: nothing was written. */
  Usage: 2,
  /** Fatal error: Redis unreachable, authentication, out of memory, source unreadable, retries spent. */
  Fatal: 3,
  /** More records were rejected than the reject budget allows. */
  RejectBudget: 4,
  /**
   * The memory pre-flight refused the load: a shard would pass the memory limit. Nothing was written; unlike
   * 3, retrying cannot help — change the model, free memory or pass `--force`.
   */
  PreflightRefused: 5,
  /** `probe`: a shard's status is at or above `--fail-on` (default critical). */
  Unhealthy: 6,
  /** Stopped by Ctrl-C (SIGINT) at a batch boundary; the summary says where to resume. */
  Interrupted: 130,
  /** Stopped by SIGTERM (`kill`, `docker stop`, systemd) at a batch boundary; the summary says where to resume. */
  Terminated: 143,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `
Exit codes:
  0    completed: every record read is written, rejected (see the rejects file) or skipped
  2    bad command line or import spec, a CSV header without a field the spec needs, or a TLS setting
       the server refutes (CA, server name, plain-text port); nothing was written
  3    fatal: Redis unreachable, wrong credentials, Redis out of memory, source unreadable, retries spent
  4    the reject budget was exceeded: more than rejectBudget.fraction of the records read were rejected,
       once rejectBudget.minRecords were read (a smaller file never fails on the fraction)
  5    refused by the memory pre-flight: the load would fill a shard past --memory-limit of maxmemory;
       nothing was written (use the suggested model, free memory, or --force)
  6    probe: a shard is at or above the --fail-on status (default critical)
  130  interrupted by Ctrl-C (SIGINT) at a batch boundary; the summary gives --start-offset/--start-line
       to resume
  143  stopped by SIGTERM at a batch boundary, like Ctrl-C; the summary gives the resume point
  A second Ctrl-C or SIGTERM quits at once (130 or 143), without a summary.`;

/**
 * The error to report for a failure that ended a command: a fatal error caused by a configuration problem
 * found only on contact (a TLS certificate the CA does not vouch for, a plain-text port reached with
 * rediss://, a db the server lacks) is reported as that {@link ConfigError}, exit 2, not as a fatal error.
 */
export function commandError(err: unknown): LoaderError {
  const error = classifyError(err);
  for (let e: unknown = error; e instanceof LoaderError; e = e.cause) {
    if (e instanceof ConfigError) return e;
  }
  return error;
}

/** The exit code for an error that ended a command. */
export function exitCodeFor(error: LoaderError | undefined): ExitCode {
  if (!error) return ExitCode.Ok;
  if (error instanceof ConfigError) return ExitCode.Usage;
  if (error instanceof RejectBudgetExceededError) return ExitCode.RejectBudget;
  if (error instanceof PreflightRefusedError) return ExitCode.PreflightRefused;
  if (error instanceof AuthError) return ExitCode.Fatal;
  return error.name === 'LoaderError' ? ExitCode.Internal : ExitCode.Fatal;
}
