import type { ImportSpec } from '../config/index.js';
import { ShardWriter } from '../batching/index.js';
import { classifyError, type LoaderError, RejectBudgetExceededError } from '../errors/index.js';
import { type BucketParams, createMapper } from '../mapping/index.js';
import { type ByteSource, readRecords, type SourceRecord } from '../records/index.js';
import type { Target } from '../redis/index.js';
import { createJumpRouter } from '../sharding/index.js';
import type { RejectSink } from './rejects.js';

/** The part of a source one load covers: records that start in `[start, end)`. */
export interface LoadRange {
  /** @default 0 */
  start?: number;
  /** Exclusive. @default the source's size */
  end?: number;
  /** 1-based line number at `start`, when known (a resumed load). */
  startLine?: number;
  /** CSV multiline only: whether `start` lies inside a quoted field. */
  inQuoteAtStart?: boolean;
}

/** Counters of a load. They always reconcile: `read = written + rejected + skipped + unsettled`. */
export interface LoadCounts {
  /** Records seen (including rejected ones and blank lines). */
  read: number;
  /** Records Redis confirmed. */
  written: number;
  /** Records refused by the reader, the mapper or the server (each is in the rejects sink). */
  rejected: number;
  /** Blank lines and records with a null value. */
  skipped: number;
  /** Records whose fate is unknown because the load failed while they were in flight (0 unless failed). */
  unsettled: number;
  /** Retry rounds (a connection lost, the server loading or busy). */
  retries: number;
  /** Auxiliary commands (`EXPIRE`) the server refused; their records stay written. */
  commandErrors: number;
}

/** Counters at zero, for a load, a chunk or a report to add up from. */
export function emptyCounts(): LoadCounts {
  return { read: 0, written: 0, rejected: 0, skipped: 0, unsettled: 0, retries: 0, commandErrors: 0 };
}

/** Progress, reported after each reader batch. */
export interface LoadProgress extends LoadCounts {
  /** Source bytes consumed so far in this range. */
  bytes: number;
  /** Bytes of the range in all. */
  totalBytes: number;
}

/** How a load ended. Failure is a result: the counts of a failed load are exact too. */
export interface LoadResult {
  status: 'completed' | 'interrupted' | 'failed';
  counts: LoadCounts;
  /** Where a continuation starts: just past the last record of the range that was fully handled. */
  nextOffset: number;
  /** Line number at `nextOffset`, when known. */
  nextLine: number | undefined;
  durationMs: number;
  error?: LoaderError;
}

/** Everything one load needs. */
export interface LoadOptions {
  source: ByteSource;
  spec: ImportSpec;
  /** One target per shard; keys are spread over them by jump consistent hash. */
  targets: readonly Target[];
  /** Required for the bucketed model (see `resolveBucketParams`). */
  buckets?: BucketParams;
  range?: LoadRange;
  rejects: RejectSink;
  /** Aborting stops the load at the next batch boundary; what was read before is written. */
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
  onRetry?: (event: { shard: string; attempt: number; delayMs: number; error: LoaderError }) => void;
}

function overBudget(counts: LoadCounts, spec: ImportSpec, final: boolean): boolean {
  const { fraction, minRecords } = spec.rejectBudget;
  if (counts.read === 0 || (!final && counts.read < minRecords)) return false;
  return counts.rejected > fraction * counts.read;
}

/**
 * Loads the records of one byte range of a source into Redis: read → parse → validate → map → route → batch →
 * pipeline, every reply checked. Used by the CLI for whole files and by the chunk Lambda for ranges.
 *
 * It never throws for data or server problems: the result says `completed`, `interrupted` (the signal fired;
 * everything up to `nextOffset` is written) or `failed` (with the error, e.g. {@link RejectBudgetExceededError}
 * or an OOM), and its counts are exact in every case.
 *
 * @example
 * const result = await loadRange({ source: new FileSource('users.csv'), spec, targets: [target], rejects });
 * if (result.status !== 'completed') console.error(result.error?.message);
 */
