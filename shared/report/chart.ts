import type { Point } from './downsample.js';
import { joinMarkup, markup, type SafeHtml } from './html.js';
import { type Tick, timeTicks } from './scale.js';

/** One line of a chart. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly Point[];
  readonly dashed?: boolean;
}

/** A horizontal reference line (maxmemory, the projection, the mean rate), labelled above its right end. */
export interface RefLine {
  readonly y: number;
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
}

/** A time-series line chart as inline SVG. */
export interface LineChartOptions {
  /** For screen readers (`aria-label`). */
  readonly label: string;
  readonly series: readonly Series[];
  readonly refLines?: readonly RefLine[];
  /** The time axis runs from 0 to this many milliseconds after the import start. */
  readonly xMax: number;
  /** Ticks of the value axis; its last tick is the top of the chart. */
  readonly yTicks: (max: number) => Tick[];
  readonly width?: number;
  readonly height?: number;
}

const M = { left: 76, right: 16, top: 16, bottom: 28 };

/** One decimal is finer than a pixel and keeps 600-point lines short. */
const r = (v: number) => Math.round(v * 10) / 10;

/** A time label centred on its tick, except the last one near the right edge, which would be cut off. */
export function anchor(x: number, right: number): 'middle' | 'end' {
  return right - x < 28 ? 'end' : 'middle';
}

/**
 * Draws a line chart: grid, labelled axes (time on x), one polyline per series and dashed reference lines.
 * Points must already be downsampled; a series of one point is drawn as a dot.
 */
export function lineChart(o: LineChartOptions): SafeHtml {
  const width = o.width ?? 1120;
  const height = o.height ?? 240;
  const plotW = width - M.left - M.right;
  const plotH = height - M.top - M.bottom;
  const yMaxData = Math.max(
    0,
    ...o.series.flatMap((s) => s.points.map((p) => p.y)),
    ...(o.refLines ?? []).map((l) => l.y),
  );
  const yTicks = o.yTicks(yMaxData * 1.05);
  const yTop = yTicks.at(-1)?.value || 1;
  const xTicks = timeTicks(o.xMax);
  const xMax = Math.max(o.xMax, 1);
  const right = M.left + plotW;
  const bottom = M.top + plotH;
  const px = (x: number) => r(M.left + (Math.min(Math.max(x, 0), xMax) / xMax) * plotW);
  const py = (y: number) => r(bottom - (Math.min(Math.max(y, 0), yTop) / yTop) * plotH);

  const grid = yTicks.map(
    (t) => markup`<line class="grid" x1="${M.left}" x2="${right}" y1="${py(t.value)}" y2="${py(t.value)}"/>
<text class="tick" x="${M.left - 8}" y="${py(t.value) + 4}" text-anchor="end">${t.label}</text>`,
  );
  const xAxis = xTicks.map((t) => {
    const x = px(t.value);
    return markup`<line class="axis" x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}"/>
<text class="tick" x="${x}" y="${bottom + 18}" text-anchor="${anchor(x, right)}">${t.label}</text>`;
  });
  const refs = (o.refLines ?? []).map((l) => {
    const y = py(l.y);
    const dash = l.dashed ? markup` stroke-dasharray="6 4"` : '';
    return markup`<line x1="${M.left}" x2="${right}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="1.5"${dash}/>
<text class="ref" x="${right - 4}" y="${y - 5}" text-anchor="end" fill="${l.color}">${l.label}</text>`;
  });
  const lines = o.series.map((s) => {
    if (s.points.length === 0) return '';
    if (s.points.length === 1)
      return markup`<circle cx="${px(s.points[0]!.x)}" cy="${py(s.points[0]!.y)}" r="4" fill="${s.color}"/>`;
    const pts = s.points.map((p) => `${px(p.x)},${py(p.y)}`).join(' ');
    return markup`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round"${s.dashed ? markup` stroke-dasharray="5 4"` : ''}/>`;
  });
  return markup`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${o.label}">
${joinMarkup(grid, '\n')}
<line class="axis" x1="${M.left}" x2="${right}" y1="${bottom}" y2="${bottom}"/>
${joinMarkup(xAxis, '\n')}
${joinMarkup(refs, '\n')}
${joinMarkup(lines, '\n')}
</svg>`;
}

/** How a legend entry is drawn: a line (solid or dashed), a bar, or a chunk marker. */
export type LegendKind = 'line' | 'dashed' | 'box' | 'dot' | 'diamond';

/** A legend: a coloured swatch and a name per entry. */
export function legend(entries: readonly { name: string; color: string; kind?: LegendKind }[]): SafeHtml {
  const items = entries.map(
    (e) => markup`<span><i class="swatch ${e.kind ?? 'line'}" style="--c: ${e.color}"></i>${e.name}</span>`,
  );
  return markup`<div class="legend">${items}</div>`;
}
