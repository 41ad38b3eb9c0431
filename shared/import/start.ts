import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { type ImportSpec, type ImportSpecInput, parseImportSpec, type StartEnv } from '../config/index.js';
import { compileTemplate } from '../mapping/index.js';
import { type GroupingPlan, planGrouping } from '../grouping/index.js';
import { classifyError, ConfigError, PreflightRefusedError, SourceChangedError } from '../errors/index.js';
import { formatBytes, type PreflightReport, type SourceSample } from '../memory/index.js';
import { type S3ObjectInfo, S3Source } from '../records/index.js';
import type { Target } from '../redis/index.js';
import type { ShardMemory } from './memory.js';
import { planChunks } from './plan.js';
import { pingTargets } from './preflight.js';
import { type PreparedImport, prepareImport } from './prepare.js';
import { planInputKey } from './redrive.js';
import { buildReport, reportKey } from './report.js';
import { getText, putJson } from './s3-objects.js';
import type { ImportPlan } from './schemas.js';

/** An object to import, as an S3 event names it. */
export interface StartRequest {
  readonly bucket: string;
  /** Decoded (S3 notifications URL-encode keys; the edge decodes them). */
  readonly key: string;
  /** The event's ETag, when it has one: a HEAD that finds another version means the event is stale. */
  readonly etag?: string;
  /** ISO time of the event. */
  readonly eventTime: string;
  /**
   * A run token (`trigger --force-new`): a new import of the same object version, under the import id
   * `<id>-<run>`, instead of finding the earlier execution.
   */
  readonly run?: string;
  /**
   * Why the event's record cannot name an object, when it cannot (its key is not valid URL encoding; `key`
   * is then the key as the event sent it). {@link startImport} refuses such a request with a FAILED report.
   */
  readonly invalid?: string;
}

/** Starts state machine executions by name, at most once per name. */
export interface ExecutionStarter {
  /** The execution ARN when an execution of this name exists (running or finished), else undefined. */
  find(name: string): Promise<string | undefined>;
  /** Starts one; `started: false` when an execution of that name already existed. */
  start(name: string, input: ImportPlan): Promise<{ started: boolean; executionArn: string }>;
}

/** Settings of import-start (the parsed environment). */
export type StartSettings = Pick<
  StartEnv,
  | 'ALLOWED_SOURCES'
  | 'MAX_OBJECT_BYTES'
  | 'CHUNK_BYTES'
  | 'GROUPED_CHUNK_BYTES'
  | 'CHUNK_TEMP_MIB'
  | 'MAX_CONCURRENCY'
  | 'DISTRIBUTED_MIN_CHUNKS'
  | 'DEFAULT_SPEC'
  | 'REPORT_BUCKET'
  | 'REPORT_PREFIX'
  | 'PLAN_PREFIX'
  | 'MEMORY_LIMIT'
  | 'PREFLIGHT_FORCE'
>;

/** What starting an import needs. */
export interface StartDeps {
  readonly s3: S3Client;
  readonly targets: readonly Target[];
  readonly starter: ExecutionStarter;
  readonly settings: StartSettings;
  /** @default console.log */
  readonly log?: (line: string) => void;
}

/** What happened to one object. */
export type StartOutcome =
  | { status: 'started'; importId: string; executionArn: string; chunks: number; mode: ImportPlan['mode'] }
  | { status: 'duplicate'; importId: string; executionArn: string }
  | { status: 'refused'; importId: string; reason: string; report: string }
  | { status: 'ignored'; reason: string };

/** Suffix of sidecar spec objects: `<key>.import.json` configures the import of `<key>`. */
export const SIDECAR_SUFFIX = '.import.json';

/**
 * The import id (and execution name) of one object version: readable, at most 80 characters of
 * `[A-Za-z0-9_-]`, and the same for the same bucket, key and ETag — so a duplicate event finds the execution.
 *
 * @example
 * importIdFor('b', 'incoming/users.csv', '"9b2c…"'); // 'users-csv-3f9a0c1d2e4b5a69'
 */
