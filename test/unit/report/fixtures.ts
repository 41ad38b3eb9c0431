import type { ChunkStats, ImportReport } from '../../../shared/import/index.js';
import type { ChunkSpan, ReportTimeline, ThroughputSample } from '../../../shared/report/index.js';

/** A small deterministic PRNG (mulberry32) so fixtures look organic and never change. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MiB = 1024 * 1024;
const SHARDS = ['redis://10.0.1.11:6379/0', 'redis://10.0.1.12:6379/0', 'redis://10.0.1.13:6379/0'];

/** One chunk's stats, completed unless overridden. */
export function chunkStatsFactory(index: number, overrides: Partial<ChunkStats> = {}): ChunkStats {
  const rows = 416_667;
  return {
    index,
    start: index * 64 * MiB,
    end: (index + 1) * 64 * MiB,
    status: 'completed',
    read: rows,
    written: rows,
    rejected: 0,
    skipped: 0,
    unsettled: 0,
    commands: rows,
    redirects: { moved: 0, ask: 0 },
    retries: 0,
    taskRetries: 0,
    commandErrors: 0,
    serverResets: 0,
    servers: [],
    invocations: 1,
    durationMs: 20_000,
    rejectsObjects: [],
    ...overrides,
  };
}

/** A SUCCEEDED report of 5,000,004 rows in 12 chunks over 3 shards. */
export function reportFactory(overrides: Partial<ImportReport> = {}): ImportReport {
  const perChunk = Array.from({ length: 12 }, (_, i) =>
    chunkStatsFactory(i, {
      durationMs: 18_000 + ((i * 7919) % 9000),
      ...(i === 4 ? { retries: 2, taskRetries: 1 } : {}),
      ...(i === 9 ? { invocations: 2 } : {}),
    }),
  );
  const written = perChunk.reduce((a, c) => a + c.written, 0);
  return {
    importId: 'users-2024-05-01-3f9a1c',
    status: 'SUCCEEDED',
    source: {
      bucket: 'acme-imports',
      key: 'incoming/users-2024-05-01.csv',
      etag: '"9b2cf535f27731c9"',
      size: 768 * MiB,
    },
    model: 'bucketed (hash scheme, 50,001 buckets of ~100 fields)',
    chunks: { planned: 12, completed: 12, failed: 0, notCompleted: 0 },
    counts: {
      read: written,
      written,
      rejected: 0,
      skipped: 0,
      unsettled: 0,
      commands: Math.round(written * 0.011),
      retries: 2,
      commandErrors: 0,
      serverResets: 0,
      taskRetries: 1,
    },
    rejects: { count: 0, objects: [] },
    requestedAt: '2024-05-01T12:00:00.000Z',
    startedAt: '2024-05-01T12:00:01.250Z',
    finishedAt: '2024-05-01T12:01:13.250Z',
    durationMs: 72_000,
    rowsPerSecond: Math.round(written / 72),
    redisMemory: {
      before: SHARDS.map((shard) => ({ shard, usedMemory: 1.2 * MiB, maxMemory: 48 * MiB })),
      after: SHARDS.map((shard, i) => ({ shard, usedMemory: (19.5 + i) * MiB, maxMemory: 48 * MiB })),
      bytesPerKey: 11.7,
    },
    commandsPer100Keys: 1.1,
    redirects: { moved: 0, ask: 0 },
    errors: [],
    notes: ['bucket size 100 fits hash-max-listpack-entries 128 on every shard'],
    perChunk,
    ...overrides,
  };
}

/** Throughput samples every `everyMs` for `durationMs`, cumulative, with a ramp-up and some noise. */
export function samplesFactory(
  durationMs: number,
  total: number,
  everyMs = 1000,
  rejectedTotal = 0,
  seed = 1,
): ThroughputSample[] {
  const rnd = random(seed);
  const n = Math.max(1, Math.floor(durationMs / everyMs));
  const weights = Array.from({ length: n }, (_, i) => Math.min(1, (i + 1) / 5) * (0.75 + 0.5 * rnd()));
  const sum = weights.reduce((a, w) => a + w, 0);
  const out: ThroughputSample[] = [{ atMs: 0, written: 0, rejected: 0, bytesRead: 0 }];
  let written = 0;
  for (let i = 0; i < n; i++) {
    written += (weights[i]! / sum) * total;
    const w = i === n - 1 ? total : Math.round(written);
    out.push({
      atMs: (i + 1) * everyMs,
      written: w,
      rejected: total > 0 ? Math.round((w / total) * rejectedTotal) : 0,
      bytesRead: w * 161,
    });
  }
  return out;
}

/** A full timeline consistent with {@link reportFactory}'s report. */
export function timelineFactory(report: ImportReport = reportFactory()): ReportTimeline {
  const rnd = random(7);
  const duration = report.durationMs;
  const concurrency = 4;
  const chunks: ChunkSpan[] = report.perChunk.map((c, i) => {
    const wave = Math.floor(i / concurrency);
    const startMs = 800 + wave * 23_000 + rnd() * 900;
    const d = 'durationMs' in c ? c.durationMs : 0;
    return {
      index: c.index,
      startMs,
      endMs: Math.min(duration - 500, startMs + d),
      retries: 'retries' in c ? c.retries + c.taskRetries : 0,
      continuations: 'invocations' in c ? c.invocations - 1 : 0,
      status: c.status,
    };
  });
  const memory = (report.redisMemory.before ?? []).flatMap((m, s) => {
    const end = report.redisMemory.after?.[s]?.usedMemory ?? m.usedMemory;
    return Array.from({ length: 37 }, (_, k) => {
      const f = Math.min(1, k / 34);
      return {
        atMs: k * 2000,
        shard: m.shard,
        usedMemory: m.usedMemory + (end - m.usedMemory) * f + (k > 5 && k < 34 ? rnd() * 2.5 * MiB : 0),
        maxMemory: m.maxMemory,
      };
    });
  });
  return {
    samples: samplesFactory(duration - 1000, report.counts.written, 1000, report.counts.rejected),
    memory,
    projection: (report.redisMemory.before ?? []).map((m) => ({
      shard: m.shard,
      projectedBytes: 26 * MiB,
      maxMemory: m.maxMemory,
    })),
    chunks,
    rejectsByReason: [],
    commandsPer100Keys: 1.1,
    redirects: { moved: 0, ask: 0 },
  };
}

