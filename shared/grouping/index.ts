export {
  GROUP_BYTES_PER_RECORD,
  indexPartition,
  PartitionIndex,
  PartitionIndexer,
  partitionOf,
  type SpillLocator,
  spillLocator,
  type SpillPart,
  stableOrder,
  SUB_RANGE_BYTES,
} from './group.js';
export {
  decodeRespArray,
  EncodedCommand,
  HsetEncoder,
  MAX_FIELDS_PER_HSET,
  MAX_HSET_BYTES,
} from './hset-encoder.js';
export { type GroupedManifest, manifestSchema, parseManifest } from './manifest.js';
export { PartitionWriter, type PartitionStats, type PartitionWriterOptions } from './partition-writer.js';
export {
  checkTempDisk,
  DEFAULT_GROUP_BYTES,
  freeBytes,
  type GroupingPlan,
  MAX_PARTITIONS,
  planGrouping,
  type SizingInput,
  TEMP_DISK_MARGIN,
} from './sizing.js';
export {
  checkSpillHeader,
  emptyView,
  recordBytes,
  SPILL_HEADER_BYTES,
  SPILL_VERSION,
  spillHeader,
  SpillReader,
  type SpillView,
  writeSpillRecord,
} from './spill-format.js';
export {
  LocalSpillStore,
  readPartition,
  type SpillFile,
  spillFileName,
  type SpillStore,
} from './spill-store.js';
export { crc64Hex, writeCrc64 } from './crc64.js';
export { DUMP_RDB_VERSION, hashPayload, RDB_TYPE_HASH_LISTPACK } from './listpack.js';
export { type ListpackFit, RestoreEncoder } from './restore-encoder.js';
