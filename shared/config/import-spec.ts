import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { formatZodError, specErrorMap } from './spec-errors.js';

/** A record field name (also used by the consumer spec). */
export const fieldName = z.string().min(1, 'a field name cannot be empty');

const csvFormat = z.strictObject({
  type: z.literal('csv'),
  /** Column names; omit to read them from the file's first line. */
  columns: z.array(fieldName).min(1).optional(),
  /** @default ',' */
  delimiter: z.string().length(1, 'delimiter must be exactly one character').default(','),
  /** @default '"' */
  quote: z.string().length(1, 'quote must be exactly one character').default('"'),
  /** Quoted fields may contain raw newlines. @default true */
  multiline: z.boolean().default(true),
});

const jsonlFormat = z.strictObject({ type: z.literal('jsonl') });

/**
 * What is wrong with a key template, or undefined. The same walk as `compileTemplate` (mapping), which this
 * module cannot import: a spec accepted here must compile there, or a bad template would pass the cold start
 * and fail every record instead.
 */
function templateProblem(t: string): string | undefined {
  let fields = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if ((c === '{' || c === '}') && t[i + 1] === c) {
      i++;
    } else if (c === '{') {
      const close = t.indexOf('}', i);
      if (close === -1) return `key template has an unclosed "{" at position ${i}`;
      if (t.slice(i + 1, close).trim() === '') return 'key template has an empty {} placeholder';
      fields++;
      i = close;
    } else if (c === '}') {
      return `key template has an unmatched "}" at position ${i} (write "}}" for a literal brace)`;
    }
  }
  return fields === 0 ? 'key template needs at least one {field} placeholder, e.g. "user:{id}"' : undefined;
}

/**
 * Key template: literal text with `{field}` placeholders, e.g. `user:{id}` or `order:{shop}:{id}`; `{{` and `}}`
 * are literal braces.
 */
