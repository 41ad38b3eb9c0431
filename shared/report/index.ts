/**
 * The import report as a page people can look at: one self-contained HTML file (inline CSS and SVG, no
 * scripts, nothing fetched when opened) rendered from the JSON report and, optionally, a timeline the engine
 * sampled during the load.
 *
 * @example
 * import { writeFile } from 'node:fs/promises';
 * import { renderReportHtml, type ReportTimeline } from '../report/index.js';
 * const timeline: ReportTimeline = { samples, memory, projection, chunks, rejectsByReason, commandsPer100Keys };
 * await writeFile(`${report.importId}.html`, renderReportHtml(report, timeline));
 *
 * @module
 */
export { REPORT_LIMITS } from './layout.js';
export { renderReportHtml } from './render.js';
export type {
  ChunkSpan,
  ChunkSpanStatus,
  MemoryProjection,
  MemorySample,
  Redirects,
  RejectExample,
  RejectReason,
  ReportTimeline,
  ThroughputSample,
} from './types.js';
