import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../shared/config/index.js';
import { type ChunkState, loadChunk, type StartOutcome } from '../../shared/import/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { expectExactKeys, idValueRows } from '../support/read-back.js';
import { randomPrefix } from '../support/files.js';
import { useRedis } from '../support/redis-server.js';
import { putObject, s3Event, TEST_BUCKET, useS3 } from '../support/s3.js';
import { useImportStacks } from '../support/stepfunctions.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A chunk Lambda must return before it is stopped: when its shard goes down or hangs with little time left it
 * returns a continuation from the confirmed point, and a chunk that Step Functions timed out anyway is retried
 * and still ends exact.
 */

const s3 = useS3();
const redis = useRedis();
const stacks = useImportStacks();
const targets: TcpTarget[] = [];
const proxies: TcpProxy[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await Promise.all(proxies.map((p) => p.close()));
});

/** One chunk covering a whole object, as the Map's ItemSelector builds it. */
async function chunkState(p: string, n: number): Promise<ChunkState> {
  const key = `incoming/${p}.csv`;
  const body = idValueRows(n);
  const etag = await putObject(s3.server, key, body);
  const size = Buffer.byteLength(body);
  return {
    importId: p,
    source: { bucket: TEST_BUCKET, key, etag, size },
    spec: parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
      batch: { maxCommands: 500, inFlight: 4 },
      // Patient retries: without a deadline-aware writer they would outlast the Lambda by far.
      retry: { retries: 30, baseMs: 2_000, maxMs: 10_000 },
    }),
    buckets: null,
    chunk: { index: 0, start: 0, end: size, inQuoteAtStart: false },
  };
}

const MARGIN_MS = 2_000;

async function runChunk(state: ChunkState, target: TcpTarget, budgetMs: number) {
  const deadline = Date.now() + MARGIN_MS + budgetMs;
  const next = await loadChunk(
    { state },
    {
      s3: s3.server.client,
      targets: [target],
      rejects: { bucket: TEST_BUCKET, prefix: 'rejects/' },
      markerPrefix: 'rbl:test:',
      remainingMs: () => deadline - Date.now(),
      marginMs: MARGIN_MS,
    },
  );
  return { next, returnedBeforeDeadline: Date.now() < deadline };
}

describe('import-chunk with little time left', () => {
  it('a shard that goes down mid-chunk: the chunk returns a continuation in time, and the continuation ends exact', async () => {
    const p = randomPrefix();
    const n = 60_000;
    const state = await chunkState(p, n);
    const proxy = await startTcpProxy(redis.server.port);
    proxies.push(proxy);
    void proxy.cutAfter(500_000); // then refuses: the shard is down
    const target = new TcpTarget(proxy.url, { commandTimeoutMs: 1_000, connectTimeoutMs: 500 });
    targets.push(target);
    const first = await runChunk(state, target, 1_500);
    expect(first.returnedBeforeDeadline).toBe(true);
    expect(first.next.progress?.status).toBe('continue');
    const resume = first.next.progress!.resume!.offset;
    expect(resume).toBeGreaterThan(0);
    expect(resume).toBeLessThan(state.source.size);

    proxy.mode = 'forward';
    const second = await runChunk(first.next, target, 60_000);
    expect(second.next.progress?.status).toBe('done');
    expect(second.next.progress?.stats).toMatchObject({ status: 'completed', invocations: 2 });
    await expectExactKeys(redis.server.port, p, n);
  });

  it('a shard that hangs (accepts, never answers): each attempt costs one command timeout, the chunk still returns in time', async () => {
    const p = randomPrefix();
    const n = 60_000;
    const state = await chunkState(p, n);
    const proxy = await startTcpProxy(redis.server.port);
    proxies.push(proxy);
    void proxy.cutAfter(500_000, 'stall');
    const target = new TcpTarget(proxy.url, { commandTimeoutMs: 800, connectTimeoutMs: 800 });
    targets.push(target);
    const first = await runChunk(state, target, 1_500);
    expect(first.returnedBeforeDeadline).toBe(true);
    expect(first.next.progress?.status).toBe('continue');

    proxy.mode = 'forward';
    const second = await runChunk(first.next, target, 60_000);
    expect(second.next.progress?.status).toBe('done');
    await expectExactKeys(redis.server.port, p, n);
  });
});

describe('a chunk invocation that outlives its task timeout', () => {
  it('is retried by the ASL (States.Timeout) and the import ends exact', async () => {
    const p = randomPrefix();
    const n = 20_000;
    const key = `incoming/${p}/timeout.csv`;
    const etag = await putObject(s3.server, key, idValueRows(n));
    const proxy = await startTcpProxy(redis.server.port);
    proxies.push(proxy);
    // import-start and import-finish go straight to Redis; import-chunk through a proxy whose first
    // connection hangs, so the first invocation runs past its 1 s task timeout.
    proxy.mode = 'stall';
    const stalled = new Promise<void>((resolve) => {
      const poll = () => {
        if (proxy.accepted > 0) {
          proxy.mode = 'forward';
          resolve();
        } else setImmediate(poll);
      };
      poll();
    });
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      maxConcurrency: 1,
      retryDelayMs: 50,
      chunkTaskTimeoutSeconds: 1,
      env: { 'import-chunk': { REDIS_URL: proxy.url, REDIS_CONNECT_TIMEOUT_MS: '2500' } },
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const outcome = (await stack.deliver(await s3Event(key, etag)))[0] as StartOutcome;
    if (outcome.status !== 'started') throw new Error(JSON.stringify(outcome));
    const result = await stack.execution(outcome.importId)!.result;
    await stalled;
    expect(result).toMatchObject({ status: 'SUCCEEDED' });
    // The timed-out invocation, then at least one more.
    expect(stack.invocations['import-chunk']).toBeGreaterThanOrEqual(2);
    await expectExactKeys(redis.server.port, p, n);
  });
});
