import { Logger } from '@aws-lambda-powertools/logger';
import { Option } from 'commander';
import { DEFAULT_SERVICE } from '../shared/telemetry/index.js';
import { userLogLevel } from './quiet-functions.js';

/** How often `--log-json` logs progress: a line per 10 s keeps a day-long load's log readable. */
export const PROGRESS_LOG_MS = 10_000;

/** The `--log-json` option of the long-running commands; it replaces `--json` and the human output. */
export function logJsonOption(): Option {
  return new Option(
    '--log-json',
    'log JSON lines (Powertools for AWS Lambda format) instead of the human output: info lines on stdout, ' +
      'the last one carrying the summary; warnings and errors on stderr',
  )
    .default(false)
    .conflicts('json');
}

/** The `--help` paragraph of `--log-json`. */
export const LOG_JSON_HELP = `Logs: --log-json prints JSON lines for a log collector (CloudWatch, Fluent Bit, Loki) in the
functions' own format: level, message, timestamp, service, command, and fields of the event (progress every
${PROGRESS_LOG_MS / 1000} s, the memory pre-flight, server resets, the summary under "summary"). POWERTOOLS_LOG_LEVEL sets the
level (default INFO); POWERTOOLS_SERVICE_NAME the service. Credentials are never logged.`;

/**
 * The CLI's structured logger for `--log-json`: the same Powertools logger the functions use, so a team that
 * runs a load from a container or a CI job gets the lines its Lambda logs already have. Powertools writes
 * INFO and DEBUG to stdout and WARN and ERROR to stderr.
 *
 * @example
 * const log = createCliLogger('import');
 * log.info('import completed', { summary });
 */
export function createCliLogger(command: string): Logger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE,
    logLevel: (userLogLevel ?? 'INFO').toUpperCase() as 'INFO',
    persistentKeys: { command },
  });
}

/**
 * A progress callback that logs at most once per `intervalMs`: `fields` picks what a line carries.
 *
 * @example
 * onProgress: throttled(log, 'import progress', (p) => ({ read: p.read, written: p.written }))
 */
export function throttled<P>(
  log: Logger,
  message: string,
  fields: (progress: P) => Record<string, unknown>,
  intervalMs = PROGRESS_LOG_MS,
): (progress: P) => void {
  let last = Date.now();
  return (progress) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    log.info(message, fields(progress));
  };
}
