export {
  type BucketAddress,
  type BucketParams,
  type BucketSlot,
  bucketOf,
  commonPrefix,
  decodeBucketParams,
  encodeBucketParams,
  fieldOfSuffix,
  loadBucketParams,
  locateBucket,
  metaKey,
  readKey,
  UNSTRIPPED_MARK,
} from './buckets.js';
export {
  bucketChangeRate,
  type CommandEstimate,
  type CommandLoad,
  type CommandModel,
  estimateCommands,
} from './command-estimate.js';
export {
  ASSIGN_REJECT,
  ASSIGN_SKIP,
  type BucketAssigner,
  type BucketAssignment,
  createBucketAssigner,
  emptyAssignment,
  hashSuffixField,
} from './bucket-assigner.js';
export { fnv1a32, fnv1a32Bytes } from './fnv.js';
export { exceedsBytes } from './limits.js';
export { createMapper } from './mapper.js';
export { missingFields, type RequiredField, requiredFields } from './required-fields.js';
export { compileTemplate, type KeyTemplate, keyPart, type RenderFailure, valueToString } from './template.js';
export { createTtl } from './ttl.js';
export type { LoadCommand, Mapper, MapReject, MapResult } from './types.js';
