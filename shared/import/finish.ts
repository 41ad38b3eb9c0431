import type { S3Client } from '@aws-sdk/client-s3';
import { type CutoverOutcome, cutover, type DatasetPlan, failedCutover } from '../dataset/index.js';
import { classifyError, classifyReplyError } from '../errors/index.js';
import { ReplyError, type Target } from '../redis/index.js';
import { markerKey, readMarkers } from './marker.js';
import { memorySnapshot, type ShardMemory } from './memory.js';
import { buildReport, describeStateError, type ImportReport, reportKey, summaryLine } from './report.js';
import { getText, putJson, putText } from './s3-objects.js';
import {
  type ChunkStats,
  chunkPlanSchema,
  type FinishInput,
  finishInputSchema,
  type ImportPlan,
} from './schemas.js';
import { currentServers, serversChanged, touchTargets } from './servers.js';

/** Passes of the Map after the first one that import-finish may ask for after server resets. */
export const MAX_RERUN_PASSES = 2;

/** What finishing an import needs. */
export interface FinishDeps {
  readonly s3: S3Client;
  readonly targets: readonly Target[];
  readonly reports: { readonly bucket: string; readonly prefix: string };
  readonly markerPrefix: string;
  /** Gets the one-line summary. @default console.log */
  readonly log?: (line: string) => void;
  /** US dollars per 100 k commands: the report then estimates the bill (see `billPrice`). */
  readonly pricePer100k?: number;
  /**
   * Renders the report as HTML (`renderReportHtml` of shared/report, given by the handler): written as
   * `reports/<importId>.html` beside the JSON. A failure to write it is a note, never the import's failure.
   */
  readonly html?: (report: ImportReport) => string;
  /**
   * Milliseconds left before the function is stopped: the expiry of old dataset versions stops 30 s before
   * (the next cutover continues it). @default no limit
   */
  readonly remainingMs?: () => number;
}

/** The report and where it was written, or the plan of a re-run when chunks must be loaded again. */
export type FinishResult =
  | {
      readonly report: ImportReport;
      /** `s3://bucket/reports/<importId>.json` */
      readonly location: string;
      readonly next?: undefined;
    }
  | {
      /**
       * A shard restarted (or failed over) after confirming some chunks: their data may be gone, so the state
       * machine runs the Map again over these chunks only (inline, `pass + 1`). Their markers were deleted.
       */
      readonly next: ImportPlan;
      readonly rerun: readonly number[];
    };

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
  const log = deps.log ?? console.log;
  const errors: ImportReport['errors'] = [];
  const notes = [...plan.notes];
  let chunks: (ChunkStats | undefined)[] = [];
  let markersRead = false;
  try {
    await touchTargets(deps.targets);
    chunks = await readMarkers(deps.targets[0]!, deps.markerPrefix, plan.importId, plan.chunkCount);
    markersRead = true;
  } catch (err) {
    const e = classifyError(err);
    errors.push({ name: e.name, message: `completion markers could not be read: ${e.message}` });
  }
  if (markersRead && plan.failure) {
    // The import failed anyway: nothing is re-run, but chunks confirmed by a server that has restarted since
    // are not reported as written, and their markers go, so no later run skips them as done.
    const lost = lostChunks(chunks, deps.targets, plan.chunkCount, false);
    if (lost.indexes.length > 0) {
      await deleteMarkers(deps.targets[0]!, deps.markerPrefix, plan.importId, lost.indexes);
      errors.push({
        name: 'ServerResetError',
        message: `${lost.why}: chunk(s) ${lost.indexes.join(', ')} may have lost their data and are not counted`,
      });
      for (const i of lost.indexes) chunks[i] = undefined;
    }
  }
  if (markersRead && !plan.failure) {
    const lost = lostChunks(chunks, deps.targets, plan.chunkCount, true);
    if (lost.indexes.length > 0) {
      const what = `${lost.why}: chunk(s) ${lost.indexes.join(', ')} may have lost their data`;
      if (plan.pass < MAX_RERUN_PASSES) {
        await deleteMarkers(deps.targets[0]!, deps.markerPrefix, plan.importId, lost.indexes);
        const note = `${what}; pass ${plan.pass + 1} loads them again`;
        log(`import ${plan.importId}: ${note}`);
        const next: ImportPlan = {
          ...withoutFailure(plan),
          chunks: await chunksOf(plan, deps, lost.indexes),
          mode: 'inline',
          planObject: null,
          notes: [...notes, note],
          pass: plan.pass + 1,
        };
        return { next, rerun: lost.indexes };
      }
      errors.push({
        name: 'ServerResetError',
        message: `${what}, and ${MAX_RERUN_PASSES} re-runs did not settle it: import the object again`,
      });
      for (const i of lost.indexes) chunks[i] = undefined;
    }
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
    notes,
    requestedAt: plan.requestedAt,
    startedAt: plan.startedAt,
    memoryBefore: plan.memoryBefore,
    memoryAfter,
    ...(deps.pricePer100k === undefined ? {} : { pricePer100k: deps.pricePer100k }),
  });
  // The summary line below says what the cutover did.
  if (plan.dataset) report.dataset = await cutoverOf(plan.dataset, report, deps);
  const key = reportKey(deps.reports.prefix, plan.importId);
  await putJson(deps.s3, deps.reports.bucket, key, report);
  const location = `s3://${deps.reports.bucket}/${key}`;
  log(summaryLine(report, location));
  if (deps.html) {
    const htmlKey = key.replace(/\.json$/, '.html');
    try {
      await putText(deps.s3, deps.reports.bucket, htmlKey, deps.html(report), 'text/html; charset=utf-8');
      log(`import ${plan.importId}: HTML report s3://${deps.reports.bucket}/${htmlKey}`);
    } catch (err) {
      log(`import ${plan.importId}: the HTML report was not written: ${(err as Error).message}`);
    }
  }
  return { report, location };
}

