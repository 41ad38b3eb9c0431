import type { ImportReport } from '../import/index.js';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatNumber,
  formatPercent,
  formatTimestamp,
  truncate,
} from './format.js';
import { markup, type SafeHtml } from './html.js';
import { COLORS, nonNegative, REPORT_LIMITS, type RenderContext, section } from './layout.js';

const BADGES: Record<string, string> = { SUCCEEDED: 'ok', PARTIAL: 'partial', FAILED: 'failed' };

function sourceName(source: ImportReport['source']): string {
  const bucket = typeof source?.bucket === 'string' ? source.bucket : '';
  const key = typeof source?.key === 'string' ? source.key : '';
  return bucket === '' ? key : `s3://${bucket}/${key}`;
}

function tile(label: string, value: string, detail?: string): SafeHtml {
  const below = detail === undefined ? '' : markup`<div class="tile-detail">${detail}</div>`;
  return markup`<div class="tile"><div class="tile-label">${label}</div><div class="tile-value">${value}</div>${below}</div>`;
}

/** The page header: import id, status badge, reason, source and the headline numbers. */
export function headerSection({ report }: RenderContext): SafeHtml {
  const status = String(report.status);
  const badge = BADGES[status] ?? 'unknown';
  const c = report.counts;
  const chunks = report.chunks;
  const meta: [string, string][] = [['source', sourceName(report.source)]];
  if (report.source?.etag) meta.push(['etag', report.source.etag]);
  if (typeof report.source?.size === 'number') meta.push(['size', formatBytes(report.source.size)]);
  if (report.model) meta.push(['model', report.model]);
  // The cutover: which version was loaded, and whether readers see it now (or why not).
  if (report.dataset)
    meta.push([`dataset ${report.dataset.name} v${report.dataset.version}`, report.dataset.message]);
  if (report.requestedAt) meta.push(['requested', formatTimestamp(report.requestedAt)]);
  if (report.startedAt) meta.push(['started', formatTimestamp(report.startedAt)]);
  meta.push(['finished', formatTimestamp(report.finishedAt)]);
  const bpk = report.redisMemory?.bytesPerKey;
  const reason = report.reason
    ? markup`<p class="reason">${truncate(report.reason, REPORT_LIMITS.textChars)}</p>`
    : '';
  return markup`<header class="head">
<div class="title-row"><h1>Import <span class="id">${report.importId}</span></h1><span class="badge badge-${badge}">${status}</span></div>
${reason}
<dl class="meta">${meta.map(([k, v]) => markup`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
<div class="tiles">
${tile('written', formatCount(c.written), `of ${formatCount(c.read)} read`)}
${tile('rejected', formatCount(c.rejected), c.read > 0 ? formatPercent(c.rejected / c.read) : undefined)}
${tile('duration', formatDuration(report.durationMs))}
${tile('keys/s', formatCount(report.rowsPerSecond), 'written, mean')}
${tile('bytes/key', typeof bpk === 'number' ? formatNumber(bpk, 1) : '–', 'used_memory growth')}
${tile('chunks', `${formatCount(chunks.completed)} / ${formatCount(chunks.planned)}`, 'completed / planned')}
</div>
</header>`;
}

/** The counters, the reconciliation equation and the composition of what was read. */
export function countsSection({ report }: RenderContext): SafeHtml {
  const c = report.counts;
  const parts = [
    { name: 'written', value: nonNegative(c.written), color: COLORS.written },
    { name: 'rejected', value: nonNegative(c.rejected), color: COLORS.rejected },
    { name: 'skipped', value: nonNegative(c.skipped), color: COLORS.skipped },
    { name: 'unsettled', value: nonNegative(c.unsettled), color: COLORS.unsettled },
  ];
  const read = nonNegative(c.read);
  const sum = parts.reduce((a, p) => a + p.value, 0);
  const diff = read - sum;
  const verdict =
    diff === 0
      ? markup`<span class="ok">✓ reconciled</span>`
      : markup`<span class="bad">✗ off by ${formatCount(diff)}: ${diff > 0 ? 'records unaccounted for' : 'more outcomes than records read'}</span>`;
  const total = Math.max(read, sum, 1);
  const bar = parts
    .filter((p) => p.value > 0)
    .map((p) => {
      const width = Math.max(0.4, (p.value / total) * 100).toFixed(2);
      return markup`<span style="width: ${width}%; background: ${p.color}" title="${p.name}: ${formatCount(p.value)}"></span>`;
    });
  const rows = parts.map(
    (p) =>
      markup`<tr><th><i class="swatch box" style="--c: ${p.color}"></i>${p.name}</th><td>${formatCount(p.value)}</td><td>${read > 0 ? formatPercent(p.value / read) : '–'}</td></tr>`,
  );
  const extra: [string, number, string][] = [
    ['pipeline retries', c.retries, 'connection lost, server loading or busy'],
    ['task retries', c.taskRetries, 'chunk invocations retried by Step Functions'],
    ['command errors', c.commandErrors, 'auxiliary commands (EXPIRE) refused; their records stay written'],
    ['server resets', c.serverResets, 'a shard restarted or failed over; its range was loaded again'],
  ];
  const events = extra.map(
    ([name, n, why]) =>
      markup`<tr><th>${name}</th><td>${formatCount(nonNegative(n))}</td><td class="why">${why}</td></tr>`,
  );
  return section(
    'counts',
    'Records',
    markup`<p class="equation"><code>read = written + rejected + skipped + unsettled</code><br>
<code>${formatCount(read)} = ${parts.map((p) => formatCount(p.value)).join(' + ')}</code> ${verdict}</p>
<div class="stack" role="img" aria-label="composition of the records read">${bar}</div>
<div class="two-col">
<table class="numbers"><thead><tr><th>outcome</th><th>records</th><th>of read</th></tr></thead><tbody>
<tr class="total"><th>read</th><td>${formatCount(read)}</td><td>${read > 0 ? '100.0 %' : '–'}</td></tr>
${rows}
</tbody></table>
<table class="numbers"><thead><tr><th>event</th><th>count</th><th></th></tr></thead><tbody>
${events}
</tbody></table>
</div>`,
  );
}
