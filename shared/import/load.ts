import type { ImportSpec } from '../config/index.js';
import { ShardWriter } from '../batching/index.js';
import {
  classifyError,
  type LoaderError,
  RejectBudgetExceededError,
  ServerResetError,
} from '../errors/index.js';
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
  /**
   * Data commands sent to Redis (`SET`, `HSET`, `EXPIRE`, …), counted per pipeline where the writer hands it
   * to the driver: what the servers process and what a per-command service such as Upstash bills. Replays
   * count too — a pipeline sent again after a lost connection, and every pass of a range replayed after a
   * server reset — since the server runs them again. Not counted: the handful of control commands around
   * a load (the connection handshake, `INFO`, `CONFIG GET`, the bucket parameters' `HSET`, a chunk's
   * completion marker) and what a cluster driver re-sends on a `MOVED`/`ASK` (see `redirects`).
   */
  commands: number;
  /**
   * Times a shard turned out to be another server than before (restart, failover) during the load. With
   * `onServerReset: 'replay'` each one replayed the range from its start, and the other counters are those of
   * the last pass.
   */
  serverResets: number;
}

/** Counters at zero, for a load, a chunk or a report to add up from. */
export function emptyCounts(): LoadCounts {
  return {
    read: 0,
    written: 0,
    rejected: 0,
    skipped: 0,
    unsettled: 0,
    retries: 0,
    commandErrors: 0,
    commands: 0,
    serverResets: 0,
  };
}

/** Progress, reported after each reader batch. */
export interface LoadProgress extends LoadCounts {
  /** Source bytes consumed so far in this range (the current pass, after a replay). */
  bytes: number;
  /** Bytes of the range in all. */
  totalBytes: number;
  /** The confirmed prefix so far: every record before this offset is settled (see {@link LoadResult.nextOffset}). */
  confirmedOffset: number;
  /**
   * Grouped writes only: `partition` while the source is sorted into spill partitions (nothing is written to
   * Redis yet), then `load` while the partitions are written; `bytes` counts through the range once per phase.
   */
  phase?: 'partition' | 'load';
}

/** A server reset the load saw, as the summary and the report state it. */
export interface ServerResetNote {
  readonly shard: string;
  readonly message: string;
  /** What the load did: replayed the range from its start, or stopped. */
  readonly action: 'replayed' | 'stopped';
}

/** How a load ended. Failure is a result: the counts of a failed load are exact too. */
export interface LoadResult {
  status: 'completed' | 'interrupted' | 'failed';
  counts: LoadCounts;
  /**
   * Where a continuation starts: the end of the longest prefix of the range whose records are all settled
   * (confirmed written by Redis, rejected or skipped). Never past a record that was merely queued or in flight,
   * so resuming here after any failure loads exactly the rest. After a server reset in `fail` mode it is the
   * range start.
   */
  nextOffset: number;
  /** Line number at `nextOffset`, when known. */
  nextLine: number | undefined;
  durationMs: number;
  /** Server resets seen, in order. */
  resets: ServerResetNote[];
  error?: LoaderError;
}

/** What to do when a shard turns out to have restarted or failed over mid-load. */
export type ServerResetPolicy = 'replay' | 'fail';

/** Replays of one range after server resets before the load gives up (a server that keeps restarting). */
export const MAX_RESET_REPLAYS = 3;

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
  /**
   * A shard restarted or failed over (its `run_id` or `master_replid` changed on a reconnect): writes it
   * confirmed may be gone. `replay` (default) loads the range again from its start (writes are idempotent);
   * `fail` stops with the range start as the resume point.
   * @default 'replay'
   */
  onServerReset?: ServerResetPolicy;
  /** Told about each server reset, before the replay starts. */
  onReset?: (note: ServerResetNote) => void;
}

/**
 * Whether the rejects are over the budget. Below `minRecords` records read the fraction is never applied, not
 * even at the end: a 4-line file with one bad line completes with one reject.
 */
export function overBudget(counts: LoadCounts, spec: ImportSpec): boolean {
  const { fraction, minRecords } = spec.rejectBudget;
  if (counts.read === 0 || counts.read < minRecords) return false;
  return counts.rejected > fraction * counts.read;
}

/**
 * Loads the records of one byte range of a source into Redis: read → parse → validate → map → route → batch →
 * pipeline, every reply checked. Used by the CLI for whole files and by the chunk Lambda for ranges.
 *
 * It never throws for data or server problems: the result says `completed`, `interrupted` (the signal fired;
 * everything before `nextOffset` is settled) or `failed` (with the error, e.g. {@link RejectBudgetExceededError}
 * or an OOM), and its counts are exact in every case. `nextOffset` is the confirmed prefix: resuming there after
 * any outcome loads exactly what is missing. A shard that restarted mid-load (see `onServerReset`) makes it
 * replay the range or stop with the range start as the resume point; it never reports such writes as done.
 *
 * @example
 * const result = await loadRange({ source: new FileSource('users.csv'), spec, targets: [target], rejects });
 * if (result.status !== 'completed') console.error(result.error?.message, 'resume at', result.nextOffset);
 */
