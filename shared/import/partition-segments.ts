import { createReadStream, readFileSync } from 'node:fs';
import { access, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Worker } from 'node:worker_threads';
import type { ImportSpec } from '../config/index.js';
import { FatalError, type LoaderError } from '../errors/index.js';
import { LocalSpillStore, type PartitionStats, type SpillStore } from '../grouping/index.js';
import type { BucketParams } from '../mapping/index.js';
import { type ByteSource, FileSource, scanQuoteParity } from '../records/index.js';
import { partitionRange, type PartitionPassResult, type PassRange } from './grouped-partition.js';
import { budgetError, emptyCounts, type LoadCounts, overBudget, REJECT_DEDUPE_LIMIT } from './load.js';
import type { RejectEntry, RejectSink } from './rejects.js';
import { revive, startModuleWorker } from './workers.js';

/** Below this many source bytes per segment a worker's start-up costs more than it saves. */
export const MIN_SEGMENT_BYTES = 16 * 1024 * 1024;

/** From this source size on, two worker threads partition even below 4 cores (see {@link defaultPartitionWorkers}). */
export const TWO_WORKERS_MIN_BYTES = 1024 * 1024 * 1024;

/**
 * Worker threads a partition pass uses by default: the CPU's, at most 4. Below 4 cores, 2 for a source of
 * {@link TWO_WORKERS_MIN_BYTES} or more and none (this thread) below: on the 2-core benchmark machine two workers
 * gained nothing at 20 M rows (247 MB, 2.7-3.0 s either way) and cost 30 MiB, but halved the pass at 200 M rows
 * (2.67 GB, 768 partitions: 42-52 s against 27 s), where one thread routing rows to 768 partition buffers runs
 * out of cache and two threads each have a core's own.
 */
export function defaultPartitionWorkers(sourceBytes = 0): number {
  const cores = availableParallelism();
  if (cores >= 4) return Math.min(4, cores);
  return cores >= 2 && sourceBytes >= TWO_WORKERS_MIN_BYTES ? 2 : 1;
}

/** Open files left for everything else (sockets, the source, rejects) when workers hold partition files. */
const SPARE_FILES = 256;

/**
 * The soft limit on open files of this process (`/proc/self/limits` on Linux); 1024, the usual default, where
 * it cannot be read.
 */
