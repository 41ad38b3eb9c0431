export {
  type BatchSpec,
  type ImportSpec,
  type ImportSpecInput,
  importSpecSchema,
  type LimitsSpec,
  type ModelSpec,
  parseImportSpec,
  type TtlSpec,
} from './import-spec.js';
export { closestMatch, formatZodError, specErrorMap } from './spec-errors.js';
export {
  type AllowedSource,
  type ChunkEnv,
  chunkEnvSchema,
  type FinishEnv,
  finishEnvSchema,
  parseEnv,
  redisUrlList,
  type StartEnv,
  startEnvSchema,
} from './env.js';
