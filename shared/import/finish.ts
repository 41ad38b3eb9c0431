import type { S3Client } from '@aws-sdk/client-s3';
import { classifyError } from '../errors/index.js';
import type { Target } from '../redis/index.js';
import { readMarkers } from './marker.js';
import { memorySnapshot, type ShardMemory } from './memory.js';
import { buildReport, describeStateError, type ImportReport, reportKey, summaryLine } from './report.js';
import { putJson } from './s3-objects.js';
import { type ChunkStats, type FinishInput, finishInputSchema } from './schemas.js';

/** What finishing an import needs. */
export interface FinishDeps {
  readonly s3: S3Client;
  readonly targets: readonly Target[];
  readonly reports: { readonly bucket: string; readonly prefix: string };
  readonly markerPrefix: string;
  /** Gets the one-line summary. @default console.log */
  readonly log?: (line: string) => void;
}

/** The report and where it was written. */
export interface FinishResult {
  readonly report: ImportReport;
  /** `s3://bucket/reports/<importId>.json` */
  readonly location: string;
}

/**
 * Ends an import, whatever happened before: reads every chunk's completion marker (the stats each chunk
 * recorded when its data was fully written), adds the failure the Map ended with if any, measures Redis
 * memory, writes `reports/<importId>.json` and logs a one-line summary. Redis being unreachable here does not
 * stop the report: it says so. Only a failure to write the report itself is thrown (and retried).
 *
 * @example
 * const { report } = await finishImport(stateMachineInput, { s3, targets, reports, markerPrefix });
 */
export async function finishImport(input: FinishInput, deps: FinishDeps): Promise<FinishResult> {
  const plan = finishInputSchema.parse(input);
  const errors: ImportReport['errors'] = [];
  let chunks: (ChunkStats | undefined)[] = [];
  try {
    chunks = await readMarkers(deps.targets[0]!, deps.markerPrefix, plan.importId, plan.chunkCount);
  } catch (err) {
    const e = classifyError(err);
    errors.push({ name: e.name, message: `completion markers could not be read: ${e.message}` });
  }
  if (plan.failure) {
    const failure = describeStateError(plan.failure);
    const { stats, ...error } = failure;
    errors.unshift(error);
    if (stats && chunks[stats.index] === undefined) chunks[stats.index] = stats;
  }
  let memoryAfter: ShardMemory[] | null = null;
  try {
    memoryAfter = await memorySnapshot(deps.targets);
  } catch {
    // Reported as null: the import's outcome does not depend on it.
  }
  const rejectsBucket = deps.reports.bucket;
  const report = buildReport({
    importId: plan.importId,
    source: plan.source,
    model: plan.spec.model.type,
    planned: plan.chunkCount,
    chunks: chunks.map((c) =>
      c ? { ...c, rejectsObjects: c.rejectsObjects.map((k) => `s3://${rejectsBucket}/${k}`) } : undefined,
    ),
    errors,
    notes: plan.notes,
    requestedAt: plan.requestedAt,
    startedAt: plan.startedAt,
    memoryBefore: plan.memoryBefore,
    memoryAfter,
  });
  const key = reportKey(deps.reports.prefix, plan.importId);
  await putJson(deps.s3, deps.reports.bucket, key, report);
  const location = `s3://${deps.reports.bucket}/${key}`;
  (deps.log ?? console.log)(summaryLine(report, location));
  return { report, location };
}
