import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportReport } from '../../../shared/import/index.js';
import { renderReportHtml, type ReportTimeline } from '../../../shared/report/index.js';
import { inkRatio, loadPage } from '../../support/chromium.js';
import { failedReport, hugeImport, reportFactory, timelineFactory } from '../../unit/report/fixtures.js';
import { hostileReport, PWNED } from '../../unit/report/hostile.js';
import { foreignMarkup, tagsOf } from '../../unit/report/markup.js';

// Without Chromium every test fails (never skips), saying to run scripts/bootstrap.sh.
// Screenshots land in REPORT_SCREENSHOTS when set (to look at them), otherwise in a temporary folder.
const keep = process.env.REPORT_SCREENSHOTS;
let dir = '';

beforeAll(async () => {
  dir = keep ?? (await mkdtemp(join(tmpdir(), 'html-report-')));
  await mkdir(dir, { recursive: true });
});

afterAll(async () => {
  if (!keep && dir) await rm(dir, { recursive: true, force: true });
});

/** Renders, opens in Chromium (screenshot and the DOM after load) and checks what every page needs. */
async function open(name: string, report: ImportReport, timeline?: ReportTimeline): Promise<string> {
  const file = join(dir, `${name}.html`);
  await writeFile(file, renderReportHtml(report, timeline));
  const page = await loadPage(file, join(dir, `${name}.png`), { width: 1280, height: 2000 });
  // The page forbids scripts and fetches by CSP: any refused load or inline script would be logged here too.
  expect(page.console).toEqual([]);
  expect(page.image.width).toBe(1280);
  // Text, tables and charts ink well over 2 % of a 1280×2000 viewport; a blank or unstyled page does not.
  expect(inkRatio(page.image)).toBeGreaterThan(0.02);
  return page.dom;
}

describe('HTML import report in headless Chromium', () => {
  it('the blank-page check can fail: an empty page inks nothing', async () => {
    const file = join(dir, 'blank.html');
    await writeFile(file, '<!doctype html><title>blank</title><body style="background: #f1f5f9"></body>');
    const page = await loadPage(file, join(dir, 'blank.png'));
    expect(page.console).toEqual([]);
    expect(page.image.height).toBe(2000);
    expect(inkRatio(page.image)).toBe(0);
  });

  it('SUCCEEDED with a full timeline: every section, charts and numbers', async () => {
    const report = reportFactory();
    const dom = await open('succeeded', report, timelineFactory(report));
    expect(dom).toContain('>SUCCEEDED<');
    expect(dom).toContain('5,000,004 = 5,000,004 + 0 + 0 + 0');
    expect(dom).toContain('✓ reconciled');
    for (const id of ['counts', 'throughput', 'memory', 'chunks', 'rejects', 'traffic', 'messages'])
      expect(dom).toContain(`<section id="${id}">`);
    expect(dom).toContain('aria-label="keys written per second over time"');
    expect(dom).toContain('aria-label="used_memory of redis://10.0.1.13:6379/0 over time"');
    expect(dom).toContain('aria-label="chunk timeline, 12 bars"');
    expect(dom).toContain('maxmemory 48.0 MiB');
    expect(dom).toContain('projected 26.0 MiB');
    expect(dom).toContain('11.7 bytes per key');
    expect(dom).toContain('1.1 commands per 100 keys');
    expect(dom).toContain('69,445');
  });

  it('FAILED without a timeline: reason, failed chunks and errors, and a note for each missing chart', async () => {
    const dom = await open('failed', failedReport());
    expect(dom).toContain('>FAILED<');
    expect(dom).toContain("RedisOutOfMemoryError: OOM command not allowed when used memory &gt; 'maxmemory'");
    expect(dom).toContain('✓ reconciled');
    expect(dom).toContain('No throughput samples were recorded');
    expect(dom).toContain('No memory samples were recorded');
    expect(dom).toContain('aria-label="chunk durations, 4 bars"');
    expect(dom).toContain('Failed: chunk 3.');
    expect(dom).toContain('Not completed (no stats): chunk 4, 5.');
    expect(dom).toContain('Commands per 100 keys were not recorded.');
  });

  it('PARTIAL with hostile rejects: shown as text, and no injected script or handler runs', async () => {
    const { report, timeline } = hostileReport();
    const dom = await open('partial-hostile', report, timeline);
    expect(dom).toContain('>PARTIAL<');
    // Had any input become markup, its script or handler would have set this attribute on <html>.
    expect(dom).not.toContain(PWNED + '="');
    // Every "<" in the DOM opens one of the report's own elements, none with an event handler.
    expect(foreignMarkup(dom)).toEqual([]);
    expect(tagsOf(dom).filter((t) => t.name === 'style')).toHaveLength(1);
    expect(dom).toContain('&lt;script&gt;document.documentElement.setAttribute');
    expect(dom).toContain('12 records rejected');
    expect(dom).toContain('line 10 · byte 0');
  });

  it('thousands of chunks and a day of samples: a bounded page that still draws', async () => {
    const { report, timeline } = hugeImport();
    const dom = await open('huge', report, timeline);
    expect(dom).toContain('4,700 chunks not drawn: 300 bars shown');
    expect(dom).toContain('aria-label="chunk timeline, 300 bars"');
    expect(dom).toContain('86,401 samples drawn as 600 points');
    expect(dom).toContain('Failed: chunk 4321.');
  });
});
