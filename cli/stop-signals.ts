import { ExitCode } from './exit-codes.js';

/** The exit code of a run a signal stopped (128 + the signal's number). */
export const SIGNAL_EXIT = { SIGINT: ExitCode.Interrupted, SIGTERM: ExitCode.Terminated } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT;

/** A graceful stop on Ctrl-C or SIGTERM, see {@link onStopSignals}. */
export interface StopSignals {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly stoppedBy: StopSignal | undefined;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * Installs SIGINT and SIGTERM handlers: the first signal aborts `signal` and says on stderr that the command
 * is stopping (`doing`, e.g. "stopping at the next batch boundary"); the second, whichever it is, exits at
 * once with 130 or 143 — the user (or the supervisor) will not wait.
 */
export function onStopSignals(doing: string): StopSignals {
  const controller = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    if (stoppedBy !== undefined) process.exit(SIGNAL_EXIT[signal]);
    stoppedBy = signal;
    const again = signal === 'SIGINT' ? 'Ctrl-C again' : 'a second signal';
    process.stderr.write(`\n${signal}: ${doing} (${again} to quit at once)…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get stoppedBy() {
      return stoppedBy;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
