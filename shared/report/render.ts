import type { ImportReport } from '../import/index.js';
import { chunksSection } from './chunks.js';
import { formatTimestamp } from './format.js';
import { markup, SafeHtml } from './html.js';
import type { RenderContext } from './layout.js';
import { memorySection } from './memory.js';
import { messagesSection, trafficSection } from './messages.js';
import { rejectsSection } from './rejects.js';
import { STYLE } from './style.js';
import { countsSection, headerSection } from './summary.js';
import { throughputSection } from './throughput.js';
import type { ReportTimeline } from './types.js';

/**
 * Scripts, fonts, images and connections are all forbidden by the page itself: it is pure HTML, CSS and inline
 * SVG, so opening it fetches nothing, and even a rendering bug could not run a record's text as script.
 */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** The end of the shared time axis: the latest moment the report or any timeline entry knows of. */
function timeAxisEnd(report: ImportReport, t: ReportTimeline): number {
  let end = Number.isFinite(report.durationMs) ? report.durationMs : 0;
  const see = (ms: number) => {
    if (Number.isFinite(ms) && ms > end) end = ms;
  };
  for (const s of t.samples ?? []) see(s.atMs);
  for (const s of t.memory ?? []) see(s.atMs);
  for (const c of t.chunks ?? []) see(c.endMs);
  return Math.max(end, 1);
}

/**
 * Renders an import report as one self-contained HTML page: status and reason, the reconciled counts, keys/s
 * over time, each shard's used_memory against maxmemory and the pre-flight's projection, the chunk timeline,
 * rejects by reason with examples, commands per 100 keys, errors and notes. Every string from the report or
 * the timeline is escaped; charts are inline SVG downsampled to at most 600 points, and long lists are cut
 * (see `REPORT_LIMITS`), so the page stays small whatever the import's size. Without a timeline (or with an
 * empty one) each section says what was not recorded and shows what the JSON report has.
 *
 * @param report - the JSON report import-finish writes to `reports/<importId>.json`.
 * @param timeline - what the engine sampled during the load; optional, and every part of it is optional.
 * @returns the HTML document, UTF-8 text.
 *
 * @example
 * import { writeFile } from 'node:fs/promises';
 * import { renderReportHtml } from '../report/index.js';
 * await writeFile(`reports/${report.importId}.html`, renderReportHtml(report, { samples, chunks }));
 */
export function renderReportHtml(report: ImportReport, timeline: ReportTimeline = {}): string {
  const ctx: RenderContext = { report, timeline, xMax: timeAxisEnd(report, timeline) };
  const page = markup`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${new SafeHtml(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${String(report.status)} · import ${report.importId}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<main>
${headerSection(ctx)}
${countsSection(ctx)}
${throughputSection(ctx)}
${memorySection(ctx)}
${chunksSection(ctx)}
${rejectsSection(ctx)}
${trafficSection(ctx)}
${messagesSection(ctx)}
<footer>redis-bulk-loader import report · finished ${formatTimestamp(report.finishedAt)} · a self-contained file: nothing is fetched when it is opened</footer>
</main>
</body>
</html>
`;
  return page.html;
}