/** A FAILED report: a shard ran out of memory in chunk 3; chunks 4 and 5 never completed. No timeline. */
export function failedReport(): ImportReport {
  const done = [0, 1, 2].map((i) => chunkStatsFactory(i, { durationMs: 19_000 + i * 1500 }));
  const failed = chunkStatsFactory(3, {
    status: 'failed',
    read: 120_000,
    written: 110_000,
    unsettled: 10_000,
    retries: 3,
    taskRetries: 2,
    durationMs: 9_400,
    error: {
      name: 'RedisOutOfMemoryError',
      message: "OOM command not allowed when used memory > 'maxmemory'.",
    },
  });
  const stats = [...done, failed];
  const sum = (k: 'read' | 'written' | 'unsettled' | 'commands' | 'retries' | 'taskRetries') =>
    stats.reduce((a, c) => a + c[k], 0);
  const message = "OOM command not allowed when used memory > 'maxmemory'.";
  return reportFactory({
    importId: 'orders-2024-05-02-77b0e4',
    status: 'FAILED',
    reason: `RedisOutOfMemoryError: ${message}`,
    model: 'string',
    chunks: { planned: 6, completed: 3, failed: 1, notCompleted: 2 },
    counts: {
      read: sum('read'),
      written: sum('written'),
      rejected: 0,
      skipped: 0,
      unsettled: sum('unsettled'),
      commands: sum('commands'),
      retries: sum('retries'),
      commandErrors: 0,
      serverResets: 0,
      taskRetries: sum('taskRetries'),
    },
    durationMs: 41_000,
    rowsPerSecond: Math.round(sum('written') / 41),
    redisMemory: {
      before: [{ shard: 'redis://10.0.2.21:6379/0', usedMemory: 2.1 * MiB, maxMemory: 256 * MiB }],
      after: null,
      bytesPerKey: null,
    },
    errors: [{ name: 'RedisOutOfMemoryError', message, chunk: 3 }],
    notes: ['memory pre-flight: ~3,000,000 keys as string ≈ 161.0 MiB (56.2 bytes/key): proceeding'],
    perChunk: [...stats, { index: 4, status: 'not completed' }, { index: 5, status: 'not completed' }],
  });
}

/**
 * A day-long import of 5,000 chunks with a sample every second, memory every 10 s on 3 shards, 200 reject reasons
 * with long raw lines: far more than a page can draw, for the output bounds.
 */
export function hugeImport(): { report: ImportReport; timeline: ReportTimeline } {
  const day = 86_400_000;
  const n = 5000;
  const perChunk = Array.from({ length: n }, (_, i) =>
    chunkStatsFactory(i, {
      read: 10_000,
      written: 9_990,
      rejected: 10,
      durationMs: 600_000 + (i % 37) * 1000,
      ...(i === 4321 ? { status: 'failed' as const, error: { name: 'FatalError', message: 'boom' } } : {}),
      ...(i % 997 === 0 ? { retries: 1 } : {}),
      ...(i % 1499 === 0 ? { invocations: 2 } : {}),
    }),
  );
  const base = reportFactory();
  const report: ImportReport = {
    ...base,
    status: 'FAILED',
    reason: 'FatalError: boom',
    chunks: { planned: n, completed: n - 1, failed: 1, notCompleted: 0 },
    counts: {
      ...base.counts,
      read: n * 10_000,
      written: n * 9_990,
      rejected: n * 10,
      retries: 6,
      taskRetries: 0,
    },
    rejects: { count: n * 10, objects: perChunk.map((c) => `rejects/${c.index}.jsonl`) },
    durationMs: day,
    rowsPerSecond: Math.round((n * 9_990) / 86_400),
    errors: Array.from({ length: 400 }, (_, i) => ({
      name: 'FatalError',
      message: 'x'.repeat(5000),
      chunk: i,
    })),
    notes: Array.from({ length: 400 }, (_, i) => `note ${i} ${'y'.repeat(5000)}`),
    perChunk,
  };
  const timeline: ReportTimeline = {
    ...timelineFactory(report),
    samples: samplesFactory(day, report.counts.written, 1000, report.counts.rejected),
    memory: (report.redisMemory.before ?? []).flatMap((m) =>
      Array.from({ length: day / 10_000 }, (_, k) => ({
        atMs: k * 10_000,
        shard: m.shard,
        usedMemory: m.usedMemory + k * 2000 + (k % 1000 === 0 ? 10 * MiB : 0),
        maxMemory: m.maxMemory,
      })),
    ),
    chunks: perChunk.map((c, i) => ({
      index: c.index,
      startMs: (i / n) * (day - 700_000),
      endMs: (i / n) * (day - 700_000) + c.durationMs,
      retries: c.retries,
      continuations: c.invocations - 1,
      status: c.status,
    })),
    rejectsByReason: Array.from({ length: 200 }, (_, i) => ({
      reason: `reason ${i} ${'<'.repeat(3000)}`,
      count: 250,
      examples: Array.from({ length: 10 }, (_, k) => ({ line: k + 1, offset: k, raw: '"'.repeat(10_000) })),
    })),
  };
  return { report, timeline };
}
