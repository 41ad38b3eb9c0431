export { bucketPrefix, resolveBucketParams } from './buckets.js';
export { versionedSpec } from './dataset.js';
export {
  billPrice,
  type CommandBill,
  commandBill,
  commandsPer100Keys,
  describeBill,
  formatUsd,
  planCommands,
  UPSTASH_PRICE_PER_100K,
} from './commands.js';
export {
  emptyCounts,
  type LoadCounts,
  type LoadOptions,
  type LoadProgress,
  type LoadRange,
  type LoadResult,
  loadRange,
  MAX_RESET_REPLAYS,
  type ServerResetNote,
  type ServerResetPolicy,
} from './load.js';
export {
  type GroupedLoadOptions,
  type GroupedLoadResult,
  type GroupedOutcome,
  type GroupedRun,
  type GroupedRunInput,
  loadGrouped,
  openGroupedRun,
} from './grouped.js';
export { loadPartitions, type LoadPassOptions, type LoadPassResult } from './grouped-load.js';
export { partitionRange, type PartitionPassOptions, type PartitionPassResult } from './grouped-partition.js';
export { type LateReject, resolveRejects } from './grouped-rejects.js';
export {
  type BucketWriteChoice,
  type BucketWriteInput,
  chooseBucketWrite,
  probeRestore,
} from './restore-path.js';
export {
  defaultPartitionWorkers,
  MIN_SEGMENT_BYTES,
  partitionSegments,
  type SegmentsOptions,
  type SegmentsResult,
} from './partition-segments.js';
export { bytesPerKey, memorySnapshot, type ShardMemory } from './memory.js';
export { excerpt, FileRejectSink, MemoryRejectSink, type RejectEntry, type RejectSink } from './rejects.js';
export { type ChunkDeps, loadChunk } from './chunk.js';
export {
  type FinishDeps,
  finishImport,
  type FinishOutput,
  finishOutput,
  type FinishResult,
  MAX_RERUN_PASSES,
} from './finish.js';
export { loaderErrors, validateEvent } from './lambda.js';
export { DEFAULT_MARKER_TTL_SECONDS, markerKey, readMarker, readMarkers, writeMarker } from './marker.js';
export { type ChunkPlan, type ChunkPlanResult, DEFAULT_CHUNK_BYTES, planChunks, planRanges } from './plan.js';
export { pingTargets } from './preflight.js';
export { type PreparedImport, type PrepareInput, prepareImport } from './prepare.js';
export {
  CHUNK_RETRY,
  type FunctionInvoker,
  type InvokeOutcome,
  planChunkList,
  planInputKey,
  readPlanInput,
  type RedriveDeps,
  type RedriveFunction,
  redriveImport,
  type RedriveResult,
  type RedriveSelection,
  redriveSelection,
} from './redrive.js';
export {
  buildReport,
  describeStateError,
  type ImportReport,
  type ImportStatus,
  type MissingChunk,
  type ReportCounts,
  type ReportInput,
  reportKey,
  summaryLine,
} from './report.js';
export {
  type ClientSettings,
  type Clients,
  closeClients,
  createClients,
  checkRedisUrls,
  createTargets,
  keepSettled,
  oncePerProcess,
  type ProcessEnv,
  type RedisCredentials,
  secretsRuntime,
  type SecretsRuntimeOptions,
  withCredentials,
} from './runtime.js';
export { S3RejectSink } from './s3-rejects.js';
export { getText, putJson } from './s3-objects.js';
export {
  type ChunkProgress,
  type ChunkState,
  type ChunkStats,
  type ChunkTask,
  chunkStateSchema,
  chunkStatsSchema,
  chunkTaskSchema,
  type FinishInput,
  finishInputSchema,
  type ImportPlan,
  importPlanSchema,
  type SourceRef,
  type StateError,
} from './schemas.js';
export { executionArnFor, SfnExecutionStarter } from './sfn-starter.js';
export {
  chooseWritePath,
  chooseBucketWrites,
  GROUP_AUTO_MIN_ROWS,
  localSpill,
  planWritePath,
  type WritePath,
  type WritePathInput,
} from './write-path.js';
export {
  type ExecutionStarter,
  formatFromKey,
  importIdFor,
  outsideAllowlist,
  SIDECAR_SUFFIX,
  type StartDeps,
  type StartOutcome,
  type StartRequest,
  type StartSettings,
  groupedChunking,
  startImport,
} from './start.js';
