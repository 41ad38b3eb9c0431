export {
  type BatchSpec,
  type DatasetSpec,
  datasetSpec,
  type BucketWriteMode,
  type GroupBucketsMode,
  type ImportSpec,
  type ImportSpecInput,
  importSpecSchema,
  type LimitsSpec,
  type ModelSpec,
  parseImportSpec,
  type TtlSpec,
} from './import-spec.js';
export {
  type ConsumerModel,
  type ConsumerSpec,
  type ConsumerSpecInput,
  consumerSpecSchema,
  loadConsumerSpec,
  parseConsumerSpec,
} from './consumer-spec.js';
export { closestMatch, formatZodError, specErrorMap } from './spec-errors.js';
export {
  type AllowedSource,
  type ChunkEnv,
  chunkEnvSchema,
  type ConsumerEnv,
  consumerEnvSchema,
  type FinishEnv,
  finishEnvSchema,
  parseEnv,
  redisCluster,
  redisUrlList,
  type StartEnv,
  startEnvSchema,
} from './env.js';
export {
  clearSecretCache,
  resolveSecrets,
  type ResolveSecretsOptions,
  SECRET_VARIABLES,
  type SecretReader,
  secretsVersion,
} from './secrets.js';
