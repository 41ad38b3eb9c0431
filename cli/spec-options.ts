import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type ImportSpec, parseImportSpec } from '../shared/config/index.js';
import { ConfigError } from '../shared/errors/index.js';

/** Spec-related flags of `import` (all optional; they override the spec file). */
export interface SpecFlags {
  spec?: string;
  format?: string;
  columns?: string;
  delimiter?: string;
  header?: boolean;
  key?: string;
  model?: string;
  value?: string;
  fields?: string;
  bucketScheme?: string;
  bucketSize?: number;
  bucketCount?: number;
  bucketPrefix?: string;
  ttl?: number;
  ttlJitter?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
  rejectBudget?: number;
  batchCommands?: number;
  batchBytes?: number;
  inFlight?: number;
  retries?: number;
  groupBuckets?: string;
  bucketWrite?: string;
  dataset?: string;
  datasetKeep?: number;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Obj) } : {};
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function formatFromPath(path: string): string | undefined {
  const ext = extname(path.replace(/\.(gz|zst)$/, '')).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

/**
 * Builds the import spec from an optional spec file plus flags (flags win), then validates it.
 * Errors are {@link ConfigError}s that say which flag or spec field to fix.
 */
export async function resolveSpec(sourcePath: string, flags: SpecFlags): Promise<ImportSpec> {
  let raw: Obj = {};
  const origin = flags.spec ? `spec file ${flags.spec}` : 'import options';
  if (flags.spec) {
    let text: string;
    try {
      text = await readFile(flags.spec, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read spec file ${flags.spec}: ${(err as Error).message}`);
    }
    try {
      raw = obj(JSON.parse(text));
    } catch (err) {
      throw new ConfigError(`spec file ${flags.spec} is not valid JSON: ${(err as Error).message}`);
    }
  }

  const format = obj(raw.format);
  if (flags.format) format.type = flags.format;
  format.type ??= formatFromPath(sourcePath) ?? (flags.columns || flags.delimiter ? 'csv' : undefined);
  if (format.type === undefined) {
    throw new ConfigError(
      `cannot tell the format of ${sourcePath} from its name: pass --format csv or --format jsonl`,
    );
  }
  if (format.type === 'csv') {
    if (flags.columns) format.columns = list(flags.columns);
    if (flags.delimiter) format.delimiter = flags.delimiter === '\\t' ? '\t' : flags.delimiter;
    else if (extname(sourcePath).toLowerCase() === '.tsv') format.delimiter ??= '\t';
  }
  raw.format = format;

  if (flags.key) raw.key = flags.key;
  if (raw.key === undefined)
    throw new ConfigError(`--key is required (a template over record fields, e.g. --key 'user:{id}')`);

  const model = obj(raw.model);
  if (flags.model) model.type = flags.model;
  model.type ??= 'string';
  if (flags.value)
    model.value = model.type === 'string' && flags.value.includes(',') ? list(flags.value) : flags.value;
  if (flags.fields) model.fields = list(flags.fields);
  if (flags.bucketScheme) model.scheme = flags.bucketScheme;
  if (flags.bucketSize !== undefined) model.bucketSize = flags.bucketSize;
  if (flags.bucketCount !== undefined) model.bucketCount = flags.bucketCount;
  if (flags.bucketPrefix) model.prefix = flags.bucketPrefix;
  // With a spec file, zod names the missing model.value next to a typo such as `valu` (did you mean value?).
  const needsValue = model.type === 'string' || model.type === 'bucketed';
  if (needsValue && model.value === undefined && !flags.spec) {
    throw new ConfigError(
      `--value is required for the ${String(model.type)} model (the field to store, e.g. --value score)`,
    );
  }
  raw.model = model;

  if (flags.ttl !== undefined) raw.ttl = { seconds: flags.ttl, jitterPercent: flags.ttlJitter ?? 0 };
  else if (flags.ttlJitter !== undefined) throw new ConfigError('--ttl-jitter needs --ttl');

  const limits = obj(raw.limits);
  if (flags.maxKeyBytes !== undefined) limits.maxKeyBytes = flags.maxKeyBytes;
  if (flags.maxValueBytes !== undefined) limits.maxValueBytes = flags.maxValueBytes;
  raw.limits = limits;

  if (flags.rejectBudget !== undefined)
    raw.rejectBudget = { ...obj(raw.rejectBudget), fraction: flags.rejectBudget };

  const batch = obj(raw.batch);
  if (flags.batchCommands !== undefined) batch.maxCommands = flags.batchCommands;
  if (flags.batchBytes !== undefined) batch.maxBytes = flags.batchBytes;
  if (flags.inFlight !== undefined) batch.inFlight = flags.inFlight;
  raw.batch = batch;

  if (flags.retries !== undefined)
    raw.retry = flags.retries === 0 ? false : { ...obj(raw.retry), retries: flags.retries };

  if (flags.groupBuckets) raw.groupBuckets = flags.groupBuckets;
  if (flags.bucketWrite) raw.bucketWrite = flags.bucketWrite;

  if (flags.dataset) raw.dataset = { ...obj(raw.dataset), name: flags.dataset };
  if (flags.datasetKeep !== undefined) {
    if (raw.dataset === undefined)
      throw new ConfigError('--dataset-keep needs --dataset (or dataset in the spec)');
    raw.dataset = { ...obj(raw.dataset), keep: flags.datasetKeep };
  }

  return parseImportSpec(raw, origin);
}
