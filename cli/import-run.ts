import { tmpdir } from 'node:os';
import { basename } from 'node:path';
import type tls from 'node:tls';
import type { ImportSpec } from '../shared/config/index.js';
import { type CutoverOutcome, cutover, type DatasetPlan, failedCutover } from '../shared/dataset/index.js';
import { classifyError } from '../shared/errors/index.js';
import {
  billPrice,
  bytesPerKey,
  type CommandBill,
  commandBill,
  commandsPer100Keys,
  defaultPartitionWorkers,
  emptyCounts,
  FileRejectSink,
  type GroupedOutcome,
  type LoadCounts,
  type LoadProgress,
  type LoadRange,
  chooseBucketWrite,
  loadGrouped,
  loadRange,
  localSpill,
  memorySnapshot,
  openGroupedRun,
  pingTargets,
  prepareImport,
  type RedisCredentials,
  type ServerResetNote,
  type ServerResetPolicy,
  type ShardMemory,
  type WritePath,
} from '../shared/import/index.js';
import type { BucketParams } from '../shared/mapping/index.js';
import {
  checkEncodings,
  type EncodingCheck,
  encodingSampleKeys,
  type PreflightReport,
} from '../shared/memory/index.js';
import type { ByteSource } from '../shared/records/index.js';
import type { Target } from '../shared/redis/index.js';
import { explainRedisError, openCliTargets } from './redis-targets.js';
import { createProgress, type ProgressView, silentProgress } from './progress.js';
import { ReportRecorder } from './report-html.js';
import { openSource } from './source.js';

/** Everything one CLI import needs. */
export interface ImportRunOptions {
  /** A local path or `s3://bucket/key`. */
  source: string;
  /** Custom S3 endpoint for `s3://` sources (s3rver, MinIO). */
  s3Endpoint?: string;
  /** Write the HTML report of the run here (`--report-html`): keys/s and each shard's memory over time. */
  reportHtml?: string;
  /** Upstash REST: the largest HTTP request (`--max-request-bytes`). @default 10 MiB */
  maxRequestBytes?: number;
  /** One redis:// or rediss:// URL per shard, or one Upstash REST URL. */
  redis: readonly string[];
  spec: ImportSpec;
  /** Where rejected records go (created only when there are some). */
  rejectsPath: string;
  range?: LoadRange;
  /** Show a progress bar/lines on stderr. */
  progress: boolean;
  /** Told the load's progress as it goes (besides the progress bar): `--log-json` logs it. */
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /** Credentials for URLs that carry none (from REDIS_USERNAME / REDIS_PASSWORD). */
  credentials?: RedisCredentials;
  /** Load even when the memory pre-flight projects a shard past the limit. @default false */
  force?: boolean;
  /** Share of maxmemory the pre-flight lets a shard reach. @default 0.85 */
  memoryLimit?: number;
  /** Called with the pre-flight's report before anything is written. */
  onPreflight?: (report: PreflightReport) => void;
  /** A shard restarted mid-load: load again from the range start, or stop there. @default 'replay' */
  onServerReset?: ServerResetPolicy;
  /** Told about each server reset as it is seen. */
  onReset?: (note: ServerResetNote) => void;
  /** `--cluster` / `--no-cluster`; detected from the server by default. */
  cluster?: boolean | 'auto';
  /** `tls.connect` options for `rediss://` shards (CA, server name). */
  tls?: tls.ConnectionOptions;
  /**
   * US dollars per 100 k commands (`--price-per-100k`): the summary estimates the bill. Unset: Upstash's list
   * price when a `--redis` URL is `http(s)://` (Upstash REST), otherwise no bill.
   */
  pricePer100k?: number;
  /**
   * Checks the opened source before any shard is contacted (resume offset, CSV header); a thrown error ends the
   * import before anything is written.
   */
  inspectSource?: (source: ByteSource) => Promise<void>;
  /** Where grouped bucket writes spill. @default os.tmpdir() */
  tempDir?: string;
  /** Memory the load pass may take for grouping (two partitions). @default 32 MiB */
  groupBytes?: number;
  /** Worker threads of the partition pass (local files). @default see `defaultPartitionWorkers` */
  partitionWorkers?: number;
  /**
   * A spec with a `dataset`: continue this version (`--dataset-version`, from a stopped load's summary)
   * instead of allocating a fresh one.
   */
  datasetVersion?: number;
}

