import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { ImportReport, ImportStatus } from '../shared/import/index.js';
import { type LoadProgress, memorySnapshot } from '../shared/import/index.js';
import type { PreflightReport } from '../shared/memory/index.js';
import type { Target } from '../shared/redis/index.js';
import {
  type MemorySample,
  type RejectReason,
  renderReportHtml,
  type ThroughputSample,
} from '../shared/report/index.js';
import type { ImportSummary } from './import-run.js';

/** How often the recorder keeps a progress sample and reads each shard's `INFO memory`. */
const PROGRESS_EVERY_MS = 1000;
const MEMORY_EVERY_MS = 5000;
/** Rejected records read back from the rejects file to group them by reason (the count is exact anyway). */
const REJECT_LINES_READ = 100_000;

/**
 * What `import --report-html` records while a load runs: a progress sample at most once a second and each
 * shard's `used_memory` every 5 s (one `INFO memory` per server: nothing a loaded server notices). Bounded by
 * the load's duration, not its size.
 */
export class ReportRecorder {
  readonly startedAt = new Date();
  private readonly t0 = performance.now();
  private readonly samples: ThroughputSample[] = [];
  private readonly memory: MemorySample[] = [];
  private lastSample = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(private readonly targets: readonly Target[]) {}

  /** Starts the memory timer (and takes the first reading). */
  start(): void {
    this.readMemory();
    this.timer = setInterval(() => this.readMemory(), MEMORY_EVERY_MS);
    this.timer.unref();
  }

  /** Feeds a progress report of the load; keeps one at most every second. */
  progress(p: LoadProgress): void {
    const atMs = performance.now() - this.t0;
    if (atMs - this.lastSample < PROGRESS_EVERY_MS) return;
    this.lastSample = atMs;
    this.samples.push({ atMs, written: p.written, rejected: p.rejected, bytesRead: p.bytes });
  }

  /** Stops the timer, takes a last progress sample and memory reading. */
  async stop(last: { written: number; rejected: number; bytesRead: number }): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
    this.samples.push({ atMs: performance.now() - this.t0, ...last });
    this.readMemory();
    await this.reading;
  }

  private readMemory(): void {
    if (this.reading) return;
    const atMs = performance.now() - this.t0;
    this.reading = memorySnapshot(this.targets)
      .then((shards) => {
        for (const s of shards) this.memory.push({ atMs, ...s });
      })
      // A shard that cannot answer now leaves a gap in its line; the load reports the error itself.
      .catch(() => undefined)
      .finally(() => {
        this.reading = undefined;
      });
  }

  /** Renders the summary, what was recorded, and the rejects file's reasons, and writes it to `path`. */
  async write(path: string, summary: ImportSummary): Promise<void> {
    const rejectsByReason = summary.rejectsFile ? await rejectReasons(summary.rejectsFile) : [];
    const html = renderReportHtml(importReportOf(summary, this.startedAt), {
      samples: this.samples,
      memory: this.memory,
      ...(summary.preflight ? { projection: projectionOf(summary.preflight) } : {}),
      rejectsByReason,
      ...(summary.commandsPer100Keys === null ? {} : { commandsPer100Keys: summary.commandsPer100Keys }),
      ...(summary.redirects ? { redirects: summary.redirects } : {}),
    });
    await writeFile(path, html);
  }
}

function projectionOf(preflight: PreflightReport) {
  return preflight.shards.flatMap((s) =>
    s.projected === undefined
      ? []
      : [{ shard: s.shard, projectedBytes: s.projected, maxMemory: s.maxMemory ?? 0 }],
  );
}

/** The CLI's summary in the shape of the Lambda import's JSON report, which the HTML report renders. */
function importReportOf(summary: ImportSummary, startedAt: Date): ImportReport {
  const c = summary.counts;
  const status: ImportStatus =
    summary.status !== 'completed' ? 'FAILED' : c.rejected > 0 ? 'PARTIAL' : 'SUCCEEDED';
  const reason =
    summary.status === 'completed'
      ? undefined
      : (summary.error?.message ??
        (summary.status === 'refused' ? summary.preflight?.refusal : `the load was ${summary.status}`));
  const finishedAt = new Date(startedAt.getTime() + summary.durationMs);
  return {
    importId: basename(summary.source),
    status,
    ...(reason ? { reason } : {}),
    source: { bucket: '', key: summary.source, size: summary.bytesRead },
    model: summary.model,
    chunks: { planned: 1, completed: summary.status === 'completed' ? 1 : 0, failed: 0, notCompleted: 0 },
    counts: { ...c, taskRetries: 0 },
    rejects: { count: c.rejected, objects: summary.rejectsFile ? [summary.rejectsFile] : [] },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: summary.durationMs,
    rowsPerSecond: Math.round(summary.keysPerSecond),
    redisMemory: {
      before: summary.memoryBefore,
      after: summary.memoryAfter ?? null,
      bytesPerKey: summary.bytesPerKey ?? null,
    },
    redirects: summary.redirects ?? { moved: 0, ask: 0 },
    commandsPer100Keys: summary.commandsPer100Keys,
    errors: summary.error ? [summary.error] : [],
    notes: [
      ...summary.resets.map((r) => `${r.shard}: ${r.message} (${r.action})`),
      ...(summary.preflight?.warnings ?? []),
    ],
    perChunk: [],
    ...(summary.dataset ? { dataset: summary.dataset } : {}),
  };
}

/** Rejected records grouped by reason, three examples each, from the first lines of the rejects file. */
async function rejectReasons(path: string): Promise<RejectReason[]> {
  const groups = new Map<string, { count: number; examples: RejectReason['examples'][number][] }>();
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let read = 0;
  for await (const line of lines) {
    if (++read > REJECT_LINES_READ) break;
    let reject: { reason?: unknown; line?: unknown; offset?: unknown; raw?: unknown };
    try {
      reject = JSON.parse(line) as typeof reject;
    } catch {
      continue;
    }
    const reason = String(reject.reason ?? 'unknown');
    let group = groups.get(reason);
    if (!group) groups.set(reason, (group = { count: 0, examples: [] }));
    group.count++;
    if (group.examples.length < 3) {
      group.examples.push({
        ...(typeof reject.line === 'number' ? { line: reject.line } : {}),
        offset: typeof reject.offset === 'number' ? reject.offset : 0,
        raw: String(reject.raw ?? ''),
      });
    }
  }
  lines.close();
  return [...groups].map(([reason, g]) => ({ reason, count: g.count, examples: g.examples }));
}