/**
 * The dataset's cutover at the end of an import: `current` flips only for a SUCCEEDED import (or a PARTIAL one
 * the dataset allows). Redis failing here does not fail the report: it says the cutover did not happen, and
 * `current` is as it was (the flip is one atomic command).
 */
async function cutoverOf(plan: DatasetPlan, report: ImportReport, deps: FinishDeps): Promise<CutoverOutcome> {
  const remaining = deps.remainingMs?.();
  try {
    return await cutover(
      deps.targets,
      plan,
      { status: report.status, read: report.counts.read, rejected: report.counts.rejected },
      remaining === undefined ? {} : { deadline: Date.now() + remaining - 30_000 },
    );
  } catch (err) {
    return failedCutover(plan, classifyError(err));
  }
}

/**
 * Chunks whose data may be gone although the Map succeeded: those whose marker is missing (the marker shard
 * lost it, e.g. restarted without persistence) and those confirmed by a shard that is another server now.
 */
function lostChunks(
  chunks: readonly (ChunkStats | undefined)[],
  targets: readonly Target[],
  count: number,
  /** Whether a missing marker means lost data (the Map succeeded) rather than a chunk that never completed. */
  missingIsLost: boolean,
): { indexes: number[]; why: string } {
  const now = currentServers(targets);
  const indexes: number[] = [];
  const shards = new Set<string>();
  let missing = 0;
  for (let i = 0; i < count; i++) {
    const stats = chunks[i];
    if (stats === undefined) {
      if (missingIsLost) {
        missing++;
        indexes.push(i);
      }
      continue;
    }
    const changed = serversChanged(stats.servers, now);
    if (changed.length === 0) continue;
    for (const s of changed) shards.add(targets[s]!.name);
    indexes.push(i);
  }
  const reasons: string[] = [];
  if (shards.size > 0)
    reasons.push(`${[...shards].join(', ')} restarted or failed over since confirming chunks`);
  if (missing > 0) reasons.push(`${missing} completion marker(s) vanished from ${targets[0]!.name}`);
  return { indexes, why: reasons.join('; ') };
}

async function deleteMarkers(
  target: Target,
  prefix: string,
  importId: string,
  indexes: readonly number[],
): Promise<void> {
  for (let from = 0; from < indexes.length; from += 1000) {
    const keys = indexes.slice(from, from + 1000).map((i) => markerKey(prefix, importId, i));
    // One DEL per key: in a cluster the markers live on different masters.
    const replies = await target.exec(keys.map((key) => ({ key, args: ['DEL', key] })));
    const failed = replies.find((r) => r instanceof ReplyError);
    if (failed instanceof ReplyError) throw classifyReplyError(failed.message);
  }
}

/** The chunk plans of `indexes`: from the plan itself (inline) or its plan object in S3 (distributed). */
async function chunksOf(plan: FinishInput, deps: FinishDeps, indexes: readonly number[]) {
  let all = plan.chunks;
  if (plan.planObject) {
    const text = await getText(deps.s3, plan.planObject.bucket, plan.planObject.key);
    if (text === undefined)
      throw new Error(`plan object s3://${plan.planObject.bucket}/${plan.planObject.key} is gone`);
    all = chunkPlanSchema.array().parse(JSON.parse(text));
  }
  const wanted = new Set(indexes);
  return all.filter((c) => wanted.has(c.index));
}

/**
 * What the import-finish task returns to the state machine: the report's status and location, or — when chunks
 * must be loaded again — `next`, the plan the `RerunChunks` state feeds back into the Map.
 */
export type FinishOutput =
  | { importId: string; status: ImportReport['status']; report: string }
  | { importId: string; rerun: readonly number[]; next: ImportPlan };

/** The task output for a {@link FinishResult}. */
export function finishOutput(importId: string, result: FinishResult): FinishOutput {
  if (result.next) return { importId, rerun: result.rerun, next: result.next };
  return { importId, status: result.report.status, report: result.location };
}

function withoutFailure(plan: FinishInput): ImportPlan {
  const { failure: _failure, ...rest } = plan;
  return rest;
}
