export { bucketPrefix, resolveBucketParams } from './buckets.js';
export { estimateRecords, type SourceEstimate } from './estimate.js';
export {
  type LoadCounts,
  type LoadOptions,
  type LoadProgress,
  type LoadRange,
  type LoadResult,
  loadRange,
} from './load.js';
export { bytesPerKey, memorySnapshot, type ShardMemory } from './memory.js';
export { excerpt, FileRejectSink, MemoryRejectSink, type RejectEntry, type RejectSink } from './rejects.js';