export async function loadRange(options: LoadOptions): Promise<LoadResult> {
  const { source, spec, targets, rejects, signal } = options;
  const started = performance.now();
  const size = await source.size();
  const start = options.range?.start ?? 0;
  const end = Math.min(options.range?.end ?? size, size);
  const counts = emptyCounts();
  const file = source.name;
  const reject = (r: { line: number | undefined; offset: number; raw: string }, reason: string): void => {
    counts.rejected++;
    rejects.write({
      file,
      ...(r.line === undefined ? {} : { line: r.line }),
      offset: r.offset,
      reason,
      raw: r.raw,
    });
  };
  const hooks = {
    onWritten: (n: number) => {
      counts.written += n;
    },
    onRejected: (record: SourceRecord, reason: string) => reject(record, reason),
    onCommandError: () => {
      counts.commandErrors++;
    },
    onRetry: (event: { shard: string; attempt: number; delayMs: number; error: LoaderError }) => {
      counts.retries++;
      options.onRetry?.(event);
    },
  };
  const writerOptions = { ...spec.batch, retry: spec.retry };
  const writers = targets.map((t) => new ShardWriter(t, writerOptions, hooks));
  const router = createJumpRouter(targets.length);
  const single = writers.length === 1 ? writers[0] : undefined;
  const mapper = createMapper(spec, options.buckets);

  let nextOffset = start;
  let nextLine = options.range?.startLine ?? (start === 0 ? 1 : undefined);
  let status: LoadResult['status'] = 'completed';
  let error: LoaderError | undefined;

  try {
    const batches = readRecords(source, {
      format: spec.format,
      start,
      end,
      startLine: options.range?.startLine,
      inQuoteAtStart: options.range?.inQuoteAtStart,
      maxRecordBytes: spec.limits.maxRecordBytes,
    });
    for await (const batch of batches) {
      counts.read += batch.records.length + batch.rejects.length + batch.skipped;
      counts.skipped += batch.skipped;
      for (const r of batch.rejects) reject(r, r.reason);
      const mapped = mapper.map(batch.records);
      counts.skipped += mapped.skipped;
      for (const r of mapped.rejects) reject(r.record, r.reason);
      for (const cmd of mapped.commands) {
        const wait = (single ?? writers[router.route(cmd.key)]!).add(cmd);
        if (wait) await wait;
      }
      nextOffset = batch.nextOffset;
      nextLine = batch.nextLine;
      const settling = rejects.settle();
      if (settling) await settling;
      options.onProgress?.({ ...counts, bytes: nextOffset - start, totalBytes: end - start });
      if (overBudget(counts, spec, false)) throw budgetError(counts, spec);
      if (signal?.aborted) {
        status = 'interrupted';
        break;
      }
    }
    await drainAll(writers);
    if (overBudget(counts, spec, true)) throw budgetError(counts, spec);
  } catch (err) {
    status = 'failed';
    error = classifyError(err);
    // Whatever failed, let the other shards settle so the counts say exactly what Redis confirmed.
    await Promise.allSettled(writers.map((w) => w.drain()));
  }
  if (status === 'failed') {
    counts.unsettled = Math.max(0, counts.read - counts.written - counts.rejected - counts.skipped);
  }
  options.onProgress?.({ ...counts, bytes: nextOffset - start, totalBytes: end - start });
  return {
    status,
    counts,
    nextOffset,
    nextLine,
    durationMs: performance.now() - started,
    ...(error ? { error } : {}),
  };
}

function budgetError(counts: LoadCounts, spec: ImportSpec): RejectBudgetExceededError {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return new RejectBudgetExceededError(
    `rejected ${counts.rejected} of ${counts.read} records (${pct(counts.rejected / counts.read)}), ` +
      `over the reject budget of ${pct(spec.rejectBudget.fraction)}: see the rejects file, fix the data or raise rejectBudget.fraction`,
    { rejected: counts.rejected, read: counts.read },
  );
}

async function drainAll(writers: readonly ShardWriter[]): Promise<void> {
  const results = await Promise.allSettled(writers.map((w) => w.drain()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
