import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import type { ImportSpecInput } from './import-spec.js';

const MiB = 1024 * 1024;

/** Environment variables arrive as strings; an empty string counts as unset. */
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

function integer(min: number, max: number, fallback: number) {
  return z.preprocess(
    (v) => (v === undefined || v === '' ? fallback : Number(v)),
    z
      .number({ error: 'must be an integer' })
      .int('must be an integer')
      .min(min, `must be >= ${min}`)
      .max(max, `must be <= ${max}`),
  );
}

/** A share in (0, 1]; given as a fraction, e.g. `0.85`. */
function fraction(fallback: number) {
  return z.preprocess(
    (v) => (v === undefined || v === '' ? fallback : Number(v)),
    z
      .number({ error: 'must be a number in (0, 1], e.g. 0.85' })
      .gt(0, 'must be > 0 (a fraction, e.g. 0.85)')
      .max(1, 'must be <= 1 (a fraction, e.g. 0.85, not a percent)'),
  );
}

/** `true`/`false` (also `1`/`0`, any case); unset is `fallback`. Anything else is an error, not `false`. */
function flag(fallback: boolean) {
  return z.preprocess(
    (v) => (v === undefined || v === '' ? String(fallback) : typeof v === 'string' ? v.toLowerCase() : v),
    z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1'),
  );
}

const list = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(z.string(), { error: 'is required' }),
);

/**
 * A variable holding comma-separated redis:// or rediss:// URLs, one per shard, or one Upstash REST URL
 * (https://; every function's REDIS_URL).
 */
export const redisUrlList = z.preprocess(
  (v) => (v === '' ? undefined : v),
  list.pipe(z.array(z.string()).min(1, 'needs at least one redis:// or rediss:// URL')),
);

/** An allowlist entry: `bucket` or `bucket/prefix`. */
export interface AllowedSource {
  readonly bucket: string;
  readonly prefix: string;
}

const allowlist = z.preprocess(
  (v) => (v === '' ? undefined : v),
  list.pipe(
    z
      .array(z.string())
      .min(1, 'needs at least one bucket or bucket/prefix, e.g. "my-bucket/incoming/"')
      .transform((entries): AllowedSource[] =>
        entries.map((e) => {
          const slash = e.indexOf('/');
          return slash === -1
            ? { bucket: e, prefix: '' }
            : { bucket: e.slice(0, slash), prefix: e.slice(slash + 1) };
        }),
      ),
  ),
);

const defaultSpec = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string()
    .optional()
    .transform((text, ctx): Partial<ImportSpecInput> | undefined => {
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as Partial<ImportSpecInput>;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    }),
);

/**
 * `REDIS_CLUSTER`: `auto` (default) asks the server (`INFO cluster`); `true` says REDIS_URL is a seed node of
 * a Redis Cluster, `false` a standalone server.
 */
export const redisCluster = z
  .enum(['auto', 'true', 'false'], { error: 'must be auto, true or false' })
  .default('auto')
  .transform((v) => (v === 'auto' ? ('auto' as const) : v === 'true'));

/** Settings every import function shares: where Redis and the S3 objects are. */
const common = {
  /** Comma-separated redis:// or rediss:// URLs, one per shard (or one node of a Redis Cluster). */
  REDIS_URL: redisUrlList,
  REDIS_CLUSTER: redisCluster,
  /** Applied to URLs without credentials (e.g. from Secrets Manager through the environment). */
  REDIS_USERNAME: optionalText,
  REDIS_PASSWORD: optionalText,
  /** The token of an Upstash REST `REDIS_URL` (or from `UPSTASH_TOKEN_SECRET_ARN`). */
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  /** Bucket for reports, rejects and plans. */
  REPORT_BUCKET: z.string({ error: 'is required' }).min(1, 'is required'),
  /** @default 'reports/' */
  REPORT_PREFIX: z.string().default('reports/'),
  /** @default 'rejects/' */
  REJECTS_PREFIX: z.string().default('rejects/'),
  /** Custom S3 endpoint (s3rver, MinIO); path-style addressing is used with it. */
  S3_ENDPOINT: optionalText,
  /** Prefix of the per-chunk completion markers in Redis. @default 'rbl:import:' */
  MARKER_PREFIX: z.string().min(1).default('rbl:import:'),
  /** Time allowed for connecting to a shard (TCP, TLS, AUTH). @default 5000 */
  REDIS_CONNECT_TIMEOUT_MS: integer(100, 120_000, 5_000),
  /**
   * Longest wait for a pipeline's replies before the connection counts as lost (a hung server). Keep it well
   * under import-chunk's TIMEOUT_MARGIN_MS, so a chunk stuck on a hung shard still returns a continuation
   * before its Lambda is stopped. @default 10000
   */
  REDIS_COMMAND_TIMEOUT_MS: integer(100, 600_000, 10_000),
};