export function importIdFor(bucket: string, key: string, etag: string, run?: string): string {
  const hash = createHash('sha256').update(`${bucket}\n${key}\n${etag}`).digest('hex').slice(0, 16);
  const base = (key.split('/').pop() ?? key).replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 48);
  // A run token of at most 12 characters keeps the name within Step Functions' 80.
  return `${base.replace(/^-+|-+$/g, '') || 'object'}-${hash}${run === undefined ? '' : `-${run}`}`;
}

/** The format a key's extension implies, or undefined. */
export function formatFromKey(key: string): ImportSpecInput['format'] | undefined {
  const name = key.toLowerCase();
  if (name.endsWith('.csv')) return { type: 'csv' };
  if (name.endsWith('.tsv')) return { type: 'csv', delimiter: '\t' };
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return { type: 'jsonl' };
  return undefined;
}

/** Thrown inside {@link startImport} for an object that must not be imported; becomes a FAILED report. */
class Refusal extends Error {}

/**
 * Why `s3://bucket/key` is outside `allowed`, or undefined when an entry covers it. A key with a `..` segment
 * is never covered: S3 keys are plain strings, but a prefix check must not be passed by a key that reads as
 * leaving its prefix (`incoming/../secret/x.csv`) to whatever later treats keys as paths.
 *
 * @example
 * outsideAllowlist([{ bucket: 'data', prefix: 'incoming/' }], 'data', 'incoming/../x.csv');
 * // 's3://data/incoming/../x.csv is outside the allowed sources: its key has a ".." path segment'
 */
export function outsideAllowlist(
  allowed: StartSettings['ALLOWED_SOURCES'],
  bucket: string,
  key: string,
): string | undefined {
  const where = `s3://${bucket}/${key} is outside the allowed sources`;
  if (key.split('/').includes('..')) return `${where}: its key has a ".." path segment`;
  return allowed.some((a) => a.bucket === bucket && key.startsWith(a.prefix)) ? undefined : where;
}

/** {@link pingTargets} for import-start: a shard that refuses us (credentials, config) refuses the object. */
async function refuseUnlessRetryable(targets: readonly Target[]): Promise<void> {
  try {
    await pingTargets(targets);
  } catch (err) {
    const e = classifyError(err);
    if (e.retryable) throw e;
    throw new Refusal(`${e.name}: ${e.message}`);
  }
}

/**
 * Handles one created object: checks it (allowlist, size), resolves its import spec (deployment default,
 * overridden field by field by a sidecar `<key>.import.json`), checks Redis, runs the memory pre-flight on a
 * sample of the object and fixes the bucket parameters (these three as the CLI does: {@link prepareImport}),
 * plans the chunks and starts one execution named after bucket/key/ETag.
 *
 * - a duplicate event (the execution exists) starts nothing and logs so;
 * - an object that is refused (its key unreadable in the event, outside the allowlist or with a `..` segment,
 *   not found, too large, of unknown format, with a bad spec, with Redis refusing the credentials, or
 *   projected by the memory pre-flight past `MEMORY_LIMIT` of a shard's maxmemory — unless `PREFLIGHT_FORCE`)
 *   gets a FAILED report with the reason, and nothing is written to Redis;
 * - a transient problem (S3 or Redis unreachable) is thrown, so the event is retried.
 *
 * @example
 * const outcome = await startImport({ bucket, key, etag, eventTime }, { s3, targets, starter, settings });
 */
