import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { FatalError } from '../../../shared/errors/index.js';
import { bucketPrefix, prepareImport } from '../../../shared/import/index.js';
import { metaKey } from '../../../shared/mapping/index.js';
import type { PreflightReport } from '../../../shared/memory/index.js';
import { FileSource } from '../../../shared/records/index.js';
import { type Target, TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

// maxmemory set, so a low limit makes the pre-flight refuse (with maxmemory 0 it only warns).
const redis = useRedis({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'] });
const tmp = useTempDir();

const ROWS = 5000;

function csvText(rows: number): string {
  return `id,v\n${Array.from({ length: rows }, (_, i) => `${i},${i % 100}`).join('\n')}\n`;
}

function spec(p: string, model: 'string' | 'bucketed') {
  return parseImportSpec({ format: { type: 'csv' }, key: `${p}:{id}`, model: { type: model, value: 'v' } });
}

async function withTarget<T>(run: (targets: Target[]) => Promise<T>): Promise<T> {
  const targets = [new TcpTarget(redis.server.url)];
  try {
    return await run(targets);
  } finally {
    await Promise.all(targets.map((t) => t.close()));
  }
}

describe('prepareImport: ping → memory → sample → pre-flight → bucket parameters', () => {
  it('string model: pings with the given check, reads memory, samples, proceeds; writes nothing', async () => {
    const p = randomPrefix();
    const source = new FileSource(await tmp.write(`${p}.csv`, csvText(ROWS)));
    const dbsize = await redisCli(redis.server.port, 'DBSIZE');
    const pinged: (readonly Target[])[] = [];
    const seen: PreflightReport[] = [];
    const prepared = await withTarget((targets) =>
      prepareImport({
        source,
        spec: spec(p, 'string'),
        targets,
        ping: (t) => {
          pinged.push(t);
          return Promise.resolve();
        },
        onPreflight: (report) => seen.push(report),
      }),
    );
    expect(pinged).toHaveLength(1);
    expect(prepared.memoryBefore).toEqual([
      {
        shard: `redis://127.0.0.1:${redis.server.port}/0`,
        usedMemory: expect.any(Number),
        maxMemory: 64 * 2 ** 20,
      },
    ]);
    expect(prepared.sample).toMatchObject({ complete: true, records: ROWS, keys: ROWS });
    expect(prepared.preflight.decision).toBe('proceed');
    expect(seen).toEqual([prepared.preflight]);
    expect(prepared.buckets).toBeUndefined();
    expect(await redisCli(redis.server.port, 'DBSIZE')).toBe(dbsize);
  });

  it('bucketed model: the bucket count follows the sample and the listpack fit; the parameters are stored', async () => {
    const p = randomPrefix();
    const s = spec(p, 'bucketed');
    const source = new FileSource(await tmp.write(`${p}.csv`, csvText(ROWS)));
    const prepared = await withTarget((targets) => prepareImport({ source, spec: s, targets }));
    const size = prepared.preflight.bucketFit!.size;
    expect(prepared.buckets).toMatchObject({ scheme: 'hash', bucketCount: Math.ceil(ROWS / size) });
    expect(await redisCli(redis.server.port, 'EXISTS', metaKey(bucketPrefix(s)))).toBe('1');
  });

  it("projects RSS from the server's used_memory_rss, at the factor of the write path the load will take", async () => {
    const p = randomPrefix();
    const source = new FileSource(await tmp.write(`${p}.csv`, csvText(ROWS)));
    const direct = await withTarget((targets) =>
      prepareImport({ source, spec: spec(p, 'bucketed'), targets }),
    );
    const rss = Number(
      /used_memory_rss:(\d+)/.exec(await redisCli(redis.server.port, 'INFO', 'memory'))?.[1] ?? Number.NaN,
    );
    const shard = direct.preflight.shards[0]!;
    expect(shard.rss).toBeGreaterThan(0);
    // Read a moment apart: the server's RSS moves by a few pages.
    expect(Math.abs(shard.rss! - rss)).toBeLessThan(rss * 0.05);
    expect(shard).toMatchObject({ rssFactor: 1.45, projectedRss: shard.rss! + shard.growth * 1.45 });
    // With grouping allowed and asked for, the load writes whole buckets: 1.05.
    const grouped = await withTarget((targets) =>
      prepareImport({
        source,
        spec: parseImportSpec({ ...spec(p, 'bucketed'), groupBuckets: 'on' }),
        targets,
        grouping: { tempDir: tmp.dir },
      }),
    );
    expect(grouped.writePath?.path).toBe('grouped');
    expect(grouped.preflight.shards[0]!.rssFactor).toBe(1.05);
  });

  it('a resumed load samples from its start, but counts buckets for the whole source', async () => {
    const p = randomPrefix();
    const text = csvText(ROWS);
    const start = text.indexOf('\n2500,') + 1;
    const source = new FileSource(await tmp.write(`${p}.csv`, text));
    const prepared = await withTarget((targets) =>
      prepareImport({ source, spec: spec(p, 'bucketed'), targets, range: { start, startLine: 2502 } }),
    );
    expect(prepared.sample).toMatchObject({ bytes: text.length - start, records: ROWS - 2500 });
    const size = prepared.preflight.bucketFit!.size;
    expect(prepared.buckets).toMatchObject({ bucketCount: Math.ceil(ROWS / size) });
  });

  it('a refusal is a result: no bucket parameters, nothing written', async () => {
    const p = randomPrefix();
    const s = spec(p, 'bucketed');
    const source = new FileSource(await tmp.write(`${p}.csv`, csvText(ROWS)));
    // The empty server alone uses more than 0.1 % of 64 MiB.
    const prepared = await withTarget((targets) => prepareImport({ source, spec: s, targets, limit: 0.001 }));
    expect(prepared.preflight.decision).toBe('refuse');
    expect(prepared.preflight.refusal).toMatch(/over the limit of 0\.1 %/);
    expect(prepared.buckets).toBeUndefined();
    expect(await redisCli(redis.server.port, 'EXISTS', metaKey(bucketPrefix(s)))).toBe('0');

    const forced = await withTarget((targets) =>
      prepareImport({ source, spec: s, targets, limit: 0.001, force: true }),
    );
    expect(forced.preflight).toMatchObject({ decision: 'proceed', forced: true });
    expect(forced.buckets).toBeDefined();
  });

  it("the ping's error is thrown as it is, before anything is read or written", async () => {
    const p = randomPrefix();
    const s = spec(p, 'bucketed');
    const source = new FileSource(await tmp.write(`${p}.csv`, csvText(10)));
    const refused = new FatalError('no entry');
    await expect(
      withTarget((targets) =>
        prepareImport({ source, spec: s, targets, ping: () => Promise.reject(refused) }),
      ),
    ).rejects.toBe(refused);
    expect(await redisCli(redis.server.port, 'EXISTS', metaKey(bucketPrefix(s)))).toBe('0');
  });

  it('without a ping check of its own it PINGs: an unreachable shard fails fast and retryably', async () => {
    const p = randomPrefix();
    const source = new FileSource(await tmp.write(`${p}.csv`, csvText(10)));
    const targets = [new TcpTarget('redis://127.0.0.1:1')];
    try {
      await expect(prepareImport({ source, spec: spec(p, 'string'), targets })).rejects.toMatchObject({
        name: 'RetryableError',
      });
    } finally {
      await targets[0]!.close();
    }
  });
});
