import { formatCount, formatPercent, plural, truncate } from './format.js';
import { markup, type SafeHtml } from './html.js';
import { note, REPORT_LIMITS, type RenderContext, section } from './layout.js';
import type { RejectExample, RejectReason } from './types.js';

function example(e: RejectExample): SafeHtml {
  const where = [e.line === undefined ? '' : `line ${formatCount(e.line)}`, `byte ${formatCount(e.offset)}`]
    .filter(Boolean)
    .join(' · ');
  const raw = truncate(String(e.raw), REPORT_LIMITS.rawChars);
  return markup`<div class="example"><span class="where">${where}</span><pre>${raw}</pre></div>`;
}

function reasonsTable(reasons: readonly RejectReason[], total: number): SafeHtml {
  const sorted = [...reasons].sort((a, b) => b.count - a.count);
  const shown = sorted.slice(0, REPORT_LIMITS.rejectReasons);
  const rest = sorted.slice(shown.length);
  const rows = shown.map((r) => {
    const reason = truncate(String(r.reason), REPORT_LIMITS.rawChars);
    const examples = (r.examples ?? []).slice(0, REPORT_LIMITS.rejectExamples).map(example);
    const share = total > 0 ? formatPercent(r.count / total) : '–';
    return markup`<tr><td class="reason-text">${reason}</td><td>${formatCount(r.count)}</td><td>${share}</td><td>${examples}</td></tr>`;
  });
  const restCount = rest.reduce((a, r) => a + r.count, 0);
  const more =
    rest.length > 0
      ? note(`${plural(rest.length, 'more reason')} (${plural(restCount, 'record')}) not listed.`)
      : '';
  return markup`<table class="numbers wide rejects"><thead><tr><th>reason</th><th>records</th><th>of rejects</th><th>examples</th></tr></thead><tbody>
${rows}
</tbody></table>${more}`;
}

function objectsList(objects: readonly string[]): SafeHtml {
  if (objects.length === 0) return markup``;
  const shown = objects.slice(0, REPORT_LIMITS.listItems);
  const more =
    objects.length > shown.length
      ? note(`${plural(objects.length - shown.length, 'more object')} not listed.`)
      : '';
  return markup`<p>Every rejected record, with its line, byte offset and reason, is in:</p>
<ul class="objects">${shown.map((o) => markup`<li><code>${o}</code></li>`)}</ul>
${more}`;
}

/** Rejected records by reason, with escaped examples, and where the full rejects files are. */
export function rejectsSection({ report, timeline }: RenderContext): SafeHtml {
  const count = report.rejects?.count ?? report.counts.rejected;
  const objects = report.rejects?.objects ?? [];
  const reasons = timeline.rejectsByReason ?? [];
  if (count === 0 && reasons.length === 0)
    return section('rejects', 'Rejected records', note('No record was rejected.'));
  const body =
    reasons.length > 0
      ? reasonsTable(reasons, count)
      : note('Reasons were not recorded with this report; the rejects objects below list each record.');
  const ofRead = report.counts.read > 0 ? ` (${formatPercent(count / report.counts.read)} of read)` : '';
  return section(
    'rejects',
    'Rejected records',
    markup`<p class="lead">${plural(count, 'record')} rejected${ofRead}.</p>
${body}
${objectsList(objects)}`,
  );
}
