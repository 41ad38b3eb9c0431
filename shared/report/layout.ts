import type { ImportReport } from '../import/index.js';
import { markup, type MarkupValue, type SafeHtml } from './html.js';
import type { ReportTimeline } from './types.js';

/**
 * Bounds that keep the file small whatever the import's size: a 100,000-chunk import with a sample every
 * second for a day still renders to well under a megabyte.
 */
export const REPORT_LIMITS = {
  /** Points per line in a chart (samples are downsampled to this). */
  chartPoints: 600,
  /** Bars in the chunk timeline (the rest are counted, not drawn). */
  chunkBars: 300,
  /** Shards with their own memory chart. */
  shardCharts: 12,
  /** Rows in the memory table. */
  shardRows: 64,
  /** Reject reasons listed. */
  rejectReasons: 50,
  /** Examples per reject reason. */
  rejectExamples: 3,
  /** Characters of a raw record or a reject reason shown. */
  rawChars: 300,
  /** Characters of a reason, an error message or a note. */
  textChars: 1000,
  /** Errors, notes and rejects objects listed. */
  listItems: 50,
} as const;

/** The palette: one meaning per colour across every chart. */
export const COLORS = {
  written: '#2563eb',
  rejected: '#d97706',
  skipped: '#94a3b8',
  unsettled: '#7c3aed',
  limit: '#dc2626',
  projection: '#7c3aed',
  mean: '#64748b',
  completed: '#3b82f6',
  failed: '#dc2626',
  running: '#94a3b8',
  notCompleted: '#cbd5e1',
  retry: '#d97706',
  continuation: '#7c3aed',
} as const;

/** What every section renders from. */
export interface RenderContext {
  readonly report: ImportReport;
  readonly timeline: ReportTimeline;
  /** End of the time axis shared by all charts: the last moment any timeline entry or the report knows. */
  readonly xMax: number;
}

/** A titled section of the page. */
export function section(id: string, title: string, body: MarkupValue): SafeHtml {
  return markup`<section id="${id}"><h2>${title}</h2>
${body}
</section>`;
}

/** A muted sentence: what is missing, or how the data was thinned. */
export function note(text: MarkupValue): SafeHtml {
  return markup`<p class="note">${text}</p>`;
}

/** Finite and at least 0, or 0: numbers in a report read back from JSON may be anything. */
export function nonNegative(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}
