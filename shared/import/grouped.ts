import { createHash } from 'node:crypto';
import type { ImportSpec } from '../config/index.js';
import { classifyError, type LoaderError, ServerResetError } from '../errors/index.js';
import {
  type GroupedManifest,
  type ListpackFit,
  type GroupingPlan,
  parseManifest,
  type SpillStore,
} from '../grouping/index.js';
import type { BucketParams } from '../mapping/index.js';
import type { ByteSource } from '../records/index.js';
import { touchTargets, type Target } from '../redis/index.js';
import { loadPartitions } from './grouped-load.js';
import { partitionSegments, type SegmentsResult } from './partition-segments.js';
import {
  budgetError,
  emptyCounts,
  type LoadCounts,
  type LoadOptions,
  type LoadResult,
  MAX_RESET_REPLAYS,
  overBudget,
  type ServerResetNote,
} from './load.js';
import { currentServers, serversChanged } from './servers.js';

/** What a grouped load did, for the summary and the report. */
export interface GroupedOutcome {
  /** Where the spill is: a directory (CLI). */
  readonly spill: string;
  readonly partitions: number;
  /** Source segments partitioned at once (worker threads; 1: in the loader's thread). */
  readonly segments: number;
  /** Partitions settled (every record confirmed by Redis or rejected) when the load ended. */
  readonly settled: number;
  /** Bytes of the spill files: the temp disk the load took at its peak. */
  readonly tempBytes: number;
  /** The partition this run's load pass started at: above 0 when it continued a stopped load. */
  readonly resumedAt: number;
  /** The partition pass was skipped: the spill of an earlier run of the same load was used. */
  readonly reusedSpill: boolean;
  /** The spill is kept for a rerun (the load stopped after its partition pass); otherwise it is removed. */
  readonly kept: boolean;
  /** Milliseconds of each pass in this run. */
  readonly partitionMs: number;
  readonly loadMs: number;
}

/** The spill of one grouped load, opened before it starts (see {@link openGroupedRun}). */
export interface GroupedRun {
  readonly store: SpillStore;
  /** A hash of everything that decides the spill's contents. */
  readonly run: string;
  readonly plan: GroupingPlan;
  readonly source: { readonly name: string; readonly size: number; readonly version?: string };
  readonly range: { readonly start: number; readonly end: number };
  /** The manifest a stopped run of this very load left, with its partition pass done: the load continues it. */
  readonly manifest: GroupedManifest | undefined;
}

/** What {@link openGroupedRun} needs. */
export interface GroupedRunInput {
  readonly source: ByteSource;
  readonly spec: ImportSpec;
  readonly range?: { readonly start?: number; readonly end?: number } | undefined;
  readonly buckets: BucketParams;
  readonly targets: readonly Target[];
  readonly plan: GroupingPlan;
  /** The store of a run (the CLI: `LocalSpillStore` of a directory named after it under the temp dir). */
  readonly store: (run: string) => SpillStore;
}

/**
 * Opens the spill of a grouped load: derives its run key from the source's identity (name, size, and
 * modification time or ETag), the parts of the spec that decide what is written, the range, the bucket
 * parameters, the shards and the partition count, and looks for a manifest that a stopped run of the same load
 * left behind. Nothing is written yet.
 *
 * @example
 * const run = await openGroupedRun({ source, spec, buckets, targets, plan, store: (r) => new LocalSpillStore(`/tmp/rbl-grouped-${r}`) });
 * if (run.manifest) console.error('continuing after partition', run.manifest.load.completed);
 */
export async function openGroupedRun(input: GroupedRunInput): Promise<GroupedRun> {
  const size = await input.source.size();
  const version = await input.source.version?.();
  const start = input.range?.start ?? 0;
  const end = Math.min(input.range?.end ?? size, size);
  const { format, key, model, limits, ttl } = input.spec;
  const source = { name: input.source.name, size, ...(version === undefined ? {} : { version }) };
  const run = createHash('sha256')
    .update(
      JSON.stringify({
        spill: 1,
        source,
        range: [start, end],
        spec: { format, key, model, limits, ttl },
        buckets: input.buckets,
        partitions: input.plan.partitions,
        shards: input.targets.map((t) => t.name),
      }),
    )
    .digest('hex')
    .slice(0, 20);
  const store = input.store(run);
  const found = parseManifest(await store.readManifest());
  const manifest = found?.run === run && found.partitioned !== undefined ? found : undefined;
  return { store, run, plan: input.plan, source, range: { start, end }, manifest };
}

/** A grouped load: {@link LoadOptions} with the bucket parameters and the opened spill. */
export interface GroupedLoadOptions extends LoadOptions {
  readonly buckets: BucketParams;
  readonly grouped: GroupedRun;
  /**
   * Worker threads for the partition pass of a local file (see `partitionSegments`); 1 partitions in this
   * thread. @default 1
   */
  readonly workers?: number;
  /** Source bytes a worker's segment takes at least. @default 16 MiB (`MIN_SEGMENT_BYTES`) */
  readonly minSegmentBytes?: number;
  /**
   * Write whole buckets with `RESTORE` (see `chooseBucketWrite`): what a listpack may hold on the servers.
   * Unset: `HSET`.
   */
  readonly restore?: ListpackFit | undefined;
  /** Index the load pass's partitions in a worker thread (see `LoadPassOptions.indexWorker`). */
  readonly indexWorker?: boolean | undefined;
}

