import type { ChunkStats, ImportReport, MissingChunk } from '../import/index.js';
import { legend } from './chart.js';
import { pickChunks } from './downsample.js';
import { formatCount, formatDuration, plural } from './format.js';
import { ganttChart } from './gantt.js';
import { markup, type SafeHtml } from './html.js';
import { COLORS, nonNegative, note, REPORT_LIMITS, type RenderContext, section } from './layout.js';
import type { ChunkSpan } from './types.js';

function isStats(c: ChunkStats | MissingChunk): c is ChunkStats {
  return c.status !== 'not completed';
}

/** Spans from the JSON report alone: each chunk's total duration, from 0 (start times are not in it). */
export function spansFromReport(perChunk: ImportReport['perChunk']): ChunkSpan[] {
  return perChunk.filter(isStats).map((c) => ({
    index: c.index,
    startMs: 0,
    endMs: nonNegative(c.durationMs),
    retries: nonNegative(c.retries) + nonNegative(c.taskRetries),
    continuations: Math.max(0, nonNegative(c.invocations) - 1),
    status: c.status,
  }));
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Indices as `3, 7, 9 and 12 more`. */
function indexList(indices: readonly number[], max = 20): string {
  const shown = indices.slice(0, max).join(', ');
  return indices.length > max ? `${shown} and ${formatCount(indices.length - max)} more` : shown;
}

function summary(report: ImportReport, spans: readonly ChunkSpan[]): SafeHtml {
  const c = report.chunks;
  const durations = spans.map((s) => s.endMs - s.startMs).sort((a, b) => a - b);
  const slowest = spans.reduce<ChunkSpan | undefined>(
    (a, s) => (!a || s.endMs - s.startMs > a.endMs - a.startMs ? s : a),
    undefined,
  );
  const retried = spans.filter((s) => s.retries > 0).length;
  const continued = spans.filter((s) => s.continuations > 0).length;
  const parts = [
    `${plural(c.planned, 'chunk')} planned: ${formatCount(c.completed)} completed, ${formatCount(c.failed)} failed, ${formatCount(c.notCompleted)} not completed.`,
  ];
  if (slowest)
    parts.push(
      `Duration per chunk: median ${formatDuration(quantile(durations, 0.5))}, p95 ${formatDuration(quantile(durations, 0.95))}, max ${formatDuration(slowest.endMs - slowest.startMs)} (chunk ${slowest.index}).`,
    );
  if (retried > 0 || continued > 0)
    parts.push(
      `${formatCount(retried)} retried, ${formatCount(continued)} continued in another invocation (near the Lambda timeout).`,
    );
  const missing = report.perChunk.filter((p) => !isStats(p)).map((p) => p.index);
  const failed = spans.filter((s) => s.status === 'failed').map((s) => s.index);
  return markup`<p class="lead">${parts.join(' ')}</p>
${failed.length > 0 ? markup`<p class="bad">Failed: chunk ${indexList(failed)}.</p>` : ''}
${missing.length > 0 ? markup`<p class="bad">Not completed (no stats): chunk ${indexList(missing)}.</p>` : ''}`;
}

/** The per-chunk timeline (or, from the JSON report alone, each chunk's duration). */
export function chunksSection({ report, timeline, xMax }: RenderContext): SafeHtml {
  const fromTimeline = (timeline.chunks ?? []).filter(
    (c) => Number.isFinite(c.startMs) && Number.isFinite(c.endMs),
  );
  const mode = fromTimeline.length > 0 ? 'timeline' : 'duration';
  const spans = mode === 'timeline' ? fromTimeline : spansFromReport(report.perChunk ?? []);
  const title = mode === 'timeline' ? 'Chunk timeline' : 'Chunk durations';
  if (spans.length === 0)
    return section(
      'chunks',
      title,
      markup`${summary(report, spans)}${note('No chunk ran, so there is nothing to draw.')}`,
    );
  const drawn = pickChunks(spans, REPORT_LIMITS.chunkBars);
  const axisEnd = mode === 'timeline' ? xMax : Math.max(1, ...drawn.map((s) => s.endMs));
  const hidden = spans.length - drawn.length;
  const key = legend([
    { name: 'completed', color: COLORS.completed, kind: 'box' },
    { name: 'failed', color: COLORS.failed, kind: 'box' },
    { name: 'running / not completed', color: COLORS.running, kind: 'box' },
    { name: 'retried', color: COLORS.retry, kind: 'dot' },
    { name: 'continued in another invocation', color: COLORS.continuation, kind: 'diamond' },
  ]);
  const startsUnknown =
    mode === 'duration'
      ? note('The JSON report has no start times, so each bar starts at 0 and shows how long the chunk took.')
      : '';
  const undrawn =
    hidden > 0
      ? note(
          `${plural(hidden, 'chunk')} not drawn: ${formatCount(drawn.length)} bars shown, every failed, retried or continued chunk first, then chunks spread evenly over the rest.`,
        )
      : '';
  return section(
    'chunks',
    title,
    markup`${summary(report, spans)}
${key}
${ganttChart({ spans: drawn, xMax: axisEnd, mode })}
${startsUnknown}
${undrawn}`,
  );
}
