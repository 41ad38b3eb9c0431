import { anchor } from './chart.js';
import { formatClock, formatCount, formatDuration, plural } from './format.js';
import { joinMarkup, markup, type SafeHtml } from './html.js';
import { COLORS } from './layout.js';
import { timeTicks } from './scale.js';
import type { ChunkSpan, ChunkSpanStatus } from './types.js';

const STATUS_COLORS: Record<ChunkSpanStatus, string> = {
  completed: COLORS.completed,
  failed: COLORS.failed,
  running: COLORS.running,
  'not completed': COLORS.notCompleted,
};

/** Gantt-like bars, one row per chunk. */
export interface GanttOptions {
  readonly spans: readonly ChunkSpan[];
  /** End of the x axis, in milliseconds. */
  readonly xMax: number;
  /** `timeline`: bars at their start time; `duration`: every bar starts at 0 (start times unknown). */
  readonly mode: 'timeline' | 'duration';
  readonly width?: number;
}

const M = { left: 84, right: 40, top: 8, bottom: 30 };
const r = (v: number) => Math.round(v * 10) / 10;

function tooltip(c: ChunkSpan, mode: GanttOptions['mode']): string {
  const when = mode === 'timeline' ? `${formatClock(c.startMs)} → ${formatClock(c.endMs)}, ` : '';
  const extra = [
    c.retries > 0 ? plural(c.retries, 'retry', 'retries') : '',
    c.continuations > 0 ? plural(c.continuations, 'continuation') : '',
  ].filter(Boolean);
  return `chunk ${c.index}: ${when}${formatDuration(c.endMs - c.startMs)}, ${c.status}${extra.length ? `, ${extra.join(', ')}` : ''}`;
}

/**
 * Draws chunk bars as SVG: coloured by status, an amber dot after a bar that was retried and a violet diamond
 * after one that continued in another invocation; each row has a tooltip. Rows shrink to fit ~560 px.
 */
export function ganttChart(o: GanttOptions): SafeHtml {
  const width = o.width ?? 1120;
  const n = o.spans.length;
  const row = Math.max(2, Math.min(18, Math.floor(560 / Math.max(1, n))));
  const bar = Math.max(1.5, row * 0.7);
  const plotW = width - M.left - M.right;
  const height = M.top + n * row + M.bottom;
  const xMax = Math.max(o.xMax, 1);
  const px = (x: number) => r(M.left + (Math.min(Math.max(x, 0), xMax) / xMax) * plotW);
  const labelEvery = row >= 11 ? 1 : Math.ceil(11 / row) * 2;
  const mark = Math.max(2, Math.min(4.5, row / 2));

  const rows = o.spans.map((c, i) => {
    const y = M.top + i * row;
    const x1 = px(c.startMs);
    const x2 = Math.max(px(c.endMs), x1 + 1.5);
    const cy = r(y + row / 2);
    let after = x2 + mark + 2;
    const marks: SafeHtml[] = [];
    if (c.retries > 0) {
      marks.push(markup`<circle cx="${r(after)}" cy="${cy}" r="${mark}" fill="${COLORS.retry}"/>`);
      after += mark * 2 + 2;
    }
    if (c.continuations > 0) {
      const d = `M${r(after - mark)} ${cy}L${r(after)} ${r(cy - mark)}L${r(after + mark)} ${cy}L${r(after)} ${r(cy + mark)}Z`;
      marks.push(markup`<path d="${d}" fill="${COLORS.continuation}"/>`);
    }
    const label =
      i % labelEvery === 0 || i === n - 1
        ? markup`<text class="tick" x="${M.left - 8}" y="${r(cy + 4)}" text-anchor="end">#${c.index}</text>`
        : '';
    const fill = STATUS_COLORS[c.status] ?? COLORS.running;
    return markup`<g><title>${tooltip(c, o.mode)}</title>${label}<rect x="${x1}" y="${r(y + (row - bar) / 2)}" width="${r(x2 - x1)}" height="${r(bar)}" rx="${bar > 6 ? 2 : 0}" fill="${fill}"/>${marks}</g>`;
  });
  const axisY = M.top + n * row;
  const ticks = timeTicks(o.xMax).map(
    (t) => markup`<line class="grid" x1="${px(t.value)}" x2="${px(t.value)}" y1="${M.top}" y2="${axisY}"/>
<text class="tick" x="${px(t.value)}" y="${axisY + 18}" text-anchor="${anchor(px(t.value), M.left + plotW)}">${o.mode === 'duration' && t.value === 0 ? '0' : t.label}</text>`,
  );
  const label = `${o.mode === 'timeline' ? 'chunk timeline' : 'chunk durations'}, ${formatCount(n)} bars`;
  return markup`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">
${joinMarkup(ticks, '\n')}
<line class="axis" x1="${M.left}" x2="${M.left + plotW}" y1="${axisY}" y2="${axisY}"/>
${joinMarkup(rows, '\n')}
</svg>`;
}
