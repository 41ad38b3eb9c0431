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

// The AWS SDK warns on Node 20 that its releases after January 2027 will need Node 22. The CLI supports Node 20
// with the SDK versions package-lock.json pins, so the warning tells a CLI user nothing to do: silenced unless set.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
