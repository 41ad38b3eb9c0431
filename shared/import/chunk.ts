import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { classifyError, type LoaderError, ServerResetError } from '../errors/index.js';
import { S3Source } from '../records/index.js';
import type { Target } from '../redis/index.js';
import { loadGrouped, openGroupedRun } from './grouped.js';
import { emptyCounts, loadRange, type LoadOptions, type LoadResult, type ServerResetNote } from './load.js';
import { currentServers, serversChanged, touchTargets } from './servers.js';
import { DEFAULT_MARKER_TTL_SECONDS, readMarker, writeMarker } from './marker.js';
import { S3RejectSink } from './s3-rejects.js';
import { localSpill } from './write-path.js';
import { type ChunkState, type ChunkStats, chunkTaskSchema, type ChunkTask } from './schemas.js';

/** What loading a chunk needs besides its task: clients and settings of the running function. */
export interface ChunkDeps {
  readonly s3: S3Client;
  /** One per shard; completion markers live on the first. */
  readonly targets: readonly Target[];
  /** Bucket and prefix of the rejects objects (`<prefix><importId>/chunk-<n>.jsonl`). */
  readonly rejects: { readonly bucket: string; readonly prefix: string; readonly bufferBytes?: number };
  readonly markerPrefix: string;
  /** @default 7 days */
  readonly markerTtlSeconds?: number;
  /** Milliseconds left before the function is stopped (Lambda's `context.getRemainingTimeInMillis`). */
  readonly remainingMs: () => number;
  /**
   * Stop this long before the deadline, at a batch boundary (retries are cut short too): more than the Redis
   * command timeout, so a pipeline to a hung server still times out before the function is killed.
   * @default 30000
   */
  readonly marginMs?: number;
  /** Reports every retry of a pipeline (for logs). */
  readonly onRetry?: (event: { shard: string; attempt: number; delayMs: number; error: LoaderError }) => void;
  /** Reports every server reset the chunk saw (for logs); the chunk replays its range. */
  readonly onReset?: (note: ServerResetNote) => void;
  /**
   * Where a grouped chunk (the plan has `grouping`) keeps its spill, and whether that directory is this
   * invocation's alone (Lambda's /tmp): then the spills other chunks left there are removed first, so they
   * cannot fill it. @default the system's temp directory, shared
   */
  readonly temp?: { readonly dir?: string; readonly exclusive?: boolean };
}

/** Removes the spills under `dir` other than `keep` (a grouped chunk in a temp directory of its own). */
async function removeOtherSpills(dir: string, keep: string): Promise<void> {
  const names = await readdir(dir).catch((): string[] => []);
  await Promise.all(
    names
      .filter((n) => n.startsWith('rbl-grouped-') && join(dir, n) !== keep)
      .map((n) => rm(join(dir, n), { recursive: true, force: true })),
  );
}

function emptyStats(state: ChunkState): ChunkStats {
  const { index, start, end } = state.chunk;
  return {
    index,
    start,
    end,
    status: 'running',
    ...emptyCounts(),
    taskRetries: 0,
    invocations: 0,
    durationMs: 0,
    rejectsObjects: [],
    servers: [],
    redirects: { moved: 0, ask: 0 },
  };
}

/** The redirects the cluster among `targets` followed so far (its target lives across warm invocations). */
function redirectsOf(targets: readonly Target[]): { moved: number; ask: number } {
  const r = targets.find((t) => t.redirects !== undefined)?.redirects;
  return { moved: r?.moved ?? 0, ask: r?.ask ?? 0 };
}

function add(
  prev: ChunkStats,
  result: LoadResult,
  attempt: number,
  rejectsKey: string | undefined,
): ChunkStats {
  const c = result.counts;
  return {
    ...prev,
    read: prev.read + c.read,
    written: prev.written + c.written,
    rejected: prev.rejected + c.rejected,
    skipped: prev.skipped + c.skipped,
    unsettled: prev.unsettled + c.unsettled,
    retries: prev.retries + c.retries,
    taskRetries: prev.taskRetries + attempt,
    commandErrors: prev.commandErrors + c.commandErrors,
    commands: prev.commands + c.commands,
    serverResets: prev.serverResets + c.serverResets,
    invocations: prev.invocations + 1,
    durationMs: prev.durationMs + result.durationMs,
    rejectsObjects: rejectsKey === undefined ? prev.rejectsObjects : [...prev.rejectsObjects, rejectsKey],
  };
}