export async function startImport(request: StartRequest, deps: StartDeps): Promise<StartOutcome> {
  const log = deps.log ?? console.log;
  const { bucket, key } = request;
  const settings = deps.settings;
  if (request.invalid !== undefined) {
    // The key cannot be read, so neither the object nor its sidecar can be found: refuse this record alone.
    const importId = importIdFor(bucket, key, request.etag ?? '');
    return refuse(deps, { importId, bucket, key }, `s3://${bucket}/${key}: ${request.invalid}`, log);
  }
  if (key.endsWith(SIDECAR_SUFFIX)) return { status: 'ignored', reason: `${key} is an import spec sidecar` };
  if (key.endsWith('/')) return { status: 'ignored', reason: `${key} is a folder marker` };

  const outside = outsideAllowlist(settings.ALLOWED_SOURCES, bucket, key);
  if (outside !== undefined) {
    // Not even a HEAD: an object outside the allowlist is none of this deployment's business.
    const importId = importIdFor(bucket, key, request.etag ?? '');
    return refuse(deps, { importId, bucket, key }, outside, log);
  }
  let head: S3ObjectInfo;
  try {
    head = await new S3Source(deps.s3, bucket, key).head();
  } catch (err) {
    // An unpinned HEAD fails this way only when the object is gone ("s3://b/k not found"): deleted after
    // its event. No retry can bring it back, and the event's other objects still start.
    if (!(err instanceof SourceChangedError)) throw err;
    const importId = importIdFor(bucket, key, request.etag ?? '');
    return refuse(deps, { importId, bucket, key }, err.message, log);
  }
  if (request.etag !== undefined && request.etag.replace(/"/g, '') !== head.etag.replace(/"/g, '')) {
    return {
      status: 'ignored',
      reason: `s3://${bucket}/${key} was replaced since the event; its own event imports it`,
    };
  }
  const importId = importIdFor(bucket, key, head.etag, request.run);
  const ref = { importId, bucket, key, etag: head.etag, size: head.size };

  const existing = await deps.starter.find(importId);
  if (existing !== undefined) {
    log(
      `duplicate event for s3://${bucket}/${key} (ETag ${head.etag}): execution ${importId} already exists, nothing started`,
    );
    return { status: 'duplicate', importId, executionArn: existing };
  }

  const pinned = new S3Source(deps.s3, bucket, key, { etag: head.etag, size: head.size });
  let spec: ImportSpec;
  let prepared: PreparedImport;
  try {
    if (head.size > settings.MAX_OBJECT_BYTES) {
      throw new Refusal(
        `the object is ${head.size} bytes, over the limit of ${settings.MAX_OBJECT_BYTES} bytes`,
      );
    }
    spec = await resolveSpec(deps.s3, bucket, key, settings.DEFAULT_SPEC);
    prepared = await prepareImport({
      source: pinned,
      spec,
      targets: deps.targets,
      limit: settings.MEMORY_LIMIT,
      force: settings.PREFLIGHT_FORCE,
      ping: refuseUnlessRetryable,
      origin: `s3://${bucket}/${key} (import ${importId})`,
      groupedChunks: {},
    });
    spec = prepared.spec;
  } catch (err) {
    // A Refusal (the object, its spec, or Redis refusing the credentials) or a ConfigError (e.g. bucket
    // parameters that clash with the dataset's) cannot be fixed by a retry: a FAILED report says why.
    if (err instanceof Refusal) return refuse(deps, ref, err.message, log);
    if (err instanceof ConfigError) return refuse(deps, ref, err.message, log);
    throw err;
  }
  const { memoryBefore, sample, preflight, buckets, dataset } = prepared;
  const preflightNotes = preflight.warnings.map((w) => `memory pre-flight: ${w}`);
  for (const note of preflightNotes) log(`import ${importId}: ${note}`);
  if (preflight.decision === 'refuse') {
    const error = preflightError(preflight, bucket, key);
    return refuse(deps, ref, `${error.name}: ${error.message}`, log, {
      error,
      notes: preflightNotes,
      memoryBefore,
    });
  }
  if (preflight.forced) {
    const note = `memory pre-flight overridden by PREFLIGHT_FORCE: ${preflight.refusal ?? ''}`;
    log(`import ${importId}: ${note}`);
    preflightNotes.push(note);
  }

  const wantsGrouping = prepared.writePath?.path === 'grouped' && buckets !== undefined;
  const grouped = wantsGrouping ? groupedChunking(spec, sample, settings) : undefined;
  if (wantsGrouping && grouped === undefined) {
    preflightNotes.push(
      `grouped writes skipped: the spill of one ${formatBytes(settings.CHUNK_BYTES)} chunk would not fit ` +
        `${TEMP_FILL * 100} % of import-chunk's ${settings.CHUNK_TEMP_MIB} MiB temp directory (CHUNK_TEMP_MIB): writing record by record`,
    );
  }
  const chunkBytes = grouped?.chunkBytes ?? settings.CHUNK_BYTES;
  const { chunks, notes } = await planChunks(pinned, spec, chunkBytes);
  if (grouped) {
    notes.push(
      `grouped writes (${prepared.writePath!.reason}): ${chunks.length} chunk(s) of up to ${formatBytes(chunkBytes)}, ` +
        `each sorted by bucket in import-chunk's temp directory (${grouped.plan.partitions} partitions, ` +
        `≈ ${formatBytes(grouped.plan.tempBytes)} of spill of ${settings.CHUNK_TEMP_MIB} MiB) and written one HSET per bucket`,
    );
  }
  notes.push(...preflightNotes);
  if (buckets !== undefined) {
    notes.push(
      buckets.scheme === 'hash'
        ? `bucketed: ${buckets.bucketCount} hash buckets for about ${sample.records} records`
        : `bucketed: range scheme, ${buckets.bucketSize} ids per bucket`,
    );
  }
  if (dataset !== undefined) {
    const was = dataset.previous === null ? 'none yet' : `v${dataset.previous}`;
    notes.push(`dataset ${dataset.name}: loading v${dataset.version} (current: ${was})`);
  }
  const distributed = chunks.length >= settings.DISTRIBUTED_MIN_CHUNKS;
  const planObject = distributed
    ? { bucket: settings.REPORT_BUCKET, key: `${settings.PLAN_PREFIX}${importId}.json` }
    : null;
  if (planObject) await putJson(deps.s3, planObject.bucket, planObject.key, chunks);
  const plan: ImportPlan = {
    importId,
    source: { bucket, key, etag: head.etag, size: head.size },
    spec,
    buckets: buckets ?? null,
    chunks: distributed ? [] : chunks,
    chunkCount: chunks.length,
    chunkBytes,
    maxConcurrency: settings.MAX_CONCURRENCY,
    mode: distributed ? 'distributed' : 'inline',
    planObject,
    requestedAt: request.eventTime,
    startedAt: new Date().toISOString(),
    memoryBefore,
    notes,
    pass: 0,
    dataset: dataset ?? null,
    grouping: grouped?.plan ?? null,
  };
  // Beside the report, for `redis-bulk-loader redrive`: the execution input is all a chunk needs.
  await putJson(deps.s3, settings.REPORT_BUCKET, planInputKey(settings.PLAN_PREFIX, importId), plan);
  const { started, executionArn } = await deps.starter.start(importId, plan);
  if (!started) {
    log(
      `duplicate event for s3://${bucket}/${key}: execution ${importId} was started meanwhile, nothing started`,
    );
    return { status: 'duplicate', importId, executionArn };
  }
  log(
    `import ${importId} started: s3://${bucket}/${key} (${head.size} bytes) in ${chunks.length} chunk(s), ${plan.mode} map`,
  );
  return { status: 'started', importId, executionArn, chunks: chunks.length, mode: plan.mode };
}

