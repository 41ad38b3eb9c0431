import type { ImportSpec } from '../config/index.js';
import type { BucketParams } from '../mapping/index.js';
import {
  DEFAULT_MEMORY_LIMIT,
  type PreflightReport,
  runPreflight,
  sampleSource,
  type SourceSample,
} from '../memory/index.js';
import type { ByteSource } from '../records/index.js';
import type { Target } from '../redis/index.js';
import type { DatasetPlan } from '../dataset/index.js';
import { resolveBucketParams } from './buckets.js';
import { fixDatasetVersion, recordBuckets, sideBySideNote, startDataset } from './dataset.js';
import { memorySnapshot, type ShardMemory } from './memory.js';
import { pingTargets } from './preflight.js';
import { chooseWritePath, planWritePath, type WritePath } from './write-path.js';

/** What {@link prepareImport} looks at. */
export interface PrepareInput {
  readonly source: ByteSource;
  readonly spec: ImportSpec;
  readonly targets: readonly Target[];
  /** Where the load starts, for a resumed load (the sample is taken from there). @default the whole source */
  readonly range?: {
    readonly start?: number;
    readonly startLine?: number;
    readonly inQuoteAtStart?: boolean;
  };
  /** Share of maxmemory the pre-flight lets a shard reach. @default 0.85 */
  readonly limit?: number;
  /** Proceed even when the pre-flight projects a shard past `limit`. @default false */
  readonly force?: boolean;
  /**
   * How the targets are checked before anything is read: callers turn its errors into their own messages
   * (the CLI adds hints, import-start refuses the object). @default pingTargets
   */
  readonly ping?: (targets: readonly Target[]) => Promise<void>;
  /** Told the pre-flight's report as soon as it is made, before the bucket parameters are fixed. */
  readonly onPreflight?: (report: PreflightReport) => void;
  /**
   * Where grouped bucket writes may spill (the CLI: a local directory): the write path is then decided from
   * the spec and the sample ({@link planWritePath}), and a spill that would not fit is refused before the
   * first write. Without it the write path is left to the caller.
   */
  readonly grouping?: {
    readonly tempDir: string;
    readonly groupBytes?: number;
    /** Every command is billed (Upstash): `groupBuckets: auto` groups any bucketed load. */
    readonly billedPerCommand?: boolean;
  };
  /**
   * The Lambda path: a bucketed load may group its writes within each chunk (import-chunk's temp directory):
   * the write path is decided from the spec and the sample ({@link chooseWritePath}) and returned without a
   * spill plan, which import-start makes per chunk. Ignored with `grouping`.
   */
  readonly groupedChunks?: { readonly billedPerCommand?: boolean };
  /**
   * A spec with a `dataset`: continue this version (a resumed load, checked to be allocated, alive and never
   * current) instead of allocating a fresh one.
   */
  readonly datasetVersion?: number;
  /** Shown in a dataset version's hash: where the load comes from. @default the source's name */
  readonly origin?: string;
}

/** What a load needs to know before its first write. */
export interface PreparedImport {
  /** `INFO memory` of every shard before the load; empty when INFO cannot be read (the pre-flight warns). */
  readonly memoryBefore: ShardMemory[];
  /** The sample of the source the pre-flight projected from (also the records behind the bucket count). */
  readonly sample: SourceSample;
  readonly preflight: PreflightReport;
  /**
   * The bucketed model's parameters, stored with the dataset; undefined for the other models and when the
   * pre-flight refused (then nothing was written to Redis).
   */
  readonly buckets: BucketParams | undefined;
  /**
   * With `grouping`: how the load writes (direct, or grouped with its partitions); with `groupedChunks`: the
   * path alone.
   */
  readonly writePath?: WritePath;
  /**
   * The spec to load with: the input spec, or for a `dataset` spec the one writing into the load's version
   * (`versionedSpec`). Loads must use this one.
   */
  readonly spec: ImportSpec;
  /** A `dataset` spec that was not refused: the version this load writes and how it cuts over. */
  readonly dataset?: DatasetPlan;
}

