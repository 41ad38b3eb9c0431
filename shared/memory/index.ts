/**
 * Memory safety: a model of Redis memory per key for each data model, the pre-flight that refuses loads that
 * would not fit, listpack-aware bucket sizes and the post-load encoding check. (The health probe is in
 * `shared/probe`.)
 *
 * @example
 * import { runPreflight, sampleSource } from '../memory/index.js';
 * const sample = await sampleSource(source, spec);
 * const report = await runPreflight({ spec, sample, targets });
 * if (report.decision === 'refuse') console.error(report.refusal, report.suggestion);
 *
 * @module
 */
export { BUCKET_SIGMAS, type BucketFit, fitBucketSize, maxHashBucketMean } from './buckets.js';
export { DEFAULT_LISTPACK, DEFAULT_MEMORY_LIMIT, type ListpackLimits } from './constants.js';
export { checkEncodings, type EncodingCheck, encodingSampleKeys } from './encoding-check.js';
export { formatBytes, formatCount } from './format.js';
export { allocSize } from './jemalloc.js';
export {
  estimateMemory,
  type KeySample,
  type MemoryEstimate,
  type ModelChoice,
  type ModelContext,
} from './model.js';
export { assessPreflight, type PreflightInput, type PreflightReport, runPreflight } from './preflight.js';
export {
  type ModelProjection,
  modelVariants,
  type ProjectionInput,
  projectModel,
  type ShardProjection,
  shardVerdict,
  type Variant,
} from './projection.js';
export { type SampleOptions, type SourceSample, sampleSource } from './sample.js';
export {
  configPairs,
  keyspaceCounts,
  listpackFromConfig,
  readShard,
  type ShardReading,
  targetDb,
  tightestListpack,
} from './server.js';
export {
  dictGrowth,
  dictSlots,
  listpackEntryBytes,
  redisInteger,
  REDIS_SIZES,
  sdsAlloc,
  stringValueBytes,
} from './sizes.js';