/** Share of import-chunk's temp directory a grouped chunk's spill may plan to fill. */
const TEMP_FILL = 0.8;

/**
 * The chunk size and spill layout of a grouped Lambda load: chunks as large as `GROUPED_CHUNK_BYTES` allows
 * (each bucket gets one `HSET` per chunk), shrunk until the spill of one fits `TEMP_FILL` of import-chunk's
 * temp directory; the partitions planned for a chunk of that size. Undefined when not even a chunk of
 * `CHUNK_BYTES` fits: the load then writes directly.
 */
export function groupedChunking(
  spec: ImportSpec,
  sample: SourceSample,
  settings: Pick<StartSettings, 'GROUPED_CHUNK_BYTES' | 'CHUNK_TEMP_MIB' | 'CHUNK_BYTES'>,
): { chunkBytes: number; plan: GroupingPlan } | undefined {
  const room = settings.CHUNK_TEMP_MIB * 1024 * 1024 * TEMP_FILL;
  const bytesPerRecord = Math.max(1, sample.bytesPerRecord);
  const keyPrefix = compileTemplate(spec.key).literalPrefix;
  const sized = (bytes: number) =>
    planGrouping({
      records: Math.ceil(bytes / bytesPerRecord),
      bytesPerRecord,
      samples: sample.samples,
      keyPrefix,
    });
  let chunkBytes = Math.max(settings.CHUNK_BYTES, Math.min(settings.GROUPED_CHUNK_BYTES, sample.bytes));
  let plan = sized(chunkBytes);
  while (plan.tempBytes > room && chunkBytes > settings.CHUNK_BYTES) {
    chunkBytes = Math.max(settings.CHUNK_BYTES, Math.floor((chunkBytes * room) / plan.tempBytes) - 1);
    plan = sized(chunkBytes);
  }
  return plan.tempBytes > room ? undefined : { chunkBytes, plan };
}