export function openFileLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (line) return line[1] === 'unlimited' ? 1 << 20 : Number(line[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

/** What a partition worker is given (structured-cloned). */
export interface SegmentTask {
  readonly path: string;
  readonly spec: ImportSpec;
  readonly buckets: BucketParams;
  readonly range: {
    readonly start: number;
    readonly end: number;
    readonly startLine: number | undefined;
    readonly inQuoteAtStart: boolean;
  };
  readonly storeDir: string;
  readonly segment: number;
  readonly partitions: number;
  readonly rejectsPath: string;
}

/** What a partition worker tells its parent. */
export type WorkerMessage =
  | { type: 'progress'; read: number; rejected: number; skipped: number; bytes: number }
  | {
      type: 'done';
      result: Omit<PartitionPassResult, 'error'>;
      error?: { name: string; message: string };
    };

/** A partition pass over one range, in one or more segments. */
export interface SegmentsOptions {
  readonly source: ByteSource;
  readonly spec: ImportSpec;
  readonly buckets: BucketParams;
  readonly range: PassRange;
  readonly store: SpillStore;
  readonly partitions: number;
  /** Worker threads, one segment each; 1 partitions in this thread. Only local files use workers. */
  readonly workers: number;
  /** Source bytes a segment takes at least. @default MIN_SEGMENT_BYTES */
  readonly minSegmentBytes?: number | undefined;
  readonly rejects: RejectSink;
  readonly rejectedOffsets: Set<number>;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((counts: LoadCounts, bytes: number) => void) | undefined;
}

/** How a partition pass in segments ended. */
export interface SegmentsResult {
  readonly status: PartitionPassResult['status'];
  readonly counts: LoadCounts;
  /** Each segment's partition files, in segment order, when completed. */
  readonly segments: PartitionStats[];
  /** `[offset, line]` checkpoints in lines of the source (0: unknown), in offset order. */
  readonly lines: [number, number][];
  readonly endLine: number | undefined;
  readonly error?: LoaderError;
}

/**
 * The partition pass of grouped writes over a range: in this thread ({@link partitionRange}, segment 0), or —
 * for a local file of at least two `minSegmentBytes` — cut into `workers` segments partitioned at once
 * by worker threads, each into its own spill files (the load pass reads a partition's files in segment order,
 * so source order holds). Multiline CSV is cut where the quote parity is known (one scan of the range); a file
 * with an odd number of quotes is not cut. Each worker counts the lines of its segment from 1; its rejects and
 * line checkpoints are renumbered here, and its rejects written to the sink in segment order. The reject
 * budget is checked over all segments; the abort signal stops every worker.
 *
 * @example
 * const pass = await partitionSegments({ source, spec, buckets, range: { start: 0, end: size }, store,
 *   partitions: 16, workers: 2, rejects, rejectedOffsets: new Set() });
 */
export async function partitionSegments(options: SegmentsOptions): Promise<SegmentsResult> {
  const { source, spec, range, store } = options;
  const size = range.end - range.start;
  // Each worker keeps a file open per partition: stay within the process's open-file limit.
  const workers = Math.min(
    options.workers,
    Math.floor(size / (options.minSegmentBytes ?? MIN_SEGMENT_BYTES)),
    Math.max(1, Math.floor((openFileLimit() - SPARE_FILES) / options.partitions)),
  );
  const cuts =
    workers > 1 && source instanceof FileSource && store instanceof LocalSpillStore
      ? await segmentCuts(source, spec, range, workers)
      : undefined;
  if (cuts === undefined) {
    const pass = await partitionRange({ ...options, segment: 0 });
    return {
      status: pass.status,
      counts: pass.counts,
      segments: pass.stats ? [pass.stats] : [],
      lines: pass.lines,
      endLine: pass.endLine,
      ...(pass.error ? { error: pass.error } : {}),
    };
  }
  return inWorkers(options, cuts, (source as FileSource).path, store.location);
}

/** Segment starts (and whether each lies in a quoted field), or undefined when the range cannot be cut. */
async function segmentCuts(
  source: ByteSource,
  spec: ImportSpec,
  range: SegmentsOptions['range'],
  workers: number,
): Promise<{ start: number; inQuote: boolean }[] | undefined> {
  const size = range.end - range.start;
  const starts = Array.from({ length: workers }, (_, i) => range.start + Math.floor((i * size) / workers));
  const format = spec.format;
  if (format.type !== 'csv' || !format.multiline) {
    return starts.map((start, i) => ({ start, inQuote: i === 0 && (range.inQuoteAtStart ?? false) }));
  }
  const parities = await scanQuoteParity(source, [range.start, ...starts.slice(1), range.end], format.quote);
  // A stray quote flips every later parity: such a range is not cut (the direct reader copes with it alone).
  const first = range.inQuoteAtStart ?? false;
  if (parities[0] !== first || parities[workers] !== first) return undefined;
  return starts.map((start, i) => ({ start, inQuote: i === 0 ? first : parities[i]! }));
}

async function inWorkers(
  options: SegmentsOptions,
  cuts: { start: number; inQuote: boolean }[],
  path: string,
  storeDir: string,
): Promise<SegmentsResult> {
  const { spec, range, signal } = options;
  const linesKnown = range.startLine !== undefined || range.start === 0;
  const tasks: SegmentTask[] = cuts.map((cut, i) => ({
    path,
    spec,
    buckets: options.buckets,
    range: {
      start: cut.start,
      end: cuts[i + 1]?.start ?? range.end,
      // Later segments count their lines from 1 at their start; they are renumbered below.
      startLine:
        i === 0 ? (range.startLine ?? (range.start === 0 ? 1 : undefined)) : linesKnown ? 1 : undefined,
      inQuoteAtStart: cut.inQuote,
    },
    storeDir,
    segment: i,
    partitions: options.partitions,
    rejectsPath: join(storeDir, `rejects-${i}.jsonl`),
  }));
  const progress = tasks.map(() => ({ ...emptyCounts(), bytes: 0 }));
  const running: Worker[] = [];
  let budget: LoaderError | undefined;
  const stopAll = () => {
    for (const w of running) w.postMessage({ type: 'abort' });
  };
  signal?.addEventListener('abort', stopAll, { once: true });
  const total = () => {
    const counts = emptyCounts();
    let bytes = 0;
    for (const p of progress) {
      counts.read += p.read;
      counts.rejected += p.rejected;
      counts.skipped += p.skipped;
      bytes += p.bytes;
    }
    return { counts, bytes };
  };
  const done = await Promise.all(
    tasks.map(async (task, i) => {
      const outcome = await runWorker(task, running, (message) => {
        Object.assign(progress[i]!, message);
        const { counts, bytes } = total();
        options.onProgress?.(counts, bytes);
        if (budget === undefined && overBudget(counts, spec)) {
          budget = budgetError(counts, spec);
          stopAll();
        }
      });
      // One segment failing fails the pass: the others need not go on.
      if (outcome.result.status === 'failed') stopAll();
      return outcome;
    }),
  );
  signal?.removeEventListener('abort', stopAll);

  const counts = emptyCounts();
  for (const { result } of done) {
    counts.read += result.counts.read;
    counts.rejected += result.counts.rejected;
    counts.skipped += result.counts.skipped;
  }
  // The line at each segment's start: the lines before it, from the newlines the segments before counted.
  const bases: (number | undefined)[] = [];
  let base: number | undefined = linesKnown ? (range.startLine ?? 1) : undefined;
  for (const { result } of done) {
    bases.push(base);
    base =
      base !== undefined && result.status === 'completed' && result.newlines !== undefined
        ? base + result.newlines
        : undefined;
  }
  const renumber = (line: number | undefined, i: number): number | undefined => {
    if (i === 0 || line === undefined) return line;
    const b = bases[i];
    return b === undefined ? undefined : line + b - 1;
  };
  for (const [i, task] of tasks.entries()) {
    await forwardRejects(task.rejectsPath, options, (line) => renumber(line, i));
  }
  if (budget === undefined && overBudget(counts, spec)) budget = budgetError(counts, spec);
  const lines: [number, number][] = [];
  done.forEach(({ result }, i) => {
    for (const [offset, line] of result.lines) lines.push([offset, renumber(line || undefined, i) ?? 0]);
  });
  const failed = done.find((d) => d.result.status === 'failed');
  const error = budget ?? failed?.error;
  const status: SegmentsResult['status'] = error
    ? 'failed'
    : done.some((d) => d.result.status !== 'completed')
      ? 'interrupted'
      : 'completed';
  return {
    status,
    counts,
    segments: status === 'completed' ? done.map((d) => d.result.stats!) : [],
    lines,
    endLine: renumber(done[done.length - 1]!.result.endLine, done.length - 1),
    ...(error ? { error } : {}),
  };
}

/** Starts the worker of one segment; resolves with its result (a crash is a failed result). */
function runWorker(
  task: SegmentTask,
  running: Worker[],
  onProgress: (message: { read: number; rejected: number; skipped: number; bytes: number }) => void,
): Promise<{ result: Omit<PartitionPassResult, 'error'>; error?: LoaderError }> {
  return new Promise((resolve) => {
    const worker = startModuleWorker('partition-worker', task);
    running.push(worker);
    let settled = false;
    const finish = (outcome: { result: Omit<PartitionPassResult, 'error'>; error?: LoaderError }) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const crashed = (error: LoaderError) =>
      finish({ result: { status: 'failed', counts: emptyCounts(), lines: [], endLine: undefined }, error });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') {
        const { read, rejected, skipped, bytes } = message;
        onProgress({ read, rejected, skipped, bytes });
        return;
      }
      const { read, rejected, skipped } = message.result.counts;
      onProgress({ read, rejected, skipped, bytes: task.range.end - task.range.start });
      finish({ result: message.result, ...(message.error ? { error: revive(message.error) } : {}) });
    });
    worker.on('error', (err) =>
      crashed(new FatalError(`partition worker ${task.segment} failed: ${err.message}`)),
    );
    worker.on('exit', (code) => {
      running.splice(running.indexOf(worker), 1);
      crashed(new FatalError(`partition worker ${task.segment} exited with code ${code} before it was done`));
    });
  });
}

/** Writes a segment's rejects file into the sink with its lines renumbered, then removes it. */
async function forwardRejects(
  path: string,
  options: SegmentsOptions,
  renumber: (line: number | undefined) => number | undefined,
): Promise<void> {
  const { rejects, rejectedOffsets } = options;
  try {
    await access(path);
  } catch {
    return; // No rejects file: the segment had none.
  }
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const text of lines) {
      if (text === '') continue;
      const entry = JSON.parse(text) as RejectEntry;
      if (rejectedOffsets.has(entry.offset)) continue;
      if (rejectedOffsets.size < REJECT_DEDUPE_LIMIT) rejectedOffsets.add(entry.offset);
      const { line: _line, ...rest } = entry;
      const line = renumber(entry.line);
      rejects.write(line === undefined ? rest : { ...rest, line });
      const settling = rejects.settle();
      if (settling) await settling;
    }
  } finally {
    lines.close();
  }
  await rm(path, { force: true });
}