/** {@link LoadResult} of a grouped load. */
export interface GroupedLoadResult extends LoadResult {
  grouped: GroupedOutcome;
}

/**
 * Loads a range of a bucketed source with grouped writes: a partition pass sorts the records by bucket into
 * spill partitions ({@link partitionSegments}: in this thread, or in worker threads for a large local file), then a load pass writes every bucket with one multi-field `HSET`
 * ({@link loadPartitions}). Same contract as `loadRange`: it never throws for data or server problems, its
 * counts reconcile, and it never reports a record written that Redis did not confirm.
 *
 * Resuming. No byte offset before the end of the range is confirmed until the load pass ends (every partition
 * holds records from all over the source), so `nextOffset` is the range start unless the load completed —
 * loading from there again is idempotent. Faster: the manifest beside the spill records the partitions
 * settled and by which servers, so running the same load again with the same spill (same temp directory)
 * skips the partition pass and continues after the last settled partition, unless a shard is another server
 * since (then the load pass starts again at partition 0). A server reset during the load pass replays the load
 * pass from partition 0 (or stops, with `onServerReset: 'fail'`). The spill is removed when the load completes,
 * and when it stops before the partition pass finished (nothing of it is reusable).
 */
export async function loadGrouped(options: GroupedLoadOptions): Promise<GroupedLoadResult> {
  const started = performance.now();
  const { grouped: run, spec, source, targets, buckets, rejects } = options;
  const { store } = run;
  const { start, end } = run.range;
  const startLine = options.range?.startLine ?? (start === 0 ? 1 : undefined);
  const resets: ServerResetNote[] = [];
  const rejectedOffsets = new Set<number>();
  const totalBytes = end - start;
  let partitionMs = 0;
  let manifest = run.manifest;
  const reusedSpill = manifest !== undefined;
  const outcome = (
    m: GroupedManifest | undefined,
    kept: boolean,
    loadMs: number,
    resumedAt: number,
  ): GroupedOutcome => ({
    spill: store.location,
    partitions: run.plan.partitions,
    segments: m?.segments ?? 1,
    settled: m?.load.completed ?? 0,
    tempBytes: m?.partitioned ? sum(m.partitioned.bytes.flat()) : 0,
    resumedAt,
    reusedSpill,
    kept,
    partitionMs,
    loadMs,
  });

  if (manifest === undefined) {
    const t = performance.now();
    const fresh: GroupedManifest = {
      version: 1,
      run: run.run,
      source: run.source,
      range: { start, end },
      partitions: run.plan.partitions,
      segments: 1,
      load: { completed: 0, written: 0, rejected: 0, servers: [] },
    };
    let pass: SegmentsResult;
    try {
      await store.clear();
      await store.writeManifest(JSON.stringify(fresh));
      pass = await partitionSegments({
        source,
        spec,
        buckets,
        range: { start, end, startLine, inQuoteAtStart: options.range?.inQuoteAtStart },
        store,
        partitions: run.plan.partitions,
        workers: options.workers ?? 1,
        minSegmentBytes: options.minSegmentBytes,
        rejects,
        rejectedOffsets,
        signal: options.signal,
        onProgress: (counts, bytes) =>
          options.onProgress?.({ ...counts, bytes, totalBytes, confirmedOffset: start, phase: 'partition' }),
      });
    } catch (err) {
      pass = {
        status: 'failed',
        counts: emptyCounts(),
        segments: [],
        lines: [],
        endLine: undefined,
        error: classifyError(err),
      };
    }
    partitionMs = performance.now() - t;
    if (pass.status !== 'completed' || pass.segments.length === 0) {
      await store.remove().catch(() => undefined);
      const c = pass.counts;
      return {
        status: pass.status === 'completed' ? 'failed' : pass.status,
        counts: { ...c, unsettled: c.read - c.rejected - c.skipped },
        nextOffset: start,
        nextLine: startLine,
        durationMs: performance.now() - started,
        resets,
        ...(pass.error ? { error: pass.error } : {}),
        grouped: outcome(undefined, false, 0, 0),
      };
    }
    const { read, rejected, skipped } = pass.counts;
    manifest = {
      ...fresh,
      segments: pass.segments.length,
      partitioned: {
        read,
        rejected,
        skipped,
        records: pass.segments.map((s) => s.records),
        bytes: pass.segments.map((s) => s.bytes),
        lines: pass.lines,
        ...(pass.endLine === undefined ? {} : { endLine: pass.endLine }),
      },
    };
    await store.writeManifest(JSON.stringify(manifest));
  }

  const partitioned = manifest.partitioned!;
  const perPartition = (rows: readonly (readonly number[])[]) =>
    Array.from({ length: manifest!.partitions }, (_, p) => sum(rows.map((r) => r[p] ?? 0)));
  const records = perPartition(partitioned.records);
  const bytes = perPartition(partitioned.bytes);
  const spillBytes = Math.max(1, sum(bytes));
  let from = manifest.load.completed;
  const loadStarted = performance.now();
  let retries = 0;
  let error: LoaderError | undefined;
  if (from > 0) {
    try {
      await touchTargets(targets);
    } catch (err) {
      error = classifyError(err);
    }
    const changed = error ? [] : serversChanged(manifest.load.servers, currentServers(targets));
    for (const i of changed) {
      const note: ServerResetNote = {
        shard: targets[i]!.name,
        message: `${targets[i]!.name} is not the server that confirmed the first ${from} partitions (restart or failover)`,
        action: 'replayed',
      };
      resets.push(note);
      options.onReset?.(note);
    }
    if (changed.length > 0) from = 0;
  }
  const resumedAt = from;
  let base =
    from > 0
      ? { written: manifest.load.written, rejected: manifest.load.rejected }
      : { written: 0, rejected: 0 };
  const save = async (load: GroupedManifest['load']): Promise<void> => {
    manifest = { ...manifest!, load };
    await store.writeManifest(JSON.stringify(manifest));
  };
  if (from === 0 && manifest.load.completed > 0)
    await save({ completed: 0, written: 0, rejected: 0, servers: [] });

  let pass: Awaited<ReturnType<typeof loadPartitions>> | undefined;
  // Every pass's commands count, a pass replayed after a server reset included: the server ran them all.
  let commands = 0;
  while (error === undefined) {
    const passBase = base;
    pass = await loadPartitions({
      restore: options.restore,
      indexWorker: options.indexWorker,
      source,
      spec,
      buckets,
      targets,
      store,
      partitions: manifest.partitions,
      segments: manifest.segments,
      records,
      bytes,
      lines: partitioned.lines,
      from,
      rejects,
      rejectedOffsets,
      signal: options.signal,
      onRetry: options.onRetry,
      onProgress: (written, rejected, sent) =>
        options.onProgress?.({
          ...emptyCounts(),
          read: partitioned.read,
          skipped: partitioned.skipped,
          written: passBase.written + written,
          rejected: partitioned.rejected + passBase.rejected + rejected,
          retries,
          bytes: Math.round((sent / spillBytes) * totalBytes),
          totalBytes,
          confirmedOffset: start,
          phase: 'load',
        }),
      onSettled: (completed, written, rejected, servers) =>
        save({
          completed,
          written: passBase.written + written,
          rejected: passBase.rejected + rejected,
          servers,
        }),
      overBudget: (rejected) => {
        const counts: LoadCounts = {
          ...emptyCounts(),
          read: partitioned.read,
          rejected: partitioned.rejected + passBase.rejected + rejected,
        };
        return overBudget(counts, spec) ? budgetError(counts, spec) : undefined;
      },
    });
    retries += pass.retries;
    commands += pass.commands;
    if (!(pass.error instanceof ServerResetError)) break;
    const replay = (options.onServerReset ?? 'replay') === 'replay' && resets.length < MAX_RESET_REPLAYS;
    const note: ServerResetNote = {
      shard: pass.error.shard,
      message: pass.error.message,
      action: replay ? 'replayed' : 'stopped',
    };
    resets.push(note);
    options.onReset?.(note);
    // Whatever the pass confirmed may be gone with the server: no partition counts as settled any more.
    await save({ completed: 0, written: 0, rejected: 0, servers: [] });
    if (!replay) {
      error = pass.error;
      pass = undefined;
      base = { written: 0, rejected: 0 };
      break;
    }
    from = 0;
    base = { written: 0, rejected: 0 };
  }
  const loadMs = performance.now() - loadStarted;

  const counts: LoadCounts = {
    ...emptyCounts(),
    read: partitioned.read,
    skipped: partitioned.skipped,
    rejected: partitioned.rejected + base.rejected + (pass?.rejected ?? 0),
    written: base.written + (pass?.written ?? 0),
    retries,
    commandErrors: pass?.commandErrors ?? 0,
    commands,
    serverResets: resets.length,
  };
  const status = pass?.status ?? 'failed';
  if (status === 'completed') {
    await store.remove().catch(() => undefined);
    return {
      status,
      counts,
      nextOffset: end,
      nextLine: partitioned.endLine,
      durationMs: performance.now() - started,
      resets,
      grouped: outcome(manifest, false, loadMs, resumedAt),
    };
  }
  counts.unsettled = Math.max(0, counts.read - counts.written - counts.rejected - counts.skipped);
  const failure = error ?? pass?.error;
  return {
    status,
    counts,
    // No byte offset is confirmed before the end of the range: the whole range is the honest resume point.
    nextOffset: start,
    nextLine: startLine,
    durationMs: performance.now() - started,
    resets,
    ...(failure && status === 'failed' ? { error: failure } : {}),
    grouped: outcome(manifest, true, loadMs, resumedAt),
  };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
