import { z } from 'zod';
import { importSpecSchema } from '../config/index.js';
import { datasetPlanSchema } from '../dataset/index.js';

/**
 * The data that flows between import-start, the state machine, import-chunk and import-finish. Every shape is
 * a zod schema so each function checks what it receives at its edge (unknown keys are errors).
 */

const nonNegative = z.number().int().min(0);

/** A Redis server's identity (see `ServerIdentity` in shared/redis). */
export const serverIdentitySchema = z.strictObject({
  runId: z.string(),
  replId: z.string().optional(),
  uptimeSeconds: z.number().optional(),
});

/** The S3 object version an import is pinned to. */
export const sourceRefSchema = z.strictObject({
  bucket: z.string().min(1),
  key: z.string().min(1),
  /** As S3 sends it, with quotes. */
  etag: z.string().min(1),
  size: nonNegative,
});
export type SourceRef = z.output<typeof sourceRefSchema>;

export const chunkPlanSchema = z.strictObject({
  index: nonNegative,
  start: nonNegative,
  end: nonNegative,
  inQuoteAtStart: z.boolean(),
});

export const bucketParamsSchema = z.union([
  z.strictObject({
    scheme: z.literal('hash'),
    prefix: z.string(),
    keyPrefix: z.string(),
    bucketCount: z.number().int().min(1),
    fieldStrip: z.string().min(1).optional(),
  }),
  z.strictObject({
    scheme: z.literal('range'),
    prefix: z.string(),
    keyPrefix: z.string(),
    bucketSize: z.number().int().min(1),
  }),
]);

export const shardMemorySchema = z.strictObject({
  shard: z.string(),
  usedMemory: z.number(),
  maxMemory: z.number(),
});

/** How a grouped chunk sorts its records by bucket (see `GroupingPlan` in shared/grouping). */
export const groupingPlanSchema = z.strictObject({
  partitions: z.number().int().min(1),
  spillBytesPerRecord: z.number().min(0),
  tempBytes: z.number().min(0),
  recordsPerPartition: z.number().min(0),
});

/** What import-start hands the state machine (the execution input). */
export const importPlanSchema = z.strictObject({
  importId: z.string().min(1),
  source: sourceRefSchema,
  spec: importSpecSchema,
  /** Bucketed model: fixed once at the start so every chunk uses the same parameters. */
  buckets: bucketParamsSchema.nullable(),
  /** Inline mode: the chunks themselves. Distributed mode: empty; the Map reads `planObject`. */
  chunks: z.array(chunkPlanSchema),
  chunkCount: z.number().int().min(1),
  chunkBytes: z.number().int().min(1),
  /** Chunks loaded at once (the Map's MaxConcurrencyPath). */
  maxConcurrency: z.number().int().min(1),
  mode: z.enum(['inline', 'distributed']),
  /** Distributed mode: the JSON array of chunks in S3, read by the Map's ItemReader. */
  planObject: z.strictObject({ bucket: z.string(), key: z.string() }).nullable(),
  /** ISO time the import was requested (the S3 event's time). */
  requestedAt: z.string(),
  /** ISO time import-start planned it. */
  startedAt: z.string(),
  memoryBefore: z.array(shardMemorySchema),
  notes: z.array(z.string()),
  /**
   * 0 for the first run of the Map; import-finish hands the state machine a plan with `pass + 1` (inline, only
   * the chunks to load again) when a shard restarted after confirming chunks. @default 0
   */
  pass: z.number().int().min(0).default(0),
  /**
   * A `dataset` spec: the version the chunks write (`spec` already writes into it) and how import-finish cuts
   * over; a redrive or a re-run pass keeps it. @default null
   */
  dataset: datasetPlanSchema.nullable().default(null),
  /**
   * A bucketed load with grouped writes: each chunk is sorted by bucket in import-chunk's temp directory
   * and written one `HSET` per bucket. null: the chunks write record by record. @default null
   */
  grouping: groupingPlanSchema.nullable().default(null),
});
export type ImportPlan = z.output<typeof importPlanSchema>;

