import { legend, lineChart, type Series } from './chart.js';
import { type Point, thinEvenly } from './downsample.js';
import { formatBytes, formatClock, formatCount, formatDuration, plural } from './format.js';
import { markup, type SafeHtml } from './html.js';
import { COLORS, note, REPORT_LIMITS, type RenderContext, section } from './layout.js';
import { countTicks } from './scale.js';
import type { ThroughputSample } from './types.js';

/** Samples in time order, with nonsense (non-finite times) dropped. */
export function orderedSamples(samples: readonly ThroughputSample[] | undefined): ThroughputSample[] {
  return (samples ?? []).filter((s) => Number.isFinite(s.atMs)).sort((a, b) => a.atMs - b.atMs);
}

/**
 * Per-second rates between consecutive (thinned) cumulative samples, plotted at the later sample. A counter that
 * went down (a range replayed after a server reset) gives 0, not a negative rate.
 */
export function ratesOf(
  samples: readonly ThroughputSample[],
  field: 'written' | 'rejected' | 'bytesRead',
): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i]!.atMs - samples[i - 1]!.atMs;
    if (dt <= 0) continue;
    const dv = samples[i]![field] - samples[i - 1]![field];
    out.push({ x: samples[i]!.atMs, y: Number.isFinite(dv) ? Math.max(0, (dv / dt) * 1000) : 0 });
  }
  return out;
}

/** Keys written per second over time, against the mean; rejects per second when there were any. */
export function throughputSection({ report, timeline, xMax }: RenderContext): SafeHtml {
  const mean = report.rowsPerSecond;
  const meanText = `mean ${formatCount(mean)} keys/s (${formatCount(report.counts.written)} written in ${formatDuration(report.durationMs)})`;
  const samples = orderedSamples(timeline.samples);
  if (samples.length === 0)
    return section(
      'throughput',
      'Keys per second',
      note(`No throughput samples were recorded; ${meanText}.`),
    );
  if (samples.length === 1) {
    const s = samples[0]!;
    return section(
      'throughput',
      'Keys per second',
      note(
        `One sample only (at ${formatClock(s.atMs)}: ${formatCount(s.written)} written), too few for a rate; ${meanText}.`,
      ),
    );
  }
  // One more sample than points: n samples give n - 1 rates.
  const kept = thinEvenly(samples, REPORT_LIMITS.chartPoints + 1);
  const written = ratesOf(kept, 'written');
  const rejected = ratesOf(kept, 'rejected');
  const series: Series[] = [{ name: 'written keys/s', color: COLORS.written, points: written }];
  const peak = written.reduce((a, p) => (p.y > a.y ? p : a), written[0] ?? { x: 0, y: 0 });
  const rejectPeak = rejected.reduce((a, p) => Math.max(a, p.y), 0);
  // On the keys/s scale a trickle of rejects is a flat line at 0: draw it only when it would show.
  if (rejectPeak >= peak.y / 100)
    series.push({ name: 'rejected records/s', color: COLORS.rejected, points: rejected });
  const first = kept[0]!;
  const last = kept.at(-1)!;
  const span = last.atMs - first.atMs;
  const readRate = span > 0 ? ((last.bytesRead - first.bytesRead) / span) * 1000 : 0;
  const thinned =
    kept.length < samples.length
      ? `${plural(samples.length, 'sample')} drawn as ${formatCount(kept.length - 1)} points (each the mean over its interval).`
      : '';
  const rejects = rejectPeak > 0 ? `; rejects peaked at ${formatCount(rejectPeak)}/s` : '';
  const chart = lineChart({
    label: 'keys written per second over time',
    series,
    refLines: mean > 0 ? [{ y: mean, label: 'mean', color: COLORS.mean, dashed: true }] : [],
    xMax,
    yTicks: (max) => countTicks(max),
  });
  return section(
    'throughput',
    'Keys per second',
    markup`<p class="lead">Peak <strong>${formatCount(peak.y)} keys/s</strong> at ${formatClock(peak.x)}; ${meanText}; source read at ${formatBytes(readRate)}/s${rejects}.</p>
${legend([...series, { name: `mean ${formatCount(mean)} keys/s`, color: COLORS.mean, kind: 'dashed' }])}
${chart}
${thinned ? note(thinned) : ''}`,
  );
}
