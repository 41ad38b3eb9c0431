/**
 * Imported first by cli/main.ts, before any function handler is loaded: the handlers' Powertools JSON log lines
 * and EMF metrics are for CloudWatch, and the CLI runs them only in-process (the demos, the local stack), where
 * its own progress and reports are what a person reads. Warnings and errors still print; setting the
 * variables overrides this.
 */

/** `POWERTOOLS_LOG_LEVEL` as the user set it, before the CLI quietens the functions: `--log-json` honours it. */
export const userLogLevel: string | undefined = process.env.POWERTOOLS_LOG_LEVEL;

process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