export async function loadRange(options: LoadOptions): Promise<LoadResult> {
  const started = performance.now();
  const size = await options.source.size();
  const start = options.range?.start ?? 0;
  const end = Math.min(options.range?.end ?? size, size);
  const startLine = options.range?.startLine ?? (start === 0 ? 1 : undefined);
  const resets: ServerResetNote[] = [];
  // Offsets already in the rejects sink: a replay after a server reset must not report them twice.
  const rejectedOffsets = new Set<number>();
  let retries = 0;
  // Sent by earlier passes: the server ran them, so they count although the pass's other counters are reset.
  let commands = 0;
  for (;;) {
    const pass = await loadPass(options, { start, end, startLine, rejectedOffsets });
    retries += pass.counts.retries;
    commands += pass.counts.commands;
    const counts = { ...pass.counts, retries, commands, serverResets: resets.length };
    const reset = pass.error instanceof ServerResetError ? pass.error : undefined;
    if (reset === undefined) {
      return { ...pass, counts, resets, durationMs: performance.now() - started };
    }
    const replay = (options.onServerReset ?? 'replay') === 'replay' && resets.length < MAX_RESET_REPLAYS;
    const note: ServerResetNote = {
      shard: reset.shard,
      message: reset.message,
      action: replay ? 'replayed' : 'stopped',
    };
    resets.push(note);
    counts.serverResets = resets.length;
    options.onReset?.(note);
    if (!replay) {
      // What this range wrote before the reset may be gone: the only honest resume point is its start.
      return {
        status: 'failed',
        counts: { ...counts, unsettled: counts.read - counts.rejected - counts.skipped, written: 0 },
        nextOffset: start,
        nextLine: startLine,
        durationMs: performance.now() - started,
        resets,
        error: reset,
      };
    }
  }
}

/** Rejects remembered so that a replay after a server reset does not write them to the sink again. */
export const REJECT_DEDUPE_LIMIT = 100_000;

interface PassRange {
  start: number;
  end: number;
  startLine: number | undefined;
  rejectedOffsets: Set<number>;
}

/** One pass over the range; a server reset ends it with a {@link ServerResetError} for the caller to act on. */
async function loadPass(
  options: LoadOptions,
  range: PassRange,
): Promise<Omit<LoadResult, 'durationMs' | 'resets'>> {
  const { source, spec, targets, rejects, signal } = options;
  const { start, end, rejectedOffsets } = range;
  const counts = emptyCounts();
  const file = source.name;
  const reject = (r: { line: number | undefined; offset: number; raw: string }, reason: string): void => {
    counts.rejected++;
    if (rejectedOffsets.has(r.offset)) return;
    // Bounded: past this many rejects a replay may list a reject twice, which beats losing one or the memory.
    if (rejectedOffsets.size < REJECT_DEDUPE_LIMIT) rejectedOffsets.add(r.offset);
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
  const writerOptions = { ...spec.batch, retry: spec.retry, ...(signal ? { signal } : {}) };
  const writers = targets.map((t) => new ShardWriter(t, writerOptions, hooks));
  const router = createJumpRouter(targets.length);
  const single = writers.length === 1 ? writers[0] : undefined;
  const mapper = createMapper(spec, options.buckets);

  // The confirmed prefix: reader batches are numbered; each writer reports the highest batch whose commands
  // it has settled, and the prefix ends after the highest batch every writer has settled.
  const pending: { seq: number; offset: number; line: number | undefined }[] = [];
  let confirmedOffset = start;
  let confirmedLine = range.startLine;
  const advance = (): void => {
    let settled = Number.POSITIVE_INFINITY;
    for (const w of writers) settled = Math.min(settled, w.confirmed);
    while (pending.length > 0 && pending[0]!.seq <= settled) {
      const done = pending.shift()!;
      confirmedOffset = done.offset;
      confirmedLine = done.line;
    }
  };
  const sent = (): number => {
    let n = 0;
    for (const w of writers) n += w.commandsSent;
    return n;
  };
  const progress = (bytes: number): LoadProgress => ({
    ...counts,
    commands: sent(),
    bytes,
    totalBytes: end - start,
    confirmedOffset,
  });

  let readOffset = start;
  let seq = 0;
  let status: LoadResult['status'] = 'completed';
  let error: LoaderError | undefined;

  try {
    const batches = readRecords(source, {
      format: spec.format,
      start,
      end,
      startLine: range.startLine,
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
      for (const w of writers) w.mark(seq);
      pending.push({ seq, offset: batch.nextOffset, line: batch.nextLine });
      seq++;
      readOffset = batch.nextOffset;
      const settling = rejects.settle();
      if (settling) await settling;
      advance();
      options.onProgress?.(progress(readOffset - start));
      if (overBudget(counts, spec)) throw budgetError(counts, spec);
      if (signal?.aborted) {
        status = 'interrupted';
        break;
      }
    }
    await drainAll(writers);
    if (overBudget(counts, spec)) throw budgetError(counts, spec);
  } catch (err) {
    error = classifyError(err);
    // Cut short while retrying (Ctrl-C, SIGTERM, a Lambda deadline): what is confirmed stays, the rest resumes.
    status = signal?.aborted && error.retryable ? 'interrupted' : 'failed';
    // Whatever failed, let the other shards settle so the counts say exactly what Redis confirmed.
    await Promise.allSettled(writers.map((w) => w.drain()));
    // A reset on one shard, seen while another shard failed for its own reason, still means writes may be gone.
    const reset = writers.find((w) => w.error instanceof ServerResetError)?.error;
    if (reset) {
      error = reset;
      status = 'failed';
    }
  }
  advance();
  counts.commands = sent();
  if (status !== 'completed') {
    counts.unsettled = Math.max(0, counts.read - counts.written - counts.rejected - counts.skipped);
  }
  options.onProgress?.(progress(readOffset - start));
  return {
    status,
    counts,
    nextOffset: confirmedOffset,
    nextLine: confirmedLine,
    ...(error && status === 'failed' ? { error } : {}),
  };
}

/** The error of a load stopped by its reject budget, with the figures. */
export function budgetError(counts: LoadCounts, spec: ImportSpec): RejectBudgetExceededError {
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