/** How the import wrote (see `groupBuckets`), and for grouped writes what the spill took and where it stands. */
export interface WritePathSummary {
  path: WritePath['path'];
  reason: string;
  /** Grouped writes only. */
  grouped?: GroupedOutcome;
  /** Grouped writes only: each bucket one `HSET` or one `RESTORE` of its listpack, and why. */
  bucketWrite?: { write: 'hset' | 'restore'; reason: string; fallback?: boolean };
}

/** The outcome of an import, as printed by the CLI (and as `--json`). */
export interface ImportSummary {
  source: string;
  shards: string[];
  model: ImportSpec['model']['type'];
  /** `refused`: the memory pre-flight stopped the load before any write (see `preflight`). */
  status: 'completed' | 'interrupted' | 'failed' | 'refused';
  counts: LoadCounts;
  bytesRead: number;
  durationMs: number;
  keysPerSecond: number;
  /** `counts.commands` per 100 keys written (records); null when none was written. */
  commandsPer100Keys: number | null;
  /** The estimated bill for `counts.commands`, with an Upstash URL or `--price-per-100k`. */
  bill?: CommandBill;
  memoryBefore: ShardMemory[];
  memoryAfter: ShardMemory[] | undefined;
  bytesPerKey: number | undefined;
  rejectsFile: string | undefined;
  nextOffset: number;
  nextLine: number | undefined;
  /** Shards that restarted or failed over during the load, and what the load did about it. */
  resets: ServerResetNote[];
  /** A Redis Cluster: the `MOVED`/`ASK` redirects followed during the import (slots that moved). */
  redirects?: { moved: number; ask: number };
  buckets: BucketParams | undefined;
  /** Peak resident memory of this process so far, in bytes. */
  peakRssBytes: number;
  error?: { name: string; message: string };
  /** The memory pre-flight: projection per shard and model, warnings, refusal. */
  preflight?: PreflightReport;
  /** `OBJECT ENCODING` of a sample of the hashes written (hash and bucketed models). */
  encodings?: EncodingCheck;
  /** Direct or grouped writes (absent when the pre-flight refused). */
  writePath?: WritePathSummary;
  /**
   * A `dataset` spec: the version loaded, whether `current` was flipped to it (or why not) and the versions
   * expired. A stopped load continues its version with `--dataset-version <version>`.
   */
  dataset?: CutoverOutcome;
}

/**
 * {@link pingTargets}, with the CLI's hints: an unreachable or misconfigured Redis fails before anything is read,
 * in one line that says what to check.
 */
export async function checkTargets(targets: readonly Target[]): Promise<void> {
  try {
    await pingTargets(targets);
  } catch (err) {
    throw explainRedisError(err);
  }
}

/**
 * Runs one import from a local file or an S3 object: prepares it as import-start does ({@link prepareImport}:
 * shards checked with the CLI's hints, memory pre-flight, bucket parameters), loads with progress, and measures
 * Redis memory before and after. Throws only for problems found before any write (config, connection,
 * credentials); problems during the load are in the summary's `status` and `error`.
 */