export const keyTemplate = z
  .string()
  .min(1, 'key template cannot be empty')
  .superRefine((t, ctx) => {
    const problem = templateProblem(t);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Value of a string key: one field's value, or several fields as a JSON object. */
const stringModel = z.strictObject({
  type: z.literal('string'),
  /** Field whose value is stored, or a list of fields stored as a JSON object. */
  value: z.union([fieldName, z.array(fieldName).min(1)]),
});

const hashModel = z.strictObject({
  type: z.literal('hash'),
  /** Fields written into the hash. @default every field of the record */
  fields: z.array(fieldName).min(1).optional(),
  /** What a JSON `null` (or missing field) becomes: left out of the hash, or an empty string. @default 'skip' */
  nulls: z.enum(['skip', 'empty']).default('skip'),
});

/**
 * How a bucketed dataset lays out its keys (shared with the consumer spec, which writes into the same datasets):
 * - `scheme` `hash`: bucket = fnv1a32(key) mod bucketCount, field = key without the template's literal prefix;
 *   `range`: the key's suffix must be a non-negative integer id; bucket = floor(id / bucketSize), field = id mod
 *   bucketSize. @default 'hash'
 * - `bucketSize`: target fields per bucket (the mean for `hash`, the exact range for `range`). @default 100
 * - `bucketCount`: `hash` scheme only; an import derives it from estimated rows / bucketSize at the first load,
 *   and an existing dataset's `<prefix>meta` wins.
 * - `prefix`: of bucket keys; default: the key template's literal prefix + `bkt:` (e.g. `user:bkt:`).
 */
export const bucketLayout = {
  scheme: z.enum(['hash', 'range']).default('hash'),
  bucketSize: z.number().int().min(1).max(100_000).default(100),
  bucketCount: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31)
    .optional(),
  prefix: z.string().min(1).optional(),
};

const bucketedModel = z.strictObject({
  type: z.literal('bucketed'),
  /** Field whose value is stored in the bucket. */
  value: fieldName,
  ...bucketLayout,
});

/** `false`, or seconds with a jitter percentage (shared with the consumer spec). */
export const ttl = z.union([
  z.literal(false),
  z.strictObject({
    /** Time to live in seconds. */
    seconds: z.number().int().min(1),
    /** Spread expiries: each key gets seconds + up to this percentage more, fixed per key. @default 0 */
    jitterPercent: z.number().min(0).max(100).default(0),
  }),
]);

/** Key, value and record size limits (shared with the consumer spec). */
export const limits = z.strictObject({
  /** Longest key accepted, in bytes. @default 1024 */
  maxKeyBytes: z
    .number()
    .int()
    .min(1)
    .max(512 * 1024 * 1024)
    .default(1024),
  /** Longest value accepted, in bytes. @default 1048576 */
  maxValueBytes: z
    .number()
    .int()
    .min(1)
    .max(512 * 1024 * 1024)
    .default(1024 * 1024),
  /** Longest source record, in bytes; longer ones are rejected and the reader resynchronises. @default 4194304 */
  maxRecordBytes: z
    .number()
    .int()
    .min(64)
    .max(256 * 1024 * 1024)
    .default(4 * 1024 * 1024),
});

const rejectBudget = z.strictObject({
  /** Share of read records that may be rejected before the load stops as fatal. @default 0.01 */
  fraction: z.number().min(0).max(1).default(0.01),
  /**
   * The fraction is enforced only once this many records were read — during the load and at its end alike, so
   * a small file with a few bad lines completes with those lines rejected. @default 1000
   */
  minRecords: z.number().int().min(0).default(1000),
});

const batch = z.strictObject({
  /** Commands per pipeline. @default 2000 */
  maxCommands: z.number().int().min(1).max(100_000).default(2000),
  /** Approximate bytes per pipeline. @default 2097152 */
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .default(2 * 1024 * 1024),
  /** Pipelines in flight per shard. @default 4 */
  inFlight: z.number().int().min(1).max(256).default(4),
});

/** `false`, or retries with exponential backoff and full jitter (shared with the consumer spec). */
export const retry = z.union([
  z.literal(false),
  z.strictObject({
    /** @default 8 */
    retries: z.number().int().min(0).max(100).default(8),
    /** @default 100 */
    baseMs: z.number().int().min(1).default(100),
    /** @default 10000 */
    maxMs: z.number().int().min(1).default(10_000),
  }),
]);

/** One part of a dataset name: letters, digits, `_`, `.`, `-`. */
const DATASET_NAME_PART = /^[A-Za-z0-9_.-]+$/;

/**
 * What is wrong with a dataset name, or undefined. The name starts every key of the dataset (`<name>:v3:…`) and
 * is matched by `SCAN MATCH <name>:v3:*` when a version expires, so it may not hold glob characters, spaces or
 * braces (a `{…}` would be a Redis Cluster hash tag and pin the whole dataset to one slot), and no part of it
 * may read as a version (`v3`), or one dataset's versions would match another's.
 */
function datasetNameProblem(name: string): string | undefined {
  const rule = "letters, digits, '_', '.' and '-', in parts separated by single ':'";
  for (const part of name.split(':')) {
    if (part === '') return `a dataset name has no empty parts (leading, trailing or double ':'): ${rule}`;
    if (!DATASET_NAME_PART.test(part)) {
      const bad = [...part].find((c) => !/[A-Za-z0-9_.-]/.test(c))!;
      const why = /[{}]/.test(bad)
        ? ' (a brace would make a Redis Cluster hash tag, pinning the whole dataset to one slot)'
        : '';
      return `a dataset name is ${rule}; ${JSON.stringify(bad)} is not allowed${why}`;
    }
    if (/^v[0-9]+$/.test(part)) return `no part of a dataset name may look like a version ("${part}")`;
  }
  return undefined;
}

/**
 * Atomic dataset cutover: every load goes into a fresh version `<name>:v<n>:…` (the string and hash models'
 * keys, the bucketed model's buckets and their meta hash), and `<name>:current` is flipped to it only at the
 * end of a load that succeeded; then the versions older than the `keep` newest are expired.
 */
export const datasetSpec = z.strictObject({
  /** The dataset's name, the first part of all its keys (`users`, `app:users`). */
  name: z
    .string()
    .min(1, 'a dataset name cannot be empty')
    .max(100, 'a dataset name has at most 100 characters')
    .superRefine((name, ctx) => {
      const problem = datasetNameProblem(name);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** Versions kept after a cutover, the new current one included (2: the previous one stays for a rollback). @default 2 */
  keep: z.number().int().min(1).max(100).default(2),
  /**
   * Whether a load that rejected records (PARTIAL; it stayed within `rejectBudget`, or it would have failed)
   * still flips `current`. @default false
   */
  allowPartial: z.boolean().default(false),
  /**
   * With `allowPartial`: the largest share of records read that may have been rejected for the cutover to
   * happen. @default rejectBudget.fraction
   */
  maxRejectedFraction: z.number().min(0).max(1).optional(),
  /**
   * Versions past `keep` get this many seconds to live (`EXPIRE`), so a reader that resolved the old version a
   * moment before the cutover still finishes its read; 0 removes them at once (`UNLINK`). @default 60
   */
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(60),
});

/** The import spec: what to read, how to turn records into Redis data, and the safety limits. */
export const importSpecSchema = z.strictObject({
  format: z.discriminatedUnion('type', [csvFormat, jsonlFormat]),
  key: keyTemplate,
  model: z.discriminatedUnion('type', [stringModel, hashModel, bucketedModel]),
  /** @default false */
  ttl: ttl.default(false),
  limits: limits.default(limits.parse({})),
  rejectBudget: rejectBudget.default(rejectBudget.parse({})),
  batch: batch.default(batch.parse({})),
  retry: retry.default(retry.parse({})),
  /**
   * Grouped bucket writes, for the bucketed model: the records are first sorted by bucket into spill
   * partitions, then every bucket is written with one multi-field `HSET` (and one `EXPIRE`). `auto` groups a
   * hash-scheme load from `GROUP_AUTO_MIN_ROWS` estimated rows on, and a range-scheme load whose source is not
   * sorted by id; `on` always groups a bucketed load; `off` never does. @default 'auto'
   */
  groupBuckets: z.enum(['auto', 'on', 'off']).default('auto'),
  /**
   * How grouped writes write a bucket. `hset`: one multi-field `HSET` (merged into whatever the key holds).
   * `restore`: the whole bucket built client-side as the listpack Redis itself would build, written with
   * `RESTORE key ttl payload REPLACE` (Redis 7.0 or later, checked before the first write; the bucket key ends
   * with exactly this load's fields, whatever it held before). `auto`: `restore` when the load writes a fresh
   * dataset version (no other writer has its keys), else `hset`. A server that cannot take the payload gets
   * `HSET`, with the reason in the summary. @default 'auto'
   */
  bucketWrite: z.enum(['auto', 'hset', 'restore']).default('auto'),
  /** Load into a fresh version of a named dataset and cut over at the end (see {@link datasetSpec}). */
  dataset: datasetSpec.optional(),
});

/** A validated import spec with every default filled in. */
export type ImportSpec = z.output<typeof importSpecSchema>;
/** What a user writes: defaults may be left out. */
export type ImportSpecInput = z.input<typeof importSpecSchema>;
export type ModelSpec = ImportSpec['model'];
export type TtlSpec = ImportSpec['ttl'];
export type LimitsSpec = ImportSpec['limits'];
export type BatchSpec = ImportSpec['batch'];
/** The `dataset` option of a spec, defaults filled in. */
export type DatasetSpec = z.output<typeof datasetSpec>;
/** Whether a bucketed load writes grouped: see `groupBuckets` of {@link importSpecSchema}. */
export type GroupBucketsMode = ImportSpec['groupBuckets'];
/** How grouped writes write a bucket: see `bucketWrite` of {@link importSpecSchema}. */
export type BucketWriteMode = ImportSpec['bucketWrite'];

/**
 * Validates an import spec (unknown keys are errors, so typos fail loudly) and fills in the defaults.
 * Throws {@link ConfigError} naming every problem, prefixed with `origin` (e.g. the spec file's path): each
 * with its full path, the expected type and what was given, and for an unknown key the closest allowed one
 * (`ttl.seconds: expected a number, got the string "86400"; model.valu: unknown key; did you mean value?`).
 *
 * @example
 * const spec = parseImportSpec({ format: { type: 'csv' }, key: 'user:{id}', model: { type: 'string', value: 'score' } });
 */
export function parseImportSpec(input: unknown, origin = 'import spec'): ImportSpec {
  const result = importSpecSchema.safeParse(input, { error: specErrorMap });
  if (!result.success) throw new ConfigError(`${origin} is invalid: ${formatZodError(result.error)}`);
  const spec = result.data;
  if (
    spec.model.type === 'bucketed' &&
    spec.model.scheme === 'range' &&
    spec.model.bucketCount !== undefined
  ) {
    throw new ConfigError(
      `${origin} is invalid: model.bucketCount: only the hash scheme takes a bucket count`,
    );
  }
  if (spec.bucketWrite === 'restore' && (spec.model.type !== 'bucketed' || spec.groupBuckets === 'off')) {
    throw new ConfigError(
      `${origin} is invalid: bucketWrite: 'restore' writes whole buckets of grouped writes; it needs the bucketed model and groupBuckets 'auto' or 'on'`,
    );
  }
  if (spec.groupBuckets === 'on' && spec.model.type !== 'bucketed') {
    throw new ConfigError(
      `${origin} is invalid: groupBuckets: 'on' groups the buckets of the bucketed model; the ${spec.model.type} model has none`,
    );
  }
  if (spec.dataset?.maxRejectedFraction !== undefined && !spec.dataset.allowPartial) {
    throw new ConfigError(
      `${origin} is invalid: dataset.maxRejectedFraction: applies only with dataset.allowPartial: true`,
    );
  }
  return spec;
}
