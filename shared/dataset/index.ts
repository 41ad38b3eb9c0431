/**
 * Atomic dataset cutover: loads into fresh versions of a named dataset (`<name>:v<n>:…`), flips
 * `<name>:current` to a version once it is fully loaded, expires the versions past `keep`, and reads through
 * `current` so a reader never sees a half-loaded dataset.
 *
 * @example
 * import { readCurrent } from '../dataset/index.js';
 * const score = await readCurrent(target, 'users', 'user:42');
 *
 * @module
 */
export { type CutoverOptions, cutover, cutoverVerdict, failedCutover } from './cutover.js';
export { type ExpireOptions, type ExpireResult, expireVersions } from './expire.js';
export {
  datasetKeys,
  type DatasetKeys,
  expireCommand,
  flipCommand,
  versionKey,
  versionNamespace,
  versionPattern,
} from './keys.js';
export { type DatasetView, openCurrent, type ReadOptions, readCurrent } from './read.js';
export { type CutoverOutcome, type DatasetPlan, datasetPlanSchema, type LoadOutcome } from './types.js';
export {
  type AllocateInput,
  allocateVersion,
  type DatasetState,
  decodeVersionInfo,
  readDatasetState,
  readVersionInfo,
  recordVersion,
  resumeVersion,
  type VersionInfo,
} from './versions.js';
