import { describe, expect, it } from 'vitest';
import type { ChunkState, ImportReport } from '../../shared/import/index.js';
import { randomPrefix } from '../support/files.js';
import { expectBucketFields, scoreRows } from '../support/grouped.js';
import { useRedis } from '../support/redis-server.js';
import { getObjectText, putObject, s3Event, TEST_BUCKET, useS3 } from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';

/**
 * Grouped bucket writes on the Lambda path: import-start sizes chunks for import-chunk's temp directory, each
 * chunk is sorted by bucket there and written one HSET per bucket, through the real state machine file.
 */

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

function reconcile(report: ImportReport): void {
  const c = report.counts;
  expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
}

/** A stack whose grouped chunks are `groupedChunkBytes` long, loading `<p>:{id}` → score into hash buckets. */
function groupedStack(
  p: string,
  groupedChunkBytes: number,
  extra: Parameters<typeof stacks.create>[0] | object = {},
) {
  return stacks.create({
    redisUrls: [redis.server.url],
    s3Endpoint: s3.server.endpoint,
    chunkBytes: 16 * 1024,
    ...extra,
    env: {
      'import-start': { GROUPED_CHUNK_BYTES: String(groupedChunkBytes) },
      ...(extra as { env?: object }).env,
    },
    defaultSpec: { key: `${p}:{id}`, model: { type: 'bucketed', value: 'score' }, groupBuckets: 'on' },
  });
}

describe('grouped bucket writes through S3 → import-start → state machine → import-chunk ×N', () => {
  it('writes every bucket with one HSET per chunk: every field exact, far fewer commands than records', async () => {
    const p = randomPrefix();
    const n = 40_000;
    const { text, last } = scoreRows(n);
    const key = `incoming/${p}/scores.csv`;
    const etag = await putObject(s3.server, key, text);
    const stack = await groupedStack(p, 160 * 1024);
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    // ~0.5 MB in chunks of 160 KiB, not of the 16 KiB direct chunks.
    expect(outcome.chunks).toBeGreaterThan(1);
    expect(outcome.chunks).toBeLessThan(8);
    const plan = stack.execution(outcome.importId)!.plan;
    expect(plan.grouping?.partitions).toBeGreaterThan(0);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: n, written: n, rejected: 0 });
    expect(report.notes.join('\n')).toContain('grouped writes');
    // One HSET per bucket each chunk touches: about buckets × chunks, against one command per record directly.
    const buckets = plan.buckets!;
    if (buckets.scheme !== 'hash') throw new Error('expected hash buckets');
    expect(report.counts.commands).toBeLessThanOrEqual(buckets.bucketCount * outcome.chunks);
    expect(report.counts.commands).toBeLessThan(n / 10);
    await expectBucketFields(redis.server.port, buckets.prefix, buckets.bucketCount, last);
  });

  it('bad records go to the rejects objects with their line, and the counts reconcile (PARTIAL)', async () => {
    const p = randomPrefix();
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i},s${i}`);
    rows[5] = '5,s5,extra';
    rows[17_000] = ',no-id';
    const key = `incoming/${p}/mixed.csv`;
    const etag = await putObject(s3.server, key, `id,score\n${rows.join('\n')}\n`);
    const stack = await groupedStack(p, 96 * 1024);
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(outcome.chunks).toBeGreaterThan(1);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'PARTIAL' });
    const report = await stack.report(outcome.importId);
    reconcile(report);
    expect(report.counts).toMatchObject({ read: 20_000, written: 19_998, rejected: 2 });
    const rejected: { line?: number; raw: string; reason: string }[] = [];
    for (const uri of report.rejects.objects) {
      const text = await getObjectText(s3.server, uri.replace(`s3://${TEST_BUCKET}/`, ''));
      for (const line of (text ?? '').trim().split('\n')) rejected.push(JSON.parse(line) as never);
    }
    expect(rejected.map((r) => r.raw).sort()).toEqual([',no-id', '5,s5,extra']);
    // The first chunk's rows carry their line (header = line 1).
    expect(rejected.find((r) => r.raw === '5,s5,extra')?.line).toBe(7);
    const plan = stack.execution(outcome.importId)!.plan;
    const buckets = plan.buckets!;
    if (buckets.scheme !== 'hash') throw new Error('expected hash buckets');
    const expected = new Map(
      rows.filter((_, i) => i !== 5 && i !== 17_000).map((r) => r.split(',') as [string, string]),
    );
    await expectBucketFields(redis.server.port, buckets.prefix, buckets.bucketCount, expected);
  });

  it('a chunk that runs into the deadline while partitioning goes on record by record, without loss', async () => {
    const p = randomPrefix();
    const n = 30_000;
    const { text, last } = scoreRows(n);
    const key = `incoming/${p}/slow.csv`;
    const etag = await putObject(s3.server, key, text);
    const invocations: ChunkState[] = [];
    const stack = await groupedStack(p, 1024 * 1024, {
      // Every invocation gets 1 ms past the 1 s margin: the grouped run stops in its partition pass, and
      // the continuations write batch by batch.
      chunkTimeoutMs: 1001,
      env: { 'import-chunk': { TIMEOUT_MARGIN_MS: '1000' } },
      onChunk: (s: ChunkState) => {
        invocations.push(s);
      },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(outcome.chunks).toBe(1);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    expect(invocations.length).toBeGreaterThan(2);
    expect(invocations.slice(0, -1).every((s) => s.progress?.status === 'continue')).toBe(true);
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: n, written: n, rejected: 0 });
    const buckets = stack.execution(outcome.importId)!.plan.buckets!;
    if (buckets.scheme !== 'hash') throw new Error('expected hash buckets');
    await expectBucketFields(redis.server.port, buckets.prefix, buckets.bucketCount, last);
  });
});
