import type { ImportReport } from '../../../shared/import/index.js';
import type { ReportTimeline } from '../../../shared/report/index.js';
import { chunkStatsFactory, reportFactory, samplesFactory } from './fixtures.js';

/** The attribute an injected script or handler would set on `<html>` if the page ever ran one. */
export const PWNED = 'data-pwned';

/** Record texts that would run script if a renderer pasted them into HTML, SVG or an attribute. */
export const HOSTILE = [
  `<script>document.documentElement.setAttribute('${PWNED}','script')</script>`,
  `<img src=x onerror="document.documentElement.setAttribute('${PWNED}','img')">`,
  `"><svg onload="document.documentElement.setAttribute('${PWNED}','svg')"><text>x</text></svg>`,
  `'><iframe srcdoc="<script>parent.document.documentElement.setAttribute('${PWNED}','iframe')</script>">`,
  `</pre></td></tr></table><style>body{display:none}</style><a href="javascript:alert(1)">x</a>`,
  `id,value\n42,<b>bold</b> & "quoted" 'single' \u0000 \u202e`,
] as const;

/** A PARTIAL report whose every user-provided string is hostile, with rejects carrying the hostile raw lines. */
export function hostileReport(): { report: ImportReport; timeline: ReportTimeline } {
  const h = (i: number) => HOSTILE[i % HOSTILE.length]!;
  const perChunk = Array.from({ length: 4 }, (_, i) =>
    chunkStatsFactory(i, { rejected: 3, written: 416_664, rejectsObjects: [`rejects/${h(i)}.jsonl`] }),
  );
  const written = perChunk.reduce((a, c) => a + c.written, 0);
  const shards = [h(1), h(2)];
  const report = reportFactory({
    importId: h(0),
    status: 'PARTIAL',
    source: { bucket: h(3), key: h(4), etag: h(2) },
    model: h(1),
    chunks: { planned: 4, completed: 4, failed: 0, notCompleted: 0 },
    counts: {
      read: written + 12,
      written,
      rejected: 12,
      skipped: 0,
      unsettled: 0,
      commands: written,
      retries: 0,
      commandErrors: 0,
      serverResets: 0,
      taskRetries: 0,
    },
    rejects: { count: 12, objects: perChunk.flatMap((c) => c.rejectsObjects) },
    durationMs: 30_000,
    rowsPerSecond: Math.round(written / 30),
    redisMemory: {
      before: shards.map((shard) => ({ shard, usedMemory: 1_000_000, maxMemory: 100_000_000 })),
      after: shards.map((shard) => ({ shard, usedMemory: 20_000_000, maxMemory: 100_000_000 })),
      bytesPerKey: 22.8,
    },
    errors: [{ name: h(0), message: h(1), chunk: 2 }],
    notes: HOSTILE.map((s) => `note: ${s}`),
    perChunk,
  });
  const timeline: ReportTimeline = {
    samples: samplesFactory(29_000, written, 1000, 12),
    memory: shards.flatMap((shard) =>
      [0, 10_000, 20_000, 30_000].map((atMs, k) => ({
        atMs,
        shard,
        usedMemory: 1_000_000 + k * 6_000_000,
        maxMemory: 100_000_000,
      })),
    ),
    projection: shards.map((shard) => ({ shard, projectedBytes: 30_000_000, maxMemory: 100_000_000 })),
    chunks: perChunk.map((c) => ({
      index: c.index,
      startMs: 500 + c.index * 200,
      endMs: 20_000 + c.index * 2000,
      retries: 0,
      continuations: 0,
      status: 'completed' as const,
    })),
    rejectsByReason: HOSTILE.slice(0, 4).map((reason, i) => ({
      reason: `bad value: ${reason}`,
      count: 3,
      examples: HOSTILE.slice(i, i + 3).map((raw, k) => ({ line: 10 + k, offset: 1000 * k, raw })),
    })),
    commandsPer100Keys: 100,
  };
  return { report, timeline };
}
