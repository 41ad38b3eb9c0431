import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type ImportSpecInput, parseImportSpec } from '../../shared/config/index.js';
import { type LoadResult, loadRange, MemoryRejectSink } from '../../shared/import/index.js';
import { FileSource } from '../../shared/records/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { expectExactKeys, idValueRows } from '../support/read-back.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * "Resuming from the printed point after any failure gives exactly the source": each case stops a load with a
 * fault, resumes from the result's nextOffset/nextLine on a healthy server, and checks every key once with
 * its source value. They failed before the resume point came from the confirmed prefix (it was the offset
 * of the last batch *queued*, past pipelines Redis never confirmed).
 */

const tmp = useTempDir();
const targets: TcpTarget[] = [];
const proxies: TcpProxy[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await Promise.all(proxies.map((p) => p.close()));
});

function target(url: string): TcpTarget {
  const t = new TcpTarget(url);
  targets.push(t);
  return t;
}

function spec(p: string, extra: Partial<ImportSpecInput> = {}) {
  return parseImportSpec({
    format: { type: 'csv' },
    key: `${p}:{id}`,
    model: { type: 'string', value: 'v' },
    batch: { maxCommands: 500, inFlight: 4 },
    ...extra,
  });
}

function reconcile(result: LoadResult): void {
  const c = result.counts;
  expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
}

async function resume(
  file: string,
  url: string,
  p: string,
  from: LoadResult,
  extra: Partial<ImportSpecInput> = {},
): Promise<LoadResult> {
  const result = await loadRange({
    source: new FileSource(file),
    spec: spec(p, extra),
    targets: [target(url)],
    rejects: new MemoryRejectSink(),
    range: { start: from.nextOffset, ...(from.nextLine === undefined ? {} : { startLine: from.nextLine }) },
  });
  expect(result.status).toBe('completed');
  return result;
}

describe('resume after Redis ran out of memory', () => {
  const redis = useRedis({ args: ['--maxmemory', '6mb', '--maxmemory-policy', 'noeviction'] });

  it('the resume point is before every unconfirmed record: raising maxmemory and resuming loads exactly the source', async () => {
    const p = randomPrefix();
    const n = 120_000;
    const file = await tmp.write(`${p}.csv`, idValueRows(n));
    const failed = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec: spec(p),
      targets: [target(redis.server.url)],
      rejects: new MemoryRejectSink(),
    });
    expect(failed.status).toBe('failed');
    expect(failed.error?.name).toBe('RedisOutOfMemoryError');
    reconcile(failed);
    expect(failed.nextOffset).toBeGreaterThan(0);
    await redisCli(redis.server.port, 'CONFIG', 'SET', 'maxmemory', '0');
    await resume(file, redis.server.url, p, failed);
    await expectExactKeys(redis.server.port, p, n);
  });
});

describe('resume after the connection was cut and stayed down', () => {
  const redis = useRedis();

  it('a cut inside a pipeline, retries spent on a refused port: resuming loads exactly the source', async () => {
    const p = randomPrefix();
    const n = 100_000;
    const file = await tmp.write(`${p}.csv`, idValueRows(n));
    const proxy = await startTcpProxy(redis.server.port);
    proxies.push(proxy);
    const cut = proxy.cutAfter(600_000);
    const failed = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec: spec(p, { retry: { retries: 2, baseMs: 10, maxMs: 20 } }),
      targets: [target(proxy.url)],
      rejects: new MemoryRejectSink(),
    });
    await cut;
    expect(failed.status).toBe('failed');
    expect(failed.error?.name).toBe('RetryableError');
    reconcile(failed);
    expect(failed.counts.unsettled).toBeGreaterThan(0);
    await resume(file, redis.server.url, p, failed);
    await expectExactKeys(redis.server.port, p, n);
  });

  it('property: for any cut point, the resume offset plus the resumed load is exactly the source', async () => {
    const n = 8_000;
    const base = randomPrefix();
    const file = await tmp.write(`${base}.csv`, idValueRows(n));
    const size = (await new FileSource(file).size()) * 1.2; // RESP is a little larger than the CSV
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: Math.floor(size) }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 10, max: 700 }),
        async (cutAt, inFlight, maxCommands) => {
          const p = `${base}r${run++}`;
          const proxy = await startTcpProxy(redis.server.port);
          proxies.push(proxy);
          void proxy.cutAfter(cutAt);
          const extra = { batch: { maxCommands, inFlight }, retry: false as const, key: `${p}:{id}` };
          const first = await loadRange({
            source: new FileSource(file, { highWaterMark: 4096 }),
            spec: spec(p, extra),
            targets: [target(proxy.url)],
            rejects: new MemoryRejectSink(),
          });
          reconcile(first);
          if (first.status !== 'completed') await resume(file, redis.server.url, p, first, extra);
          await expectExactKeys(redis.server.port, p, n);
          await proxy.close();
        },
      ),
      { numRuns: 12 },
    );
  }, 240_000);
});

describe('resume after redis-server was killed and not restarted', () => {
  // appendfsync always: what Redis confirmed is on disk, so the restarted server still has it.
  const redis = useRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

  it('fails once retries are spent; after a restart, resuming loads exactly the source', async () => {
    const p = randomPrefix();
    const n = 80_000;
    const file = await tmp.write(`${p}.csv`, idValueRows(n));
    let killed: Promise<void> | undefined;
    const failed = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec: spec(p, { retry: { retries: 3, baseMs: 10, maxMs: 40 } }),
      targets: [target(redis.server.url)],
      rejects: new MemoryRejectSink(),
      onProgress: (progress) => {
        if (killed === undefined && progress.read > n / 3) killed = redis.server.kill('SIGKILL');
      },
    });
    await killed;
    expect(failed.status).toBe('failed');
    expect(failed.error?.name).toBe('RetryableError');
    reconcile(failed);
    await redis.server.restart();
    await resume(file, redis.server.url, p, failed);
    await expectExactKeys(redis.server.port, p, n);
  });
});
