import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../shared/config/index.js';
import { type ChunkState, loadChunk } from '../../shared/import/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { randomPrefix } from '../support/files.js';
import { expectBucketFields } from '../support/grouped.js';
import { useRedis } from '../support/redis-server.js';
import { getObjectText, putObject, TEST_BUCKET, useS3 } from '../support/s3.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A grouped import-chunk whose shard hangs during the load pass, so the Lambda deadline stops it after the
 * partition pass: the next invocation continues the spill in the same container (same temp directory), or
 * loads the chunk again record by record in another one. Either way the data, the counts and the rejects
 * objects end exact: every reject listed once, in the objects the report reads.
 */

const s3 = useS3();
const redis = useRedis();
const targets: TcpTarget[] = [];
const proxies: TcpProxy[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const N = 40_000;
const BUCKETS = 400;
const MARGIN_MS = 2_000;

/** A grouped chunk covering a whole object of `id,v` rows, two of them bad. */
async function groupedChunk(p: string): Promise<{ state: ChunkState; expected: Map<string, string> }> {
  const rows = Array.from({ length: N }, (_, i) => `${i},v${i}`);
  rows[3] = '3,v3,extra';
  rows[30_000] = ',no-id';
  const body = `id,v\n${rows.join('\n')}\n`;
  const key = `incoming/${p}.csv`;
  const etag = await putObject(s3.server, key, body);
  const size = Buffer.byteLength(body);
  const expected = new Map(
    rows.filter((_, i) => i !== 3 && i !== 30_000).map((r) => r.split(',') as [string, string]),
  );
  const state: ChunkState = {
    importId: p,
    source: { bucket: TEST_BUCKET, key, etag, size },
    spec: parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'bucketed', value: 'v' },
      groupBuckets: 'on',
      retry: { retries: 30, baseMs: 500, maxMs: 2_000 },
    }),
    buckets: { scheme: 'hash', prefix: `${p}:bkt:`, keyPrefix: `${p}:`, bucketCount: BUCKETS },
    chunk: { index: 0, start: 0, end: size, inQuoteAtStart: false },
    grouping: { partitions: 8, spillBytesPerRecord: 12, tempBytes: size * 1.2, recordsPerPartition: N / 8 },
  };
  return { state, expected };
}

async function invoke(state: ChunkState, target: TcpTarget, dir: string, budgetMs: number) {
  const deadline = Date.now() + MARGIN_MS + budgetMs;
  return loadChunk(
    { state, attempt: 0 },
    {
      s3: s3.server.client,
      targets: [target],
      rejects: { bucket: TEST_BUCKET, prefix: 'rejects/' },
      markerPrefix: 'rbl:test:',
      remainingMs: () => deadline - Date.now(),
      marginMs: MARGIN_MS,
      temp: { dir },
    },
  );
}

async function rejectedRaw(objects: readonly string[]): Promise<string[]> {
  const raw: string[] = [];
  for (const key of objects) {
    const text = await getObjectText(s3.server, key);
    for (const line of (text ?? '').trim().split('\n')) raw.push((JSON.parse(line) as { raw: string }).raw);
  }
  return raw.sort();
}

/** The first invocation: the shard hangs once the load pass has sent a little, so the deadline stops it. */
async function stoppedInLoadPass(p: string) {
  const { state, expected } = await groupedChunk(p);
  const proxy = await startTcpProxy(redis.server.port);
  proxies.push(proxy);
  const target = new TcpTarget(proxy.url, { commandTimeoutMs: 1_000, connectTimeoutMs: 500 });
  targets.push(target);
  const dir = await mkdtemp(join(tmpdir(), 'rbl-chunk-'));
  dirs.push(dir);
  await target.exec([{ args: ['PING'] }]);
  const hang = proxy.cutAfter(4_000, 'stall');
  const first = await invoke(state, target, dir, 2_500);
  await hang;
  proxy.mode = 'forward';
  return { state: first, expected, target, dir };
}

describe('a grouped chunk stopped by the deadline in its load pass', () => {
  it('continues its spill in the same temp directory: no second partition pass, rejects listed once', async () => {
    const p = randomPrefix();
    const { state, expected, target, dir } = await stoppedInLoadPass(p);
    expect(state.progress?.status).toBe('continue');
    expect(state.progress?.resume?.offset).toBe(0);
    // Counts start over (nothing of a grouped chunk is confirmed before its load pass ends) …
    expect(state.progress?.stats).toMatchObject({ read: 0, written: 0, rejected: 0, invocations: 1 });
    // … but the partition pass's rejects object stays listed: the kept spill will not write it again.
    expect(state.progress?.stats.rejectsObjects).toEqual([`rejects/${p}/chunk-0.jsonl`]);

    const done = await invoke(state, target, dir, 60_000);
    expect(done.progress?.status).toBe('done');
    expect(done.progress?.stats).toMatchObject({ read: N, written: N - 2, rejected: 2, invocations: 2 });
    expect(done.progress?.stats.rejectsObjects).toEqual([`rejects/${p}/chunk-0.jsonl`]);
    expect(await rejectedRaw(done.progress!.stats.rejectsObjects)).toEqual([',no-id', '3,v3,extra']);
    await expectBucketFields(redis.server.port, `${p}:bkt:`, BUCKETS, expected);
  });

  it('in another temp directory (another container) loads the chunk again record by record: rejects listed once', async () => {
    const p = randomPrefix();
    const { state, expected, target } = await stoppedInLoadPass(p);
    expect(state.progress?.status).toBe('continue');
    const elsewhere = await mkdtemp(join(tmpdir(), 'rbl-chunk-'));
    dirs.push(elsewhere);
    const done = await invoke(state, target, elsewhere, 60_000);
    expect(done.progress?.status).toBe('done');
    expect(done.progress?.stats).toMatchObject({ read: N, written: N - 2, rejected: 2, invocations: 2 });
    // The partition pass's object is dropped: the direct load wrote the same rejects again, in its own.
    expect(done.progress?.stats.rejectsObjects).toEqual([`rejects/${p}/chunk-0.1.jsonl`]);
    expect(await rejectedRaw(done.progress!.stats.rejectsObjects)).toEqual([',no-id', '3,v3,extra']);
    await expectBucketFields(redis.server.port, `${p}:bkt:`, BUCKETS, expected);
  });
});
