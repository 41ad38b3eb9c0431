import { describe, expect, it } from 'vitest';
import { renderReportHtml, REPORT_LIMITS } from '../../../shared/report/index.js';
import { failedReport, hugeImport, reportFactory, samplesFactory, timelineFactory } from './fixtures.js';
import { foreignMarkup, tagsOf } from './markup.js';

const sections = ['counts', 'throughput', 'memory', 'chunks', 'rejects', 'traffic', 'messages'];

function expectPage(page: string): void {
  expect(page.startsWith('<!doctype html>')).toBe(true);
  expect(foreignMarkup(page)).toEqual([]);
  for (const id of sections) expect(page).toContain(`<section id="${id}">`);
  // Self-contained: nothing in the page points anywhere, and its CSP forbids fetching anyway.
  expect(page).not.toMatch(/\b(src|href)=|url\(|@import|https?:\/\//i);
  expect(page).toContain(`content="default-src 'none'; style-src 'unsafe-inline'`);
}

/** Points of every polyline in the page. */
function polylineSizes(page: string): number[] {
  return [...page.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
}

describe('renderReportHtml', () => {
  it('renders a SUCCEEDED report with its full timeline', () => {
    const report = reportFactory();
    const page = renderReportHtml(report, timelineFactory(report));
    expectPage(page);
    expect(page).toContain('badge-ok');
    expect(page).toContain('5,000,004 = 5,000,004 + 0 + 0 + 0');
    expect(polylineSizes(page)).toHaveLength(4); // keys/s and three shards
    expect(page).toContain('No record was rejected.');
  });

  it('degrades to the JSON report alone: a note for each missing part, no empty charts', () => {
    for (const timeline of [undefined, {}, { samples: [], memory: [], chunks: [], rejectsByReason: [] }]) {
      const page = renderReportHtml(failedReport(), timeline);
      expectPage(page);
      expect(page).toContain('badge-failed');
      expect(page).toContain('No throughput samples were recorded; mean 33,171 keys/s');
      expect(page).toContain('Memory after the load was not read');
      expect(page).toContain('No memory samples were recorded');
      expect(page).toContain('chunk durations, 4 bars');
      expect(page).toContain('Commands per 100 keys were not recorded.');
      expect(polylineSizes(page)).toEqual([]);
    }
  });

  it('handles 0 chunks, no memory snapshots and a single sample', () => {
    const report = reportFactory({
      status: 'FAILED',
      reason: 'PreflightRefusedError: the load would not fit',
      chunks: { planned: 0, completed: 0, failed: 0, notCompleted: 0 },
      counts: { ...reportFactory().counts, read: 0, written: 0, retries: 0, taskRetries: 0 },
      durationMs: 0,
      rowsPerSecond: 0,
      redisMemory: { before: [], after: null, bytesPerKey: null },
      perChunk: [],
    });
    const page = renderReportHtml(report, { samples: samplesFactory(0, 0).slice(0, 1) });
    expectPage(page);
    expect(page).toContain('0 = 0 + 0 + 0 + 0');
    expect(page).toContain('One sample only');
    expect(page).toContain('No Redis memory was recorded.');
    expect(page).toContain('No chunk ran');
    expect(page).not.toContain('NaN');
    expect(page).not.toContain('Infinity');
  });

  it('says when the counts do not reconcile', () => {
    const base = reportFactory();
    const page = renderReportHtml({ ...base, counts: { ...base.counts, read: base.counts.read + 7 } });
    expect(page).toContain('✗ off by 7: records unaccounted for');
  });

  it('stays small for a huge import: charts downsampled, bars and lists capped, with counts of what is left out', () => {
    const { report, timeline } = hugeImport();
    const page = renderReportHtml(report, timeline);
    expectPage(page);
    expect(page.length).toBeLessThan(1_500_000);
    for (const n of polylineSizes(page)) expect(n).toBeLessThanOrEqual(REPORT_LIMITS.chartPoints);
    expect(tagsOf(page).filter((t) => t.name === 'rect')).toHaveLength(REPORT_LIMITS.chunkBars);
    expect(page).toContain('4,700 chunks not drawn');
    expect(page).toContain('86,401 samples drawn as 600 points');
    expect(page).toContain('150 more reasons (37,500 records) not listed.');
    expect(page).toContain('350 more errors not listed.');
    expect(page).toContain('350 more notes not listed.');
    expect(page).toContain('4,950 more objects not listed.');
    expect(page.match(/<div class="example">/g)).toHaveLength(REPORT_LIMITS.rejectReasons * 3);
  });
});