/**
 * Everything before a load's first write, the same for the CLI and import-start: pings the shards, reads their
 * memory, samples the source, runs the memory pre-flight and — unless it refused — fixes the bucket
 * parameters (the only step that writes: the dataset's meta hash). Errors are thrown as they come (see
 * `ping` for the first step); a refusal is a result: `preflight.decision === 'refuse'`.
 *
 * @example
 * const prepared = await prepareImport({ source, spec, targets, limit: 0.85 });
 * if (prepared.preflight.decision === 'refuse') return refuse(prepared.preflight.refusal);
 * await loadRange({ source, spec, targets, rejects, ...(prepared.buckets ? { buckets: prepared.buckets } : {}) });
 */
export async function prepareImport(input: PrepareInput): Promise<PreparedImport> {
  const { source, targets, range } = input;
  await (input.ping ?? pingTargets)(targets);
  // A dataset load writes into a version of its own: planned with the next one, fixed after the pre-flight.
  const start0 = input.spec.dataset
    ? await startDataset(input.spec, targets, input.datasetVersion)
    : undefined;
  let spec = start0?.spec ?? input.spec;
  // INFO may be disabled (managed Redis): the pre-flight says so, and the reports show memory as unreadable.
  const memoryBefore = await memorySnapshot(targets).catch((): ShardMemory[] => []);
  const start = range?.start ?? 0;
  let sample = await sampleSource(source, spec, {
    start,
    ...(range?.startLine === undefined ? {} : { startLine: range.startLine }),
    ...(range?.inQuoteAtStart === undefined ? {} : { inQuoteAtStart: range.inQuoteAtStart }),
  });
  // How buckets will be written decides how much RSS the growth costs; without `grouping` the load is direct.
  const choose = input.grouping ?? input.groupedChunks;
  const chosen = choose
    ? chooseWritePath(spec, sample, {
        ...(choose.billedPerCommand === undefined ? {} : { billedPerCommand: choose.billedPerCommand }),
      })
    : undefined;
  const writes = chosen?.path ?? 'direct';
  const assessed = await runPreflight({
    spec,
    sample,
    targets,
    limit: input.limit ?? DEFAULT_MEMORY_LIMIT,
    force: input.force ?? false,
    writes,
  });
  const note =
    start0 &&
    sideBySideNote(input.spec.dataset!.name, start0.state, start0.provisional, input.spec.dataset!.keep);
  const preflight = note ? { ...assessed, warnings: [...assessed.warnings, note] } : assessed;
  input.onPreflight?.(preflight);
  if (preflight.decision === 'refuse') return { memoryBefore, sample, preflight, buckets: undefined, spec };
  // Before the meta hash (the first write): a spill that does not fit is refused with nothing written.
  const writePath = input.grouping ? await planWritePath({ spec, sample, ...input.grouping }) : chosen;
  const path = writePath ? { writePath } : {};
  let dataset: DatasetPlan | undefined;
  if (start0) {
    const fixed = await fixDatasetVersion(input.spec, targets, start0, sample, {
      ...(input.datasetVersion === undefined ? {} : { resume: input.datasetVersion }),
      source: input.origin ?? source.name,
    });
    ({ spec, sample } = fixed);
    dataset = fixed.plan;
  }
  const version = dataset ? { dataset } : {};
  if (spec.model.type !== 'bucketed')
    return { memoryBefore, sample, preflight, buckets: undefined, spec, ...path, ...version };
  // The bucket count is the whole dataset's: a resumed load samples the whole source, not just what is left.
  const records = start === 0 ? sample.records : (await sampleSource(source, spec)).records;
  const buckets = await resolveBucketParams(
    spec,
    targets,
    records,
    preflight.listpack,
    sample.samples.map((s) => s.key),
  );
  if (dataset) await recordBuckets(targets, dataset, buckets);
  return { memoryBefore, sample, preflight, buckets, spec, ...path, ...version };
}
