import { Worker } from 'node:worker_threads';
import {
  ConfigError,
  FatalError,
  type LoaderError,
  RetryableError,
  SourceChangedError,
} from '../errors/index.js';

/**
 * Starts the worker thread whose entry is `name` (without extension) beside this module. Built, that is
 * `<name>.js`; run from the TypeScript sources (tests, `npm run cli`) the worker registers tsx first, as the main
 * thread did with `--import tsx`.
 *
 * @example
 * const worker = startModuleWorker('partition-worker', task);
 */
export function startModuleWorker(name: string, workerData: unknown): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSources ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSources) return new Worker(entry, { workerData });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** The error a worker reported, as the class its name says (what the summary and the exit code go by). */
export function revive(error: { name: string; message: string }): LoaderError {
  switch (error.name) {
    case 'ConfigError':
      return new ConfigError(error.message);
    case 'SourceChangedError':
      return new SourceChangedError(error.message);
    case 'RetryableError':
      return new RetryableError(error.message);
    default:
      return new FatalError(error.message);
  }
}

/** An error as a worker posts it. */
export function postable(err: unknown): { name: string; message: string } {
  return err instanceof Error
    ? { name: err.name, message: err.message }
    : { name: 'Error', message: String(err) };
}