/**
 * Loads one chunk of an import (one invocation of `import-chunk`) and returns the item state for the next
 * step of the state machine:
 *
 * - a chunk with a completion marker is not loaded again: `done` with the recorded stats, `replayed: true`;
 * - the range is read with ranged GETs pinned to the planned ETag and written by {@link loadRange}; its
 *   rejects go to `rejects/<importId>/chunk-<n>.jsonl` (`chunk-<n>.<k>.jsonl` for continuation `k`);
 * - close to the deadline it stops at a batch boundary: `continue` with the offset to resume at;
 * - complete: the marker is written after the data, then `done`;
 * - a fatal error (wrong password, OOM, changed source, reject budget) is a result: `failed` plus a
 *   `failure` the state machine turns into the Map's error; a retryable one is thrown, so Step Functions
 *   retries the invocation from the same offset (the writes are idempotent).
 *
 * @example
 * const next = await loadChunk({ state, attempt: 0 }, { s3, targets, rejects, markerPrefix, remainingMs });
 */
export async function loadChunk(task: ChunkTask, deps: ChunkDeps): Promise<ChunkState> {
  const { state, attempt } = chunkTaskSchema.parse(task);
  const { importId, chunk, source: ref } = state;
  // Connect first: a warm process whose server restarted since its last invocation learns it here, once.
  await touchTargets(deps.targets);
  const marker = await readMarker(deps.targets[0]!, deps.markerPrefix, importId, chunk.index);
  if (marker) return { ...state, progress: { status: 'done', replayed: true, stats: marker } };

  let previous = state.progress?.status === 'continue' ? state.progress : undefined;
  let before = previous?.stats ?? emptyStats(state);
  if (previous) {
    // The earlier invocations' writes are only as good as the servers that confirmed them: a shard that
    // restarted since may have lost them, so the chunk starts over (its writes are idempotent).
    const changed = serversChanged(previous.stats.servers, currentServers(deps.targets));
    if (changed.length > 0) {
      for (const i of changed) {
        deps.onReset?.({
          shard: deps.targets[i]!.name,
          message: `${deps.targets[i]!.name} is not the server that confirmed this chunk's earlier writes (restart or failover): loading chunk ${chunk.index} again from its start`,
          action: 'replayed',
        });
      }
      before = startOverStats(state, { ...before, serverResets: before.serverResets + 1, servers: [] });
      previous = undefined;
    }
  }
  const part = before.invocations;
  const key = `${deps.rejects.prefix}${importId}/chunk-${chunk.index}${part === 0 ? '' : `.${part}`}.jsonl`;
  const rejects = new S3RejectSink(deps.s3, deps.rejects.bucket, key, deps.rejects.bufferBytes);
  const source = new S3Source(deps.s3, ref.bucket, ref.key, { etag: ref.etag, size: ref.size });

  const controller = new AbortController();
  const budget = deps.remainingMs() - (deps.marginMs ?? 30_000);
  const timer = setTimeout(() => controller.abort(), Math.max(0, budget));
  let result: LoadResult;
  let wasGrouped = false;
  const redirectsBefore = redirectsOf(deps.targets);
  try {
    const options: LoadOptions = {
      source,
      spec: state.spec,
      targets: deps.targets,
      ...(state.buckets ? { buckets: state.buckets } : {}),
      // A continuation at the chunk's own start (a restart after a server reset) reads it as a fresh chunk:
      // the cut may lie inside a quoted field, which only the plan's parity knows.
      range:
        previous?.resume && previous.resume.offset !== chunk.start
          ? {
              start: previous.resume.offset,
              end: chunk.end,
              ...(previous.resume.line === undefined ? {} : { startLine: previous.resume.line }),
            }
          : { start: chunk.start, end: chunk.end, inQuoteAtStart: chunk.inQuoteAtStart },
      rejects,
      signal: controller.signal,
      ...(deps.onRetry ? { onRetry: deps.onRetry } : {}),
      ...(deps.onReset ? { onReset: deps.onReset } : {}),
    };
    // Sorted by bucket in the temp directory, one HSET per bucket. No offset inside the chunk is confirmed
    // before its load pass ends, so a continuation starts at the chunk's start; in the same process it finds
    // the spill and continues after the last settled partition. A continuation that finds none (the deadline
    // came during the partition pass, or another container) writes record by record instead: it confirms
    // offsets as it goes, so a chunk too slow to partition in one invocation still gets done.
    const dir = deps.temp?.dir ?? tmpdir();
    const grouped =
      state.grouping && state.buckets
        ? await openGroupedRun({
            source,
            spec: state.spec,
            range: { start: chunk.start, end: chunk.end },
            buckets: state.buckets,
            targets: deps.targets,
            plan: state.grouping,
            store: localSpill(dir),
          })
        : undefined;
    const reusing = grouped?.manifest !== undefined;
    // A grouped continuation that kept its spill keeps the rejects objects of its partition pass; anything
    // else read from the chunk's start writes its rejects again.
    if (previous && !reusing && (previous.resume?.offset ?? chunk.start) === chunk.start)
      before = { ...before, rejectsObjects: [] };
    if (grouped && state.buckets && (previous === undefined || reusing)) {
      if (deps.temp?.exclusive) await removeOtherSpills(dir, grouped.store.location);
      wasGrouped = true;
      result = await loadGrouped({ ...options, buckets: state.buckets, grouped });
    } else {
      result = await loadRange(options);
    }
  } finally {
    clearTimeout(timer);
  }
  try {
    await rejects.close();
  } catch (err) {
    if (result.status !== 'failed') result = { ...result, status: 'failed', error: classifyError(err) };
  }
  if (result.status === 'failed' && result.error?.retryable) throw result.error;

  const after = redirectsOf(deps.targets);
  const stats = {
    ...add(before, result, attempt, rejects.count > 0 ? key : undefined),
    redirects: {
      moved: before.redirects.moved + after.moved - redirectsBefore.moved,
      ask: before.redirects.ask + after.ask - redirectsBefore.ask,
    },
    servers: currentServers(deps.targets),
  };
  if (previous && result.resets.length > 0) {
    // loadRange replayed only this invocation's part; what earlier invocations wrote, from the chunk's start
    // to the resume point, was confirmed by the server that is gone. Start the chunk over.
    return startOver(state, stats);
  }
  if (wasGrouped && result.status === 'interrupted') {
    // Nothing of a grouped chunk is confirmed before its load pass ends: the next invocation reads the chunk
    // from its start again (continuing the spill when it finds it), so its counts start over too. Its rejects
    // objects stay listed; the next invocation drops them unless it continues the spill (see above).
    const next = startOver(state, stats);
    return {
      ...next,
      progress: {
        ...next.progress!,
        stats: { ...next.progress!.stats, rejectsObjects: stats.rejectsObjects },
      },
    };
  }
  if (result.status === 'interrupted') {
    return {
      ...state,
      progress: {
        status: 'continue',
        resume: {
          offset: result.nextOffset,
          ...(result.nextLine === undefined ? {} : { line: result.nextLine }),
        },
        stats,
      },
    };
  }
  if (result.status === 'failed') {
    const error = result.error ?? classifyError(new Error('load failed'));
    const failed: ChunkStats = {
      ...stats,
      status: 'failed',
      error: { name: error.name, message: error.message },
    };
    return {
      ...state,
      progress: { status: 'failed', stats: failed },
      failure: {
        Error: error.name,
        Cause: JSON.stringify({ chunk: chunk.index, message: error.message, stats: failed }),
      },
    };
  }
  const done: ChunkStats = { ...stats, status: 'completed' };
  try {
    await writeMarker(
      deps.targets[0]!,
      deps.markerPrefix,
      importId,
      done,
      deps.markerTtlSeconds ?? DEFAULT_MARKER_TTL_SECONDS,
    );
  } catch (err) {
    if (!(err instanceof ServerResetError)) throw err;
    // The server restarted between the chunk's last write and its marker: the data may be gone. Start over,
    // through the state machine's continuation loop, from the chunk's start.
    deps.onReset?.({ shard: err.shard, message: err.message, action: 'replayed' });
    return startOver(state, {
      ...done,
      serverResets: done.serverResets + 1,
      servers: currentServers(deps.targets),
    });
  }
  return { ...state, progress: { status: 'done', stats: done } };
}

/**
 * The stats of a chunk that starts over after a server reset: the data counters at zero (what was written may
 * be gone), the invocation, retry, reset and command counters (the server ran those commands) and the servers
 * kept from `stats`.
 */
function startOverStats(state: ChunkState, stats: ChunkStats): ChunkStats {
  const { invocations, taskRetries, retries, serverResets, commands, servers } = stats;
  return { ...emptyStats(state), invocations, taskRetries, retries, serverResets, commands, servers };
}

/** A continuation from the chunk's own start (line 1 for the first chunk), with {@link startOverStats}. */
function startOver(state: ChunkState, stats: ChunkStats): ChunkState {
  const { chunk } = state;
  const resume = { offset: chunk.start, ...(chunk.start === 0 ? { line: 1 } : {}) };
  return { ...state, progress: { status: 'continue', resume, stats: startOverStats(state, stats) } };
}
