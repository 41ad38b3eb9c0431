import type { S3Client } from '@aws-sdk/client-s3';
import { FatalError, type RetryPolicy, RetryableError, withRetry } from '../errors/index.js';
import type { FinishOutput } from './finish.js';
import type { ChunkPlan } from './plan.js';
import type { ImportReport } from './report.js';
import { getText } from './s3-objects.js';
import {
  chunkPlanSchema,
  type ChunkState,
  chunkStateSchema,
  type ImportPlan,
  importPlanSchema,
  type StateError,
} from './schemas.js';

/** The functions a redrive invokes. */
export type RedriveFunction = 'import-chunk' | 'import-finish';

/** What one invocation gave: the function's result, or the error it ended with (Lambda's `FunctionError`). */
export type InvokeOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

/**
 * Invokes an import function synchronously (Lambda `Invoke`, `RequestResponse`). A function error is an
 * outcome; a failure to invoke at all (network, throttling, permissions) is thrown.
 */
export interface FunctionInvoker {
  invoke(fn: RedriveFunction, payload: unknown): Promise<InvokeOutcome>;
}

/** Errors of an import-chunk invocation that the state machine retries (`LoadChunk`'s `Retry`), and so do we. */
const RETRIED_ERRORS: ReadonlySet<string> = new Set(['RetryableError', 'Sandbox.Timedout', 'States.Timeout']);

/** The state machine's retry policy for `LoadChunk`, as a {@link RetryPolicy}: 5 retries, 2 s doubling, ≤ 60 s. */
export const CHUNK_RETRY: Exclude<RetryPolicy, false> = { retries: 5, baseMs: 2000, maxMs: 60_000 };

/** The S3 key of an import's plan (the execution input import-start handed the state machine). */
export function planInputKey(prefix: string, importId: string): string {
  return `${prefix}${importId}.input.json`;
}

/** Chunks a redrive runs again, or why there is nothing to redrive. */
export type RedriveSelection =
  | { readonly chunks: readonly number[] }
  | { readonly nothing: string; readonly status: ImportReport['status'] };

/**
 * The chunks of an import that a redrive runs again: those its report does not list as completed (failed, or
 * never completed). A SUCCEEDED or PARTIAL import (every chunk completed; PARTIAL only rejected records for
 * their data, which a re-run would reject again) and an import refused before any chunk ran have nothing to
 * redrive. import-chunk checks its completion marker first, so a chunk the report missed still writes nothing.
 *
 * @example
 * const selection = redriveSelection(report); // { chunks: [2, 3] }
 */
export function redriveSelection(report: ImportReport): RedriveSelection {
  const { importId, status } = report;
  const n = (x: number) => x.toLocaleString('en-US');
  if (status === 'SUCCEEDED') {
    return {
      status,
      nothing: `import ${importId} SUCCEEDED (${report.chunks.completed} of ${report.chunks.planned} chunks, ${n(report.counts.written)} records written): nothing to redrive`,
    };
  }
  if (status === 'PARTIAL') {
    return {
      status,
      nothing: `import ${importId} is PARTIAL: all ${report.chunks.planned} chunks completed and ${n(report.counts.rejected)} records were rejected for their data (see ${report.rejects.objects[0] ?? 'its rejects objects'}), which a re-run would reject again: nothing to redrive`,
    };
  }
  if (report.chunks.planned === 0) {
    return {
      status,
      nothing: `import ${importId} was refused before any chunk ran (${report.reason ?? 'see its report'}): nothing to redrive; fix the cause and trigger the object again`,
    };
  }
  const chunks = report.perChunk.filter((c) => c.status !== 'completed').map((c) => c.index);
  return { chunks };
}

/** Reads an import's plan, as import-start recorded it beside the report; `undefined` when there is none. */
export async function readPlanInput(
  s3: S3Client,
  bucket: string,
  prefix: string,
  importId: string,
): Promise<ImportPlan | undefined> {
  const text = await getText(s3, bucket, planInputKey(prefix, importId));
  return text === undefined ? undefined : importPlanSchema.parse(JSON.parse(text));
}

/** Every chunk of a plan: the plan's own (inline) or its plan object's (distributed). */
export async function planChunkList(s3: S3Client, plan: ImportPlan): Promise<ChunkPlan[]> {
  if (!plan.planObject) return plan.chunks;
  const { bucket, key } = plan.planObject;
  const text = await getText(s3, bucket, key);
  if (text === undefined) throw new FatalError(`plan object s3://${bucket}/${key} is gone`);
  return chunkPlanSchema.array().parse(JSON.parse(text));
}

/** What a redrive needs. */
export interface RedriveDeps {
  readonly invoker: FunctionInvoker;
  /** @default the state machine's (see {@link CHUNK_RETRY}) */
  readonly retry?: RetryPolicy;
  /** @default the plan's `maxConcurrency` */
  readonly concurrency?: number;
  /** Progress lines. @default nothing */
  readonly log?: (line: string) => void;
}

/** What a redrive did. */
export interface RedriveResult {
  /** import-finish's last output: the report's status and location. */
  readonly finish: Extract<FinishOutput, { status: string }>;
  /** Chunk indexes invoked, in each pass (the first is the redrive's; later ones re-runs after server resets). */
  readonly passes: readonly (readonly number[])[];
}

