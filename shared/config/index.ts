export {
  type BatchSpec,
  formatZodError,
  type ImportSpec,
  type ImportSpecInput,
  importSpecSchema,
  type LimitsSpec,
  type ModelSpec,
  parseImportSpec,
  type TtlSpec,
} from './import-spec.js';
