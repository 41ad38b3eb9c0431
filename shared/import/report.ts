import type { CutoverOutcome } from '../dataset/index.js';
import { type CommandBill, commandBill, commandsPer100Keys, describeBill } from './commands.js';
import type { ShardMemory } from './memory.js';
import type { ChunkStats, StateError } from './schemas.js';
import { emptyCounts, type LoadCounts } from './load.js';

/**
 * How an import ended:
 * - `SUCCEEDED`: every chunk completed and no record was rejected;
 * - `PARTIAL`: every chunk completed, some records were rejected (the rejects objects say which and why);
 * - `FAILED`: the import was refused, or a chunk failed or never completed (the errors say why).
 */
export type ImportStatus = 'SUCCEEDED' | 'PARTIAL' | 'FAILED';

/** A chunk the report has no stats for (it never completed and left no failure record). */
export interface MissingChunk {
  readonly index: number;
  readonly status: 'not completed';
}

/** The counters of an import; they reconcile: `read = written + rejected + skipped + unsettled`. */
export interface ReportCounts extends LoadCounts {
  /** Chunk invocations retried by Step Functions (`retries` counts pipeline retries inside chunks). */
  taskRetries: number;
}

/** The JSON report written to `reports/<importId>.json`. */
export interface ImportReport {
  importId: string;
  status: ImportStatus;
  /** Why it failed, in one sentence (FAILED only). */
  reason?: string;
  source: { bucket: string; key: string; etag?: string; size?: number };
  model?: string;
  chunks: { planned: number; completed: number; failed: number; notCompleted: number };
  counts: ReportCounts;
  rejects: { count: number; objects: string[] };
  requestedAt?: string;
  startedAt?: string;
  finishedAt: string;
  /** From import-start to this report. */
  durationMs: number;
  /** Written records per second of `durationMs`. */
  rowsPerSecond: number;
  /** Redis Cluster: the `MOVED`/`ASK` redirects the chunks followed (slots that moved during the import). */
  redirects: { moved: number; ask: number };
  /** `counts.commands` per 100 records written; null when none was written. */
  commandsPer100Keys: number | null;
  /** The estimated bill for `counts.commands`, when a per-command price applies (an Upstash URL, `PRICE_PER_100K`). */
  bill?: CommandBill;
  redisMemory: { before: ShardMemory[]; after: ShardMemory[] | null; bytesPerKey: number | null };
  errors: { name: string; message: string; chunk?: number }[];
  notes: string[];
  perChunk: (ChunkStats | MissingChunk)[];
  /**
   * A `dataset` import: the version it loaded, whether `current` was flipped to it and, if not, why
   * (`cutover skipped: import FAILED; current stays at v3`), and the old versions expired.
   */
  dataset?: CutoverOutcome;
}

const ZERO: ReportCounts = { ...emptyCounts(), taskRetries: 0 };

/** The report key of an import: `<prefix><importId>.json`. */
export function reportKey(prefix: string, importId: string): string {
  return `${prefix}${importId}.json`;
}

/** What a Step Functions error says: the chunk's own failure record, or a Lambda/State error. */
export function describeStateError(failure: StateError): {
  name: string;
  message: string;
  chunk?: number;
  stats?: ChunkStats;
} {
  let cause: unknown = failure.Cause;
  try {
    cause = JSON.parse(failure.Cause ?? '');
  } catch {
    // A plain message (Fail states, the local runner).
  }
  if (cause !== null && typeof cause === 'object') {
    const c = cause as { chunk?: unknown; message?: unknown; stats?: ChunkStats; errorMessage?: unknown };
    const message =
      typeof c.message === 'string'
        ? c.message
        : typeof c.errorMessage === 'string'
          ? c.errorMessage
          : (failure.Cause ?? '');
    return {
      name: failure.Error,
      message,
      ...(typeof c.chunk === 'number' ? { chunk: c.chunk } : {}),
      ...(c.stats ? { stats: c.stats } : {}),
    };
  }
  return { name: failure.Error, message: typeof cause === 'string' ? cause : '' };
}

/** Everything {@link buildReport} combines. */
export interface ReportInput {
  importId: string;
  source: ImportReport['source'];
  model?: string;
  planned: number;
  /** Per chunk index: its stats (from its completion marker or failure record), or undefined. */
  chunks: (ChunkStats | undefined)[];
  errors: ImportReport['errors'];
  notes: string[];
  requestedAt?: string;
  startedAt?: string;
  memoryBefore: ShardMemory[];
  memoryAfter: ShardMemory[] | null;
  /** Set when the import was refused before any chunk ran. */
  refusal?: string;
  /** US dollars per 100 k commands, when the commands sent are billed (see `billPrice`). */
  pricePer100k?: number;
  now?: Date;
}

