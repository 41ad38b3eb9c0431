import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { bucketLayout, fieldName, keyTemplate, limits, retry, ttl } from './import-spec.js';
import { formatZodError, specErrorMap } from './spec-errors.js';

/**
 * How a Kafka record's value is read. `json`: a JSON object whose fields feed the key template and the model.
 * `string`: the value as UTF-8 text, available as the field `$value`.
 */
const valueFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('json') }),
  z.strictObject({ type: z.literal('string') }),
]);

const stringModel = z.strictObject({
  type: z.literal('string'),
  /** Field whose value is stored, or fields stored as a JSON object. @default '$value' */
  value: z.union([fieldName, z.array(fieldName).min(1)]).default('$value'),
});

const hashModel = z.strictObject({
  type: z.literal('hash'),
  /** Fields written into the hash. @default every field of the value */
  fields: z.array(fieldName).min(1).optional(),
  /** What a JSON `null` becomes: left out of the write, or an empty string. @default 'skip' */
  nulls: z.enum(['skip', 'empty']).default('skip'),
});

const bucketedModel = z.strictObject({
  type: z.literal('bucketed'),
  /** Field whose value is stored in the bucket. @default '$value' */
  value: fieldName.default('$value'),
  ...bucketLayout,
});

const counterModel = z.strictObject({
  type: z.literal('counter'),
  /** Numeric field (an integer) added to the counter: `INCRBY key n`. */
  by: fieldName,
  /** Keep the counters as fields of buckets (`HINCRBY bucket field n`) instead of one key each. @default false */
  buckets: z.union([z.literal(false), z.strictObject(bucketLayout)]).default(false),
});

/** A value field that can mark a record as a deletion (besides a tombstone, which always deletes). */
const op = z.strictObject({
  /** The field holding the operation, e.g. `op`. */
  field: fieldName,
  /** Values of that field that mean "delete the key". @default ['delete'] */
  delete: z.array(z.string().min(1)).min(1).default(['delete']),
});

const batch = z.strictObject({
  /**
   * Records per atomic unit (one script call per shard and partition): bounds how long Redis runs one script.
   * @default 500
   */
  maxRecords: z.number().int().min(1).max(100_000).default(500),
  /** Approximate bytes per atomic unit. @default 1048576 */
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
});

/**
 * The consumer spec: how Kafka records become Redis writes. The same family as the import spec (strict
 * objects, documented defaults); `CONSUMER_SPEC` and `consume --spec` hold one.
 *
 * Fields the key template and the model can read: the value's own fields (`json`), and `$key` (the Kafka key
 * as UTF-8), `$value` (the value as UTF-8), `$topic`, `$partition`, `$offset`, `$timestamp`.
 */
export const consumerSpecSchema = z.strictObject({
  /** @default { type: 'json' } */
  format: valueFormat.default({ type: 'json' }),
  /** Key template, e.g. `user:{id}` or `flag:{$key}`. */
  key: keyTemplate,
  model: z.discriminatedUnion('type', [stringModel, hashModel, bucketedModel, counterModel]),
  /** @default false */
  ttl: ttl.default(false),
  /** A value field that may say `delete`. @default none: only tombstones delete */
  op: op.optional(),
  limits: limits.default(limits.parse({})),
  /**
   * Keep a watermark per (group, topic, partition) on each shard, advanced atomically with the writes (a script or a transaction),
   * so redelivered records are skipped (exactly-once effect). `false` writes at least once (a redelivered
   * `counter` record is added again). @default true
   */
  watermarks: z.boolean().default(true),
  batch: batch.default(batch.parse({})),
  /** Retries of a transient Redis failure inside one invocation, before the tail is reported failed. */
  retry: retry.default({ retries: 3, baseMs: 100, maxMs: 2_000 }),
});

/** A validated consumer spec with every default filled in. */
export type ConsumerSpec = z.output<typeof consumerSpecSchema>;
/** What a user writes: defaults may be left out. */
export type ConsumerSpecInput = z.input<typeof consumerSpecSchema>;
export type ConsumerModel = ConsumerSpec['model'];

/**
 * Validates a consumer spec (unknown keys are errors) and fills in the defaults. Throws a {@link ConfigError}
 * naming every problem with its path, prefixed with `origin` (e.g. `CONSUMER_SPEC`).
 *
 * @example
 * const spec = parseConsumerSpec({ key: 'user:{id}', model: { type: 'counter', by: 'clicks' } });
 */
export function parseConsumerSpec(input: unknown, origin = 'consumer spec'): ConsumerSpec {
  const result = consumerSpecSchema.safeParse(input, { error: specErrorMap });
  if (!result.success) throw new ConfigError(`${origin} is invalid: ${formatZodError(result.error)}`);
  const spec = result.data;
  const layout =
    spec.model.type === 'bucketed'
      ? spec.model
      : spec.model.type === 'counter' && spec.model.buckets !== false
        ? spec.model.buckets
        : undefined;
  if (layout?.scheme === 'range' && layout.bucketCount !== undefined) {
    const path = spec.model.type === 'bucketed' ? 'model.bucketCount' : 'model.buckets.bucketCount';
    throw new ConfigError(`${origin} is invalid: ${path}: only the hash scheme takes a bucket count`);
  }
  if (spec.format.type === 'string') {
    const reads =
      spec.model.type === 'hash'
        ? (spec.model.fields ?? [])
        : spec.model.type === 'counter'
          ? [spec.model.by]
          : typeof spec.model.value === 'string'
            ? [spec.model.value]
            : spec.model.value;
    const bad = reads.find((f) => !f.startsWith('$'));
    if (spec.model.type === 'hash' && spec.model.fields === undefined) {
      throw new ConfigError(
        `${origin} is invalid: model.fields: a string value has no fields of its own; name them (e.g. ["$value"])`,
      );
    }
    if (bad !== undefined) {
      throw new ConfigError(
        `${origin} is invalid: model: field '${bad}' cannot be read from a string value (format.type is 'string'); ` +
          `use $value, $key, $topic, $partition, $offset or $timestamp, or format.type 'json'`,
      );
    }
  }
  return spec;
}

/**
 * Reads a consumer spec from `CONSUMER_SPEC`: JSON text (starting with `{`), or the path of a JSON file.
 *
 * @example
 * const spec = await loadConsumerSpec(process.env.CONSUMER_SPEC, 'CONSUMER_SPEC');
 */
export async function loadConsumerSpec(
  text: string | undefined,
  origin = 'CONSUMER_SPEC',
): Promise<ConsumerSpec> {
  if (text === undefined || text.trim() === '')
    throw new ConfigError(`${origin} is required: a consumer spec as JSON, or the path of a JSON file`);
  let source = text.trim();
  let where = origin;
  if (!source.startsWith('{')) {
    const { readFile } = await import('node:fs/promises');
    where = `${origin} (${source})`;
    try {
      source = await readFile(source, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `${where}: cannot read the spec file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  let input: unknown;
  try {
    input = JSON.parse(source);
  } catch (err) {
    throw new ConfigError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConsumerSpec(input, where);
}