/** Counters and outcome of one chunk, summed over its invocations. Stored as its completion marker. */
export const chunkStatsSchema = z.strictObject({
  index: nonNegative,
  start: nonNegative,
  end: nonNegative,
  status: z.enum(['running', 'completed', 'failed']),
  read: nonNegative,
  written: nonNegative,
  rejected: nonNegative,
  skipped: nonNegative,
  unsettled: nonNegative,
  /** Pipeline retries inside the chunk (connection lost, server loading). */
  retries: nonNegative,
  /** Whole-invocation retries by Step Functions (`$$.State.RetryCount`, summed). */
  taskRetries: nonNegative,
  commandErrors: nonNegative,
  /**
   * Data commands this chunk sent to Redis over all its invocations, replays included (see `LoadCounts` in
   * load.ts). 0 in markers written before the count existed. @default 0
   */
  commands: nonNegative.default(0),
  /** Redis Cluster: the `MOVED`/`ASK` redirects followed while this chunk loaded (slots that moved). */
  redirects: z.strictObject({ moved: nonNegative, ask: nonNegative }).default({ moved: 0, ask: 0 }),
  /** Shard restarts or failovers seen while loading this chunk (each replayed the chunk's range). */
  serverResets: nonNegative.default(0),
  /**
   * Who each shard was (by `run_id`/`master_replid`, in shard order) when this chunk's writes were confirmed.
   * import-finish re-runs a chunk whose shards are no longer those servers: a restart may have lost its data.
   * `null` for a shard that refuses `INFO`.
   */
  servers: z.array(serverIdentitySchema.nullable()).default([]),
  /** Lambda invocations that returned (more than one when the chunk continued after a timeout). */
  invocations: nonNegative,
  durationMs: z.number().min(0),
  /** S3 keys of this chunk's rejects objects. */
  rejectsObjects: z.array(z.string()),
  error: z.strictObject({ name: z.string(), message: z.string() }).optional(),
});
export type ChunkStats = z.output<typeof chunkStatsSchema>;

/** Where a chunk stands between invocations. */
export const chunkProgressSchema = z.strictObject({
  status: z.enum(['continue', 'done', 'failed']),
  /** `continue`: where the next invocation starts (never inside quotes: it is a record boundary). */
  resume: z.strictObject({ offset: nonNegative, line: z.number().int().min(1).optional() }).optional(),
  /** The run found a completion marker and wrote nothing. */
  replayed: z.boolean().optional(),
  stats: chunkStatsSchema,
});
export type ChunkProgress = z.output<typeof chunkProgressSchema>;

/** A Step Functions error as a Catch hands it on. */
export const stateErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });
export type StateError = z.output<typeof stateErrorSchema>;

/** The state of one Map item: built by the Map's ItemSelector, then returned by every import-chunk call. */
export const chunkStateSchema = z.strictObject({
  importId: z.string().min(1),
  source: sourceRefSchema,
  spec: importSpecSchema,
  buckets: bucketParamsSchema.nullable(),
  chunk: chunkPlanSchema,
  /** The plan's `grouping`; absent or null: the chunk writes record by record. */
  grouping: groupingPlanSchema.nullable().optional(),
  progress: chunkProgressSchema.optional(),
  failure: stateErrorSchema.optional(),
});
export type ChunkState = z.output<typeof chunkStateSchema>;

/** The LoadChunk task's payload: the item state plus the retry count of this attempt. */
export const chunkTaskSchema = z.strictObject({
  state: chunkStateSchema,
  /** `$$.State.RetryCount`: 0 on the first attempt. @default 0 */
  attempt: nonNegative.default(0),
});
export type ChunkTask = z.input<typeof chunkTaskSchema>;

/** import-finish's input: the plan, plus the error the Map failed with, if it did. */
export const finishInputSchema = importPlanSchema.extend({
  failure: stateErrorSchema.optional(),
});
export type FinishInput = z.output<typeof finishInputSchema>;