/** Environment of `import-start`. */
export const startEnvSchema = z.strictObject({
  ...common,
  /** ARN of the import state machine. */
  STATE_MACHINE_ARN: z.string({ error: 'is required' }).min(1, 'is required'),
  /** Comma-separated `bucket` or `bucket/prefix` entries; objects elsewhere are refused. */
  ALLOWED_SOURCES: allowlist,
  /** Largest object accepted. @default 107374182400 (100 GiB) */
  MAX_OBJECT_BYTES: integer(1, Number.MAX_SAFE_INTEGER, 100 * 1024 * MiB),
  /** Bytes per chunk. @default 67108864 (64 MiB) */
  CHUNK_BYTES: integer(1, 5 * 1024 * MiB, 64 * MiB),
  /**
   * Bytes per chunk of a bucketed load with grouped writes (`groupBuckets`): each chunk is sorted by bucket in
   * import-chunk's /tmp and written one `HSET` per bucket, so the fewer the chunks the fewer the commands.
   * Capped so that a chunk's spill fits CHUNK_TEMP_MIB. @default 1073741824 (1 GiB)
   */
  GROUPED_CHUNK_BYTES: integer(64 * 1024, 5 * 1024 * MiB, 1024 * MiB),
  /** import-chunk's /tmp (its `ephemeralStorageSize`), in MiB: the room a grouped chunk's spill has. @default 512 */
  CHUNK_TEMP_MIB: integer(512, 10_240, 512),
  /** Chunks loaded at once. @default 10 */
  MAX_CONCURRENCY: integer(1, 10_000, 10),
  /** From this many chunks on, the Map runs in distributed mode (plan in S3). @default 200 */
  DISTRIBUTED_MIN_CHUNKS: integer(1, Number.MAX_SAFE_INTEGER, 200),
  /** Deployment default import spec (JSON); a sidecar `<key>.import.json` overrides its top-level fields. */
  DEFAULT_SPEC: defaultSpec,
  /** @default 'plans/' */
  PLAN_PREFIX: z.string().default('plans/'),
  /**
   * Share of a shard's maxmemory the memory pre-flight lets a load reach (projected) before it refuses the
   * import. A fraction, not a percent. @default 0.85
   */
  MEMORY_LIMIT: fraction(0.85),
  /**
   * Start imports the memory pre-flight refuses (it then only logs and notes the refusal). An operator decision:
   * a sidecar spec cannot set it. @default false
   */
  PREFLIGHT_FORCE: flag(false),
});

/** Environment of `import-chunk`. */
export const chunkEnvSchema = z.strictObject({
  ...common,
  /** Time kept back before the Lambda timeout: the chunk stops at a batch boundary this early. @default 30000 */
  TIMEOUT_MARGIN_MS: integer(0, 15 * 60_000, 30_000),
  /** Lifetime of a completion marker. @default 604800 (7 days) */
  MARKER_TTL_SECONDS: integer(60, 365 * 86_400, 7 * 86_400),
  /** Rejects buffered in memory before they go to S3 as a multipart upload. @default 8388608 (8 MiB) */
  REJECTS_BUFFER_BYTES: integer(5 * MiB, 512 * MiB, 8 * MiB),
  /** Where a grouped chunk keeps its spill. @default the system's temp directory (/tmp on Lambda) */
  TEMP_DIR: optionalText,
  /**
   * The temp directory is this invocation's alone (Lambda: one invocation per container at a time): a grouped
   * chunk first removes the spills other chunks left there, so they cannot fill it. @default false
   */
  EXCLUSIVE_TEMP: flag(false),
});

/** Environment of `import-finish`. */
export const finishEnvSchema = z.strictObject({
  ...common,
  /**
   * US dollars per 100,000 commands: the report estimates the bill for the commands the import sent. Unset:
   * Upstash's list price ($0.20) when REDIS_URL is an `http(s)://` (Upstash REST) URL, otherwise no bill.
   */
  PRICE_PER_100K: z.preprocess(
    (v) => (v === undefined || v === '' ? undefined : Number(v)),
    z.number({ error: 'must be a number of US dollars, e.g. 0.2' }).min(0, 'must be >= 0').optional(),
  ),
});

