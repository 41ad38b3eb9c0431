import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ImportReport } from '../../../shared/import/index.js';
import { escapeHtml, markup } from '../../../shared/report/html.js';
import { renderReportHtml, type ReportTimeline } from '../../../shared/report/index.js';
import { chunkStatsFactory, reportFactory, timelineFactory } from './fixtures.js';
import { HOSTILE } from './hostile.js';
import { foreignMarkup, tagsOf } from './markup.js';

/** Strings that try hard to be markup: hostile payloads, markup-heavy alphabets, and any code points. */
const text = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({
    unit: fc.constantFrom('<', '>', '&', '"', "'", '/', '=', ' ', '!', '-', 's', 'c', 'r', 'i', 'p', 't'),
  }),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

/** Every user-provided string of a report and its timeline. */
const fields = fc.record({
  importId: text,
  reason: text,
  bucket: text,
  key: text,
  etag: text,
  model: text,
  errorName: text,
  errorMessage: text,
  note: text,
  rejectsObject: text,
  shardA: text,
  shardB: text,
  rejectReason: text,
  raw: fc.array(text, { minLength: 1, maxLength: 3 }),
  status: fc.constantFrom('SUCCEEDED', 'PARTIAL', 'FAILED', '<b>x</b>'),
});
type Fields = typeof fields extends fc.Arbitrary<infer T> ? T : never;

function build(f: Fields): { report: ImportReport; timeline: ReportTimeline } {
  const base = reportFactory();
  const shards = [f.shardA, f.shardB];
  const report: ImportReport = {
    ...base,
    importId: f.importId,
    status: f.status as ImportReport['status'],
    reason: f.reason,
    source: { bucket: f.bucket, key: f.key, etag: f.etag },
    model: f.model,
    rejects: { count: 3, objects: [f.rejectsObject] },
    redisMemory: {
      before: shards.map((shard) => ({ shard, usedMemory: 1, maxMemory: 100 })),
      after: shards.map((shard) => ({ shard, usedMemory: 50, maxMemory: 100 })),
      bytesPerKey: 1,
    },
    errors: [{ name: f.errorName, message: f.errorMessage, chunk: 1 }],
    notes: [f.note],
    perChunk: [
      chunkStatsFactory(0, { rejectsObjects: [f.rejectsObject] }),
      { index: 1, status: 'not completed' },
    ],
  };
  const timeline: ReportTimeline = {
    ...timelineFactory(base),
    memory: shards.flatMap((shard) =>
      [0, 1000].map((atMs) => ({ atMs, shard, usedMemory: 10, maxMemory: 100 })),
    ),
    projection: shards.map((shard) => ({ shard, projectedBytes: 60, maxMemory: 100 })),
    rejectsByReason: [
      {
        reason: f.rejectReason,
        count: 3,
        examples: f.raw.map((raw, i) => ({ line: i + 1, offset: i, raw })),
      },
    ],
  };
  return { report, timeline };
}

/** The same strings with the markup characters swapped for private-use ones: same lengths, same equalities. */
function defanged(f: Fields): Fields {
  const swap = (s: string) => s.replace(/[<>&"']/g, (c) => String.fromCharCode(0xe000 + '<>&"\''.indexOf(c)));
  return Object.fromEntries(
    Object.entries(f).map(([k, v]) => [
      k,
      Array.isArray(v) ? v.map(swap) : k === 'status' ? v : swap(v as string),
    ]),
  ) as Fields;
}

const skeleton = (markup: string) => tagsOf(markup).map((t) => `${t.name}(${t.attributes.join(',')})`);

describe('escaping', () => {
  it('escapes the five markup characters and leaves other text alone', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
    );
    expect(escapeHtml('plain ünïcödé 🚀')).toBe('plain ünïcödé 🚀');
    expect(markup`<td title="${'"><script>'}">${['<b>', markup`<b>ok</b>`]}</td>`.html).toBe(
      '<td title="&quot;&gt;&lt;script&gt;">&lt;b&gt;<b>ok</b></td>',
    );
    expect(markup`<x y="${Number.NaN}">${null}${undefined}${false}</x>`.html).toBe('<x y="0"></x>');
  });

  it('no string in any user-provided field ever becomes an element or an attribute', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const { report, timeline } = build(f);
        const page = renderReportHtml(report, timeline);
        // Every "<" opens one of the report's own elements; none carries an event handler.
        expect(foreignMarkup(page)).toEqual([]);
        // And the page has exactly the structure it has when the same strings hold no markup characters.
        const plain = build(defanged(f));
        expect(skeleton(page)).toEqual(skeleton(renderReportHtml(plain.report, plain.timeline)));
      }),
      { numRuns: 150 },
    );
  });
});