/** The import spec of an object: the deployment default, overridden field by field by its sidecar. */
async function resolveSpec(
  s3: S3Client,
  bucket: string,
  key: string,
  defaults: Partial<ImportSpecInput> | undefined,
): Promise<ImportSpec> {
  const sidecarKey = `${key}${SIDECAR_SUFFIX}`;
  const text = await getText(s3, bucket, sidecarKey);
  let sidecar: Partial<ImportSpecInput> = {};
  if (text !== undefined) {
    try {
      sidecar = JSON.parse(text) as Partial<ImportSpecInput>;
    } catch (err) {
      throw new Refusal(`sidecar s3://${bucket}/${sidecarKey} is not valid JSON: ${(err as Error).message}`);
    }
    if (sidecar === null || typeof sidecar !== 'object' || Array.isArray(sidecar)) {
      throw new Refusal(`sidecar s3://${bucket}/${sidecarKey} must hold a JSON object`);
    }
  }
  const merged: Partial<ImportSpecInput> = { ...defaults, ...sidecar };
  if (merged.format === undefined) {
    const format = formatFromKey(key);
    if (format === undefined) {
      throw new Refusal(
        `unknown format: ${key} does not end in .csv, .tsv, .jsonl or .ndjson; give "format" in ${sidecarKey}`,
      );
    }
    merged.format = format;
  }
  const origin =
    text === undefined ? 'the import spec (DEFAULT_SPEC)' : `sidecar s3://${bucket}/${sidecarKey}`;
  return parseImportSpec(merged, origin);
}

/** The error of a load the pre-flight refused: where it would overflow, and what would fit instead. */
function preflightError(preflight: PreflightReport, bucket: string, key: string): PreflightRefusedError {
  const refusal = preflight.refusal ?? 'a shard would pass the memory limit';
  const where = preflight.alternatives.some((a) => a.fits === true)
    ? ` (in the sidecar s3://${bucket}/${key}${SIDECAR_SUFFIX})`
    : '';
  const what = preflight.suggestion === undefined ? '' : `; ${preflight.suggestion}${where}`;
  return new PreflightRefusedError(
    `the memory pre-flight refused the import: ${refusal}${what}. Nothing was written`,
    {
      refusal,
      limit: preflight.limit,
      ...(preflight.suggestion === undefined ? {} : { suggestion: preflight.suggestion }),
    },
  );
}

/** What a refusal's report carries besides the reason. */
interface RefusalDetails {
  /** The error behind the refusal, listed in the report's `errors`. */
  readonly error?: Error;
  readonly notes?: readonly string[];
  readonly memoryBefore?: readonly ShardMemory[];
}

async function refuse(
  deps: StartDeps,
  ref: { importId: string; bucket: string; key: string; etag?: string; size?: number },
  reason: string,
  log: (line: string) => void,
  details: RefusalDetails = {},
): Promise<StartOutcome> {
  const { importId, ...source } = ref;
  const report = buildReport({
    importId,
    source,
    planned: 0,
    chunks: [],
    errors: details.error ? [{ name: details.error.name, message: details.error.message }] : [],
    notes: [...(details.notes ?? [])],
    memoryBefore: [...(details.memoryBefore ?? [])],
    memoryAfter: null,
    refusal: reason,
    startedAt: new Date().toISOString(),
  });
  const key = reportKey(deps.settings.REPORT_PREFIX, importId);
  await putJson(deps.s3, deps.settings.REPORT_BUCKET, key, report);
  const location = `s3://${deps.settings.REPORT_BUCKET}/${key}`;
  log(`import ${importId} FAILED before it started: ${reason}; report ${location}`);
  return { status: 'refused', importId, reason, report: location };
}