/** `s3://bucket/prefix/` → bucket and prefix. */
const s3Location = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must look like s3://bucket/prefix/')
    .transform((text) => {
      const rest = text.slice('s3://'.length);
      const slash = rest.indexOf('/');
      return slash === -1
        ? { bucket: rest, prefix: '' }
        : { bucket: rest.slice(0, slash), prefix: rest.slice(slash + 1) };
    })
    .optional(),
);

/** Environment of `kafka-consumer`. */
export const consumerEnvSchema = z.strictObject({
  REDIS_URL: redisUrlList,
  REDIS_CLUSTER: redisCluster,
  REDIS_USERNAME: optionalText,
  REDIS_PASSWORD: optionalText,
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  REDIS_CONNECT_TIMEOUT_MS: common.REDIS_CONNECT_TIMEOUT_MS,
  REDIS_COMMAND_TIMEOUT_MS: common.REDIS_COMMAND_TIMEOUT_MS,
  S3_ENDPOINT: optionalText,
  /** The consumer spec as JSON, or the path of a JSON file (see `consumerSpecSchema`). */
  CONSUMER_SPEC: z
    .string({ error: 'is required (the consumer spec as JSON, or a file path)' })
    .min(1, 'is required'),
  /**
   * The event-source mapping's consumer group id. Part of every watermark key: two mappings with different
   * groups on one topic each apply every record once. Required: the Kafka event does not carry it.
   */
  CONSUMER_GROUP_ID: z
    .string({ error: "is required (the mapping's consumer group id)" })
    .min(1, 'is required'),
  /** Prefix of the watermark keys. @default 'rbl:wm:' */
  WATERMARK_PREFIX: z.string().min(1).default('rbl:wm:'),
  /** Kafka topic for dead letters (kafkajs producer). */
  DEAD_LETTER_TOPIC: optionalText,
  /** `s3://bucket/prefix/` for dead letters, one JSONL object per batch. */
  DEAD_LETTER_S3: s3Location,
  /** Brokers of the dead-letter producer (comma-separated); default: the event's bootstrap servers. */
  KAFKA_BROKERS: z.preprocess((v) => (v === '' ? undefined : v), list.optional()),
  /** SASL mechanism of the dead-letter producer. */
  KAFKA_SASL_MECHANISM: z.preprocess(
    (v) => (v === '' ? undefined : typeof v === 'string' ? v.toLowerCase() : v),
    z
      .enum(['plain', 'scram-sha-256', 'scram-sha-512'], {
        error: 'must be plain, scram-sha-256 or scram-sha-512',
      })
      .optional(),
  ),
  KAFKA_SASL_USERNAME: optionalText,
  KAFKA_SASL_PASSWORD: optionalText,
  /** TLS to the brokers of the dead-letter producer. @default false */
  KAFKA_TLS: flag(false),
  /** Header carrying the trace id into logs and dead letters. @default 'traceparent' */
  TRACE_HEADER: z.string().min(1).default('traceparent'),
  /** Time kept back before the Lambda timeout: retries stop this early and the tail is reported failed. @default 10000 */
  TIMEOUT_MARGIN_MS: integer(0, 15 * 60_000, 10_000),
});

export type ConsumerEnv = z.output<typeof consumerEnvSchema>;

export type StartEnv = z.output<typeof startEnvSchema>;
export type ChunkEnv = z.output<typeof chunkEnvSchema>;
export type FinishEnv = z.output<typeof finishEnvSchema>;

/**
 * Picks the variables `schema` knows from `env` (others, like `AWS_REGION`, are ignored) and validates them.
 * Throws a {@link ConfigError} naming every missing or invalid variable.
 *
 * @example
 * const env = parseEnv(chunkEnvSchema, process.env); // once, at cold start
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const picked: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) picked[name] = env[name];
  // Upstash's own name for its REST URL stands in for REDIS_URL.
  if ('REDIS_URL' in schema.shape && !picked.REDIS_URL && env.UPSTASH_REDIS_REST_URL)
    picked.REDIS_URL = env.UPSTASH_REDIS_REST_URL;
  const result = schema.safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(environment)'} ${issue.message}`,
    );
    throw new ConfigError(`environment variable ${problems.join('; ')}`);
  }
  return result.data;
}
