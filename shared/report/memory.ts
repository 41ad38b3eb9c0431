import type { ShardMemory } from '../import/index.js';
import { legend, lineChart, type RefLine } from './chart.js';
import { downsampleMinMax, type Point } from './downsample.js';
import { formatBytes, formatNumber, formatPercent, plural } from './format.js';
import { markup, type SafeHtml } from './html.js';
import { COLORS, note, REPORT_LIMITS, type RenderContext, section } from './layout.js';
import { byteTicks } from './scale.js';
import type { MemoryProjection, MemorySample } from './types.js';

/** Everything known about one shard's memory. */
interface ShardView {
  readonly shard: string;
  before?: ShardMemory;
  after?: ShardMemory;
  projection?: MemoryProjection;
  samples: MemorySample[];
}

/** Shards in the report's order, then any only the timeline names. */
function shardViews(ctx: RenderContext): ShardView[] {
  const views = new Map<string, ShardView>();
  const view = (shard: string) => {
    let v = views.get(shard);
    if (!v) views.set(shard, (v = { shard, samples: [] }));
    return v;
  };
  for (const m of ctx.report.redisMemory?.before ?? []) view(m.shard).before = m;
  for (const m of ctx.report.redisMemory?.after ?? []) view(m.shard).after = m;
  for (const p of ctx.timeline.projection ?? []) view(p.shard).projection = p;
  for (const s of ctx.timeline.memory ?? []) if (Number.isFinite(s.atMs)) view(s.shard).samples.push(s);
  for (const v of views.values()) v.samples.sort((a, b) => a.atMs - b.atMs);
  return [...views.values()];
}

function maxMemoryOf(v: ShardView): number {
  return (
    v.samples.at(-1)?.maxMemory ?? v.after?.maxMemory ?? v.before?.maxMemory ?? v.projection?.maxMemory ?? 0
  );
}

function peakOf(v: ShardView): number | undefined {
  if (v.samples.length === 0) return undefined;
  return v.samples.reduce((a, s) => Math.max(a, s.usedMemory), 0);
}

const bytesOr = (n: number | undefined) => (n === undefined ? '–' : formatBytes(n));

function table(views: readonly ShardView[]): SafeHtml {
  const shown = views.slice(0, REPORT_LIMITS.shardRows);
  const rows = shown.map((v) => {
    const max = maxMemoryOf(v);
    const after = v.after?.usedMemory;
    const growth = after !== undefined && v.before ? after - v.before.usedMemory : undefined;
    const grew = growth === undefined ? '–' : `${growth >= 0 ? '+' : ''}${formatBytes(growth)}`;
    const peak = peakOf(v);
    const highest = Math.max(after ?? 0, peak ?? 0);
    const fill = max > 0 && highest > 0 ? highest / max : undefined;
    const fillClass = fill !== undefined && fill >= 0.85 ? 'bad' : '';
    return markup`<tr><th>${v.shard}</th><td>${bytesOr(v.before?.usedMemory)}</td><td>${bytesOr(after)}</td><td>${grew}</td><td>${bytesOr(peak)}</td><td>${bytesOr(v.projection?.projectedBytes)}</td><td>${max > 0 ? formatBytes(max) : 'no limit'}</td><td class="${fillClass}">${fill === undefined ? '–' : formatPercent(fill)}</td></tr>`;
  });
  const more =
    views.length > shown.length
      ? note(`${plural(views.length - shown.length, 'more shard')} not listed.`)
      : '';
  return markup`<table class="numbers wide"><thead><tr><th>shard</th><th>used before</th><th>used after</th><th>growth</th><th>peak sampled</th><th>projected</th><th>maxmemory</th><th>highest / max</th></tr></thead><tbody>
${rows}
</tbody></table>${more}`;
}

function shardChart(v: ShardView, xMax: number): SafeHtml {
  const max = maxMemoryOf(v);
  const points: Point[] = v.samples.map((s) => ({ x: s.atMs, y: s.usedMemory }));
  const refs: RefLine[] = [];
  if (max > 0) refs.push({ y: max, label: `maxmemory ${formatBytes(max)}`, color: COLORS.limit });
  if (v.projection)
    refs.push({
      y: v.projection.projectedBytes,
      label: `projected ${formatBytes(v.projection.projectedBytes)}`,
      color: COLORS.projection,
      dashed: true,
    });
  const peak = peakOf(v) ?? 0;
  const headline =
    max > 0
      ? `peak ${formatBytes(peak)} of ${formatBytes(max)} (${formatPercent(peak / max)})`
      : `peak ${formatBytes(peak)}, no maxmemory: nothing stops this shard short of the kernel's OOM killer`;
  const chart = lineChart({
    label: `used_memory of ${v.shard} over time`,
    series: [
      {
        name: 'used_memory',
        color: COLORS.written,
        points: downsampleMinMax(points, REPORT_LIMITS.chartPoints),
      },
    ],
    refLines: refs,
    xMax,
    yTicks: (m) => byteTicks(m, 4),
    width: 560,
    height: 210,
  });
  return markup`<figure class="shard"><figcaption><strong>${v.shard}</strong> — ${headline}</figcaption>
${chart}
</figure>`;
}

/** Redis memory per shard: before/after/projection table, bytes per key, and used_memory over time. */
export function memorySection(ctx: RenderContext): SafeHtml {
  const views = shardViews(ctx);
  if (views.length === 0) return section('memory', 'Redis memory', note('No Redis memory was recorded.'));
  const bpk = ctx.report.redisMemory?.bytesPerKey;
  const lead =
    typeof bpk === 'number'
      ? markup`<p class="lead"><strong>${formatNumber(bpk, 1)} bytes per key</strong>: growth of used_memory over all shards divided by the keys written.</p>`
      : note(
          ctx.report.redisMemory?.after
            ? 'No bytes per key: nothing was written.'
            : 'Memory after the load was not read, so there is no growth or bytes per key.',
        );
  const sampled = views.filter((v) => v.samples.length > 0);
  const drawn = sampled.slice(0, REPORT_LIMITS.shardCharts);
  const undrawn =
    sampled.length > drawn.length
      ? note(
          `${plural(sampled.length - drawn.length, 'more shard')} sampled but not drawn (the table lists them).`,
        )
      : '';
  const key = legend([
    { name: 'used_memory', color: COLORS.written },
    { name: 'maxmemory', color: COLORS.limit },
    { name: 'pre-flight projection', color: COLORS.projection, kind: 'dashed' },
  ]);
  const charts =
    sampled.length === 0
      ? note(
          'No memory samples were recorded during the load; the table shows the snapshots before and after.',
        )
      : markup`${key}
<div class="shards">${drawn.map((v) => shardChart(v, ctx.xMax))}</div>
${undrawn}`;
  return section('memory', 'Redis memory', markup`${lead}${table(views)}${charts}`);
}