export async function runImport(options: ImportRunOptions): Promise<ImportSummary> {
  const source = await openSource(
    options.source,
    options.s3Endpoint === undefined ? {} : { endpoint: options.s3Endpoint },
  );
  let targets: Target[] = [];
  try {
    await source.size();
    await options.inspectSource?.(source);
    targets = await openCliTargets(options.redis, {
      ...(options.credentials ? { credentials: options.credentials } : {}),
      tls: options.tls,
      cluster: options.cluster ?? 'auto',
      ...(options.maxRequestBytes === undefined ? {} : { maxRequestBytes: options.maxRequestBytes }),
    });
    const start = options.range?.start ?? 0;
    const prepared = await prepareImport({
      source,
      spec: options.spec,
      origin: options.source,
      ...(options.datasetVersion === undefined ? {} : { datasetVersion: options.datasetVersion }),
      targets,
      ping: checkTargets,
      grouping: {
        tempDir: options.tempDir ?? tmpdir(),
        ...(options.groupBytes === undefined ? {} : { groupBytes: options.groupBytes }),
        billedPerCommand: billPrice(options.redis, options.pricePer100k) !== undefined,
      },
      ...(options.range ? { range: options.range } : {}),
      ...(options.memoryLimit === undefined ? {} : { limit: options.memoryLimit }),
      ...(options.force === undefined ? {} : { force: options.force }),
      ...(options.onPreflight ? { onPreflight: options.onPreflight } : {}),
    });
    // A dataset load writes into its own version: `spec` is the versioned one from here on.
    const { memoryBefore, sample, preflight, buckets, writePath, spec, dataset } = prepared;
    if (preflight.decision === 'refuse') return refusedSummary(options, targets, memoryBefore, preflight);
    const size = await source.size();
    const view: ProgressView = options.progress
      ? createProgress(basename(options.source), size - start)
      : silentProgress;
    const grouped =
      writePath?.plan && writePath.tempDir && buckets
        ? await openGroupedRun({
            source,
            spec,
            range: options.range,
            buckets,
            targets,
            plan: writePath.plan,
            store: localSpill(writePath.tempDir),
          })
        : undefined;
    // Whole buckets with RESTORE only where nothing else writes the keys (or when asked), after a probe.
    const bucketWrite =
      grouped && buckets
        ? await chooseBucketWrite({
            mode: spec.bucketWrite,
            freshKeys: dataset !== undefined,
            targets,
            listpack: preflight.listpack,
            billedPerCommand: billPrice(options.redis, options.pricePer100k) !== undefined,
            prefix: buckets.prefix,
          })
        : undefined;
    // A grouped load that continues a stopped run adds to that run's rejects file.
    const rejects = new FileRejectSink(options.rejectsPath, { append: grouped?.manifest !== undefined });
    const recorder = options.reportHtml === undefined ? undefined : new ReportRecorder(targets);
    recorder?.start();
    const load = {
      source,
      spec,
      targets,
      rejects,
      ...(options.range ? { range: options.range } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onServerReset ? { onServerReset: options.onServerReset } : {}),
      ...(options.onReset ? { onReset: options.onReset } : {}),
      onProgress: (p: LoadProgress) => {
        view.update(p);
        recorder?.progress(p);
        options.onProgress?.(p);
      },
    };
    const workers = options.partitionWorkers ?? defaultPartitionWorkers(await load.source.size());
    const groupedResult =
      grouped && buckets
        ? await loadGrouped({ ...load, buckets, grouped, workers, restore: bucketWrite?.fit })
        : undefined;
    const result = groupedResult ?? (await loadRange({ ...load, ...(buckets ? { buckets } : {}) }));
    view.stop();
    await rejects.close();
    await recorder?.stop({
      written: result.counts.written,
      rejected: result.counts.rejected,
      bytesRead: result.nextOffset - start,
    });
    const cutoverOutcome = dataset ? await cutoverAfter(targets, dataset, result) : undefined;
    const memoryAfter = await memorySnapshot(targets).catch(() => undefined);
    const encodings =
      spec.model.type === 'string'
        ? undefined
        : await checkEncodings(
            targets,
            encodingSampleKeys(sample.samples, buckets, preflight.listpack.value),
          );
    const keys = result.counts.written;
    const summary: ImportSummary = {
      source: options.source,
      shards: targets.map((t) => t.name),
      model: spec.model.type,
      status: result.status,
      counts: result.counts,
      bytesRead: result.nextOffset - start,
      durationMs: result.durationMs,
      keysPerSecond: keys / Math.max(0.001, result.durationMs / 1000),
      commandsPer100Keys: commandsPer100Keys(result.counts.commands, keys),
      ...billOf(options, result.counts.commands),
      memoryBefore,
      memoryAfter,
      bytesPerKey:
        memoryAfter && memoryBefore.length > 0 ? bytesPerKey(memoryBefore, memoryAfter, keys) : undefined,
      rejectsFile: rejects.count > 0 ? options.rejectsPath : undefined,
      nextOffset: result.nextOffset,
      nextLine: result.nextLine,
      ...redirectsOf(targets),
      resets: result.resets,
      buckets,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ...(result.error ? { error: { name: result.error.name, message: result.error.message } } : {}),
      preflight,
      ...(encodings ? { encodings } : {}),
      ...(writePath
        ? {
            writePath: {
              path: writePath.path,
              reason: writePath.reason,
              ...(groupedResult ? { grouped: groupedResult.grouped } : {}),
              ...(bucketWrite
                ? {
                    bucketWrite: {
                      write: bucketWrite.write,
                      reason: bucketWrite.reason,
                      ...(bucketWrite.fallback ? { fallback: true } : {}),
                    },
                  }
                : {}),
            },
          }
        : {}),
      ...(cutoverOutcome ? { dataset: cutoverOutcome } : {}),
    };
    if (recorder && options.reportHtml !== undefined) await recorder.write(options.reportHtml, summary);
    return summary;
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}

/**
 * The cutover at the end of a dataset load: a completed load is SUCCEEDED (PARTIAL with rejects), a stopped
 * one INTERRUPTED, a failed one FAILED; only the first (or a PARTIAL the dataset allows) flips `current`.
 */
async function cutoverAfter(
  targets: readonly Target[],
  plan: DatasetPlan,
  result: { status: 'completed' | 'interrupted' | 'failed'; counts: LoadCounts },
): Promise<CutoverOutcome> {
  const { read, rejected } = result.counts;
  const status =
    result.status === 'completed'
      ? rejected > 0
        ? 'PARTIAL'
        : 'SUCCEEDED'
      : result.status === 'interrupted'
        ? 'INTERRUPTED'
        : 'FAILED';
  try {
    return await cutover(targets, plan, { status, read, rejected });
  } catch (err) {
    return failedCutover(plan, classifyError(err));
  }
}

/** The summary of a load the memory pre-flight refused: nothing was read into Redis. */
function refusedSummary(
  options: ImportRunOptions,
  targets: readonly Target[],
  memoryBefore: ShardMemory[],
  preflight: PreflightReport,
): ImportSummary {
  const start = options.range?.start ?? 0;
  return {
    source: options.source,
    shards: targets.map((t) => t.name),
    model: options.spec.model.type,
    status: 'refused',
    counts: emptyCounts(),
    bytesRead: 0,
    durationMs: 0,
    keysPerSecond: 0,
    commandsPer100Keys: null,
    ...billOf(options, 0),
    memoryBefore,
    memoryAfter: undefined,
    bytesPerKey: undefined,
    rejectsFile: undefined,
    nextOffset: start,
    nextLine: options.range?.startLine ?? (start === 0 ? 1 : undefined),
    resets: [],
    buckets: undefined,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    preflight,
  };
}

/** The estimated bill of a run, when a per-command price applies (see `billPrice`). */
function billOf(options: ImportRunOptions, commands: number): { bill?: CommandBill } {
  const price = billPrice(options.redis, options.pricePer100k);
  return price === undefined ? {} : { bill: commandBill(commands, price) };
}

/** The redirects a cluster among `targets` (opened for this import alone) followed; nothing for standalone servers. */
function redirectsOf(targets: readonly Target[]): { redirects?: { moved: number; ask: number } } {
  const redirects = targets.find((t) => t.redirects !== undefined)?.redirects;
  return redirects ? { redirects: { ...redirects } } : {};
}
