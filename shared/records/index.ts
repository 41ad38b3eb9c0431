export { FileSource, type FileSourceOptions, DEFAULT_FILE_CHUNK_BYTES } from './file-source.js';
export { MAX_BATCH_ITEMS, type PlainLineSink } from './framer.js';
export { DEFAULT_MAX_RECORD_BYTES, type ReadOptions } from './options.js';
export { scanQuoteParity } from './quote-parity.js';
export { readRecords } from './reader.js';
export type {
  ByteSource,
  CsvFormat,
  JsonlFormat,
  ReadReject,
  RecordBatch,
  RecordFormat,
  SourceRecord,
} from './types.js';
export { MAX_REJECT_RAW_BYTES } from './utf8.js';
export {
  createS3Client,
  type S3ClientOptions,
  type S3ObjectInfo,
  S3Source,
  type S3SourceOptions,
} from './s3-source.js';
export { s3Sdk } from './s3-sdk.js';