/**
 * Builds the import report: sums the chunks' counters, lists the rejects objects, decides the status (see
 * {@link ImportStatus}) and the speed.
 *
 * @example
 * const report = buildReport({ importId, source, planned: 3, chunks: markers, errors: [], notes: [], memoryBefore, memoryAfter });
 */
export function buildReport(input: ReportInput): ImportReport {
  const now = input.now ?? new Date();
  const counts = { ...ZERO };
  const perChunk: ImportReport['perChunk'] = [];
  const rejectsObjects: string[] = [];
  const redirects = { moved: 0, ask: 0 };
  let completed = 0;
  let failed = 0;
  for (let index = 0; index < input.planned; index++) {
    const stats = input.chunks[index];
    if (!stats) {
      perChunk.push({ index, status: 'not completed' });
      continue;
    }
    perChunk.push(stats);
    if (stats.status === 'completed') completed++;
    else failed++;
    for (const key of Object.keys(ZERO) as (keyof ReportCounts)[]) counts[key] += stats[key];
    redirects.moved += stats.redirects.moved;
    redirects.ask += stats.redirects.ask;
    rejectsObjects.push(...stats.rejectsObjects);
  }
  const notCompleted = input.planned - completed - failed;
  let status: ImportStatus;
  let reason: string | undefined;
  if (input.refusal !== undefined) {
    status = 'FAILED';
    reason = input.refusal;
  } else if (failed > 0 || notCompleted > 0 || input.errors.length > 0) {
    status = 'FAILED';
    const first = input.errors[0];
    reason = first
      ? `${first.name}: ${first.message}`
      : `${failed + notCompleted} of ${input.planned} chunks did not complete`;
  } else {
    status = counts.rejected > 0 ? 'PARTIAL' : 'SUCCEEDED';
  }
  const since = input.startedAt ?? input.requestedAt;
  const durationMs = since === undefined ? 0 : Math.max(0, now.getTime() - Date.parse(since));
  const used = (s: readonly ShardMemory[]) => s.reduce((a, m) => a + m.usedMemory, 0);
  const bytesPerKey =
    input.memoryAfter && counts.written > 0 && input.memoryBefore.length > 0
      ? (used(input.memoryAfter) - used(input.memoryBefore)) / counts.written
      : null;
  return {
    importId: input.importId,
    status,
    ...(reason === undefined ? {} : { reason }),
    source: input.source,
    ...(input.model === undefined ? {} : { model: input.model }),
    chunks: { planned: input.planned, completed, failed, notCompleted },
    counts,
    rejects: { count: counts.rejected, objects: rejectsObjects },
    ...(input.requestedAt === undefined ? {} : { requestedAt: input.requestedAt }),
    ...(input.startedAt === undefined ? {} : { startedAt: input.startedAt }),
    finishedAt: now.toISOString(),
    durationMs,
    rowsPerSecond: durationMs > 0 ? Math.round(counts.written / (durationMs / 1000)) : 0,
    redirects,
    commandsPer100Keys: commandsPer100Keys(counts.commands, counts.written),
    ...(input.pricePer100k === undefined ? {} : { bill: commandBill(counts.commands, input.pricePer100k) }),
    redisMemory: { before: input.memoryBefore, after: input.memoryAfter, bytesPerKey },
    errors: input.errors,
    notes: input.notes,
    perChunk,
  };
}

/** The one-line summary import-finish logs. */
export function summaryLine(report: ImportReport, location: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const c = report.counts;
  const base =
    `import ${report.importId} ${report.status}: ${n(c.read)} read, ${n(c.written)} written, ` +
    `${n(c.rejected)} rejected, ${n(c.skipped)} skipped in ${(report.durationMs / 1000).toFixed(1)} s ` +
    `(${n(report.rowsPerSecond)} rows/s), ${report.chunks.completed}/${report.chunks.planned} chunks, ` +
    `${c.retries + c.taskRetries} retries, ${n(c.commands)} commands` +
    (report.commandsPer100Keys === null ? '' : ` (${report.commandsPer100Keys.toFixed(1)} per 100 keys)`) +
    (report.bill ? ` ${describeBill(report.bill)}` : '');
  const dataset = report.dataset ? `; dataset: ${report.dataset.message}` : '';
  return `${base}${report.reason ? ` — ${report.reason}` : ''}${dataset}; report ${location}`;
}