/**
 * Runs the chunks of an import that did not complete again, the way the state machine would, through
 * {@link FunctionInvoker} (Lambda `Invoke` of `import-chunk`, then `import-finish`): for use when Step Functions
 * cannot redrive the execution (it ended SUCCEEDED, since the Map's failure is caught and reported).
 *
 * - each chunk loops while it returns a continuation, with `attempt` counting retries as `$$.State.RetryCount`;
 *   `RetryableError` is retried with the state machine's backoff; any other error ends the Map at once (no new
 *   chunk starts) and is handed to import-finish as the Map's failure, as the `Catch` does;
 * - at most `concurrency` chunks at a time;
 * - import-finish reads every chunk's completion marker and writes the report again; when it asks for a re-run
 *   (a shard restarted after confirming chunks), those chunks run and it is invoked again, as `RerunChunks` does.
 *
 * @example
 * const { finish } = await redriveImport(plan, chunks, [2, 3], { invoker });
 */
export async function redriveImport(
  plan: ImportPlan,
  all: readonly ChunkPlan[],
  indexes: readonly number[],
  deps: RedriveDeps,
): Promise<RedriveResult> {
  const log = deps.log ?? (() => undefined);
  const wanted = new Set(indexes);
  let toRun = all.filter((c) => wanted.has(c.index));
  const note = `redrive at ${new Date().toISOString()}: chunk(s) ${indexes.join(', ') || 'none'} loaded again through import-chunk`;
  let input: ImportPlan = { ...plan, notes: [...plan.notes, note] };
  const passes: number[][] = [];
  for (;;) {
    passes.push(toRun.map((c) => c.index));
    const failure = await runChunks(input, toRun, deps, log);
    const payload = failure === undefined ? input : { ...input, failure };
    const out = await deps.invoker.invoke('import-finish', payload);
    if (!out.ok) {
      throw new FatalError(`import-finish failed: ${out.error.name}: ${out.error.message}`);
    }
    const finish = out.result as FinishOutput;
    if ('next' in finish) {
      log(
        `import-finish asks for chunk(s) ${finish.rerun.join(', ')} again (a shard restarted or failed over)`,
      );
      input = importPlanSchema.parse(finish.next);
      toRun = input.chunks;
      continue;
    }
    return { finish, passes };
  }
}

/** Runs `chunks` of `plan`, `concurrency` at a time; the first failure stops new chunks and is returned. */
async function runChunks(
  plan: ImportPlan,
  chunks: readonly ChunkPlan[],
  deps: RedriveDeps,
  log: (line: string) => void,
): Promise<StateError | undefined> {
  const queue = [...chunks];
  let failure: StateError | undefined;
  const worker = async (): Promise<void> => {
    for (let chunk = queue.shift(); chunk && failure === undefined; chunk = queue.shift()) {
      const failed = await runChunk(plan, chunk, deps, log);
      failure ??= failed;
    }
  };
  const width = Math.max(1, Math.min(deps.concurrency ?? plan.maxConcurrency, chunks.length));
  await Promise.all(Array.from({ length: width }, worker));
  return failure;
}

/** One chunk to its end: continuations, retries; its failure as the Map would see it, or undefined. */
async function runChunk(
  plan: ImportPlan,
  chunk: ChunkPlan,
  deps: RedriveDeps,
  log: (line: string) => void,
): Promise<StateError | undefined> {
  let state: ChunkState = {
    importId: plan.importId,
    source: plan.source,
    spec: plan.spec,
    buckets: plan.buckets,
    grouping: plan.grouping,
    chunk,
  };
  for (;;) {
    const current = state;
    const outcome = await withRetry(
      async (attempt) => {
        const out = await deps.invoker.invoke('import-chunk', { state: current, attempt });
        if (!out.ok && RETRIED_ERRORS.has(out.error.name)) {
          throw new RetryableError(`chunk ${chunk.index}: ${out.error.name}: ${out.error.message}`);
        }
        return out;
      },
      deps.retry ?? CHUNK_RETRY,
      {
        onRetry: (e) =>
          log(`chunk ${chunk.index}: retry ${e.attempt + 1} in ${e.delayMs} ms: ${e.error.message}`),
      },
    ).catch((err: unknown): InvokeOutcome => {
      // Retries spent: the Map would fail with the last error, as here.
      if (err instanceof RetryableError)
        return { ok: false, error: { name: err.name, message: err.message } };
      throw err;
    });
    if (!outcome.ok) {
      log(`chunk ${chunk.index} failed: ${outcome.error.name}: ${outcome.error.message}`);
      return {
        Error: outcome.error.name,
        Cause: JSON.stringify({ errorType: outcome.error.name, errorMessage: outcome.error.message }),
      };
    }
    state = chunkStateSchema.parse(outcome.result);
    const status = state.progress?.status;
    if (status === 'continue') continue;
    if (status === 'failed') {
      log(`chunk ${chunk.index} failed: ${state.failure?.Error ?? 'unknown error'}`);
      return state.failure ?? { Error: 'ChunkFailed', Cause: `chunk ${chunk.index} failed` };
    }
    log(`chunk ${chunk.index} ${state.progress?.replayed ? 'was already complete' : 'loaded'}`);
    return undefined;
  }
}
