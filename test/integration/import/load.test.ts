import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import {
  FileRejectSink,
  type LoadResult,
  loadRange,
  MemoryRejectSink,
  resolveBucketParams,
} from '../../../shared/import/index.js';
import { bucketOf, loadBucketParams, readKey } from '../../../shared/mapping/index.js';
import { FileSource } from '../../../shared/records/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { createJumpRouter } from '../../../shared/sharding/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { execAll } from '../../support/read-back.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();
const targets: TcpTarget[] = [];
function target(url = redis.server.url): TcpTarget {
  const t = new TcpTarget(url);
  targets.push(t);
  return t;
}
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function reconcile(result: LoadResult): void {
  const c = result.counts;
  expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
}

function csvRows(
  n: number,
  prefix: string,
): { text: string; rows: { id: string; score: string; name: string }[] } {
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    score: String((i * 7919) % 1000),
    name: i % 10 === 0 ? `Name, "quoted"\nline ${i}` : `n${i}`,
  }));
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return {
    text: `id,score,name\r\n${rows.map((r) => [r.id, r.score, r.name].map(quote).join(',')).join('\r\n')}\r\n`,
    rows,
  };
}

describe('loadRange into a real redis-server', () => {
  it('string model: every key reads back equal to the source, with TTLs in range', async () => {
    const p = randomPrefix();
    const { text, rows } = csvRows(5000, '');
    const file = await tmp.write(`${p}.csv`, `\ufeff${text}`);
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'score' },
      ttl: { seconds: 1000, jitterPercent: 20 },
    });
    const t = target();
    const result = await loadRange({
      source: new FileSource(file),
      spec,
      targets: [t],
      rejects: new MemoryRejectSink(),
    });
    expect(result.status).toBe('completed');
    expect(result.counts).toMatchObject({ read: 5000, written: 5000, rejected: 0, skipped: 0 });
    reconcile(result);
    const values = await execAll(
      t,
      rows.map((r) => ({ args: ['GET', `${p}:${r.id}`] })),
    );
    expect(values).toEqual(rows.map((r) => r.score));
    const ttls = (await execAll(
      t,
      rows.map((r) => ({ args: ['TTL', `${p}:${r.id}`] })),
    )) as number[];
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(990);
    for (const ttl of ttls) expect(ttl).toBeLessThanOrEqual(1200);
    expect(await redisCli(redis.server.port, 'GET', `${p}:10`)).toBe(rows[10]!.score);
  });

  it('hash model from JSONL: each record becomes a hash of its fields as strings', async () => {
    const p = randomPrefix();
    const records = Array.from({ length: 2000 }, (_, i) => ({
      id: i,
      n: i * 1.5,
      ok: i % 2 === 0,
      tags: ['a', i],
      gone: null,
    }));
    const file = await tmp.write(`${p}.jsonl`, `${records.map((r) => JSON.stringify(r)).join('\n')}\n\n`);
    const spec = parseImportSpec({ format: { type: 'jsonl' }, key: `${p}:{id}`, model: { type: 'hash' } });
    const t = target();
    const result = await loadRange({
      source: new FileSource(file),
      spec,
      targets: [t],
      rejects: new MemoryRejectSink(),
    });
    expect(result.counts).toMatchObject({ read: 2001, written: 2000, rejected: 0, skipped: 1 });
    reconcile(result);
    const hashes = await execAll(
      t,
      records.map((r) => ({ args: ['HGETALL', `${p}:${r.id}`] })),
    );
    hashes.forEach((h, i) => {
      const r = records[i]!;
      expect(h).toEqual([
        'id',
        String(r.id),
        'n',
        String(r.n),
        'ok',
        String(r.ok),
        'tags',
        JSON.stringify(r.tags),
      ]);
    });
  });

  for (const scheme of ['hash', 'range'] as const) {
    it(`bucketed model (${scheme} scheme): readKey finds every key, buckets stay listpack`, async () => {
      const p = randomPrefix();
      const n = 20_000;
      const lines = Array.from({ length: n }, (_, i) => `${i},${(i * 31) % 1000}`);
      const file = await tmp.write(`${p}.csv`, `id,score\n${lines.join('\n')}`);
      const spec = parseImportSpec({
        format: { type: 'csv' },
        key: `${p}:{id}`,
        model: { type: 'bucketed', value: 'score', scheme, bucketSize: 50 },
        ttl: { seconds: 5000 },
      });
      const t = target();
      const buckets = await resolveBucketParams(spec, [t], n);
      const result = await loadRange({
        source: new FileSource(file),
        spec,
        targets: [t],
        buckets,
        rejects: new MemoryRejectSink(),
      });
      expect(result.counts).toMatchObject({ read: n, written: n, rejected: 0 });
      const stored = await loadBucketParams(t, `${p}:bkt:`);
      expect(stored).toEqual(buckets);
      // readKey finds every loaded key (1,000 calls at a time: the driver pipelines concurrent calls).
      for (let from = 0; from < n; from += 1000) {
        const ids = Array.from({ length: Math.min(1000, n - from) }, (_, k) => from + k);
        const values = await Promise.all(ids.map((i) => readKey(t, `${p}:${i}`, stored!)));
        expect(values).toEqual(ids.map((i) => String((i * 31) % 1000)));
      }
      expect(await readKey(t, `${p}:${n + 5}`, stored!)).toBeNull();
      const bucketKeys = (await redisCli(redis.server.port, '--scan', '--pattern', `${p}:bkt:[0-9]*`)).split(
        '\n',
      );
      const fields = await execAll(
        t,
        bucketKeys.map((k) => ({ args: ['HLEN', k] })),
      );
      expect((fields as number[]).reduce((a, b) => a + b, 0)).toBe(n);
      expect(await redisCli(redis.server.port, 'OBJECT', 'ENCODING', bucketKeys[0]!)).toBe('listpack');
      const ttl = Number(await redisCli(redis.server.port, 'TTL', bucketKeys[0]!));
      expect(ttl).toBeGreaterThan(4900);
    });
  }

  it('refuses to change the bucket count of an existing dataset', async () => {
    const p = randomPrefix();
    const base = { format: { type: 'csv' }, key: `${p}:{id}` } as const;
    const t = target();
    await resolveBucketParams(
      parseImportSpec({ ...base, model: { type: 'bucketed', value: 'v', bucketCount: 10 } }),
      [t],
      0,
    );
    await expect(
      resolveBucketParams(
        parseImportSpec({ ...base, model: { type: 'bucketed', value: 'v', bucketCount: 11 } }),
        [t],
        0,
      ),
    ).rejects.toThrow(/already holds data loaded with hash scheme, 10 buckets/);
    const again = await resolveBucketParams(
      parseImportSpec({ ...base, model: { type: 'bucketed', value: 'v' } }),
      [t],
      999,
    );
    expect(again).toMatchObject({ bucketCount: 10 });
  });

  it('malformed rows land in the rejects file with line, offset and reason; the rest loads', async () => {
    const p = randomPrefix();
    const lines = ['id,score', '1,10', '2,20,extra', '"3,30', '4,40', ',50', `5,${'x'.repeat(300)}`, '6,60'];
    const file = await tmp.write(`${p}.csv`, `${lines.join('\n')}\n`);
    const spec = parseImportSpec({
      format: { type: 'csv', multiline: false },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'score' },
      limits: { maxValueBytes: 100 },
      rejectBudget: { fraction: 1 },
    });
    const rejectsPath = join(tmp.dir, `${p}.rejects.jsonl`);
    const sink = new FileRejectSink(rejectsPath);
    const t = target();
    const result = await loadRange({ source: new FileSource(file), spec, targets: [t], rejects: sink });
    await sink.close();
    expect(result.status).toBe('completed');
    expect(result.counts).toMatchObject({ read: 7, written: 3, rejected: 4, skipped: 0 });
    reconcile(result);
    const rejects = (await readFile(rejectsPath, 'utf8'))
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { file: string; line: number; offset: number; reason: string; raw: string },
      );
    const text = `${lines.join('\n')}\n`;
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [3, 'expected 2 columns, found 3'],
      [4, 'unterminated quoted field'],
      [6, "key field 'id' is empty"],
      [7, "value of 'score' is 300 bytes, limit 100"],
    ]);
    for (const r of rejects) {
      expect(r.file).toBe(file);
      expect(text.slice(r.offset).startsWith(r.raw.slice(0, 5))).toBe(true);
      expect(Buffer.byteLength(r.raw)).toBeLessThanOrEqual(200);
    }
    expect(await redisCli(redis.server.port, 'MGET', `${p}:1`, `${p}:4`, `${p}:6`)).toBe('10\n40\n60');
  });

  it('a server error for one command rejects exactly its record', async () => {
    const p = randomPrefix();
    await redisCli(redis.server.port, 'RPUSH', `${p}:2`, 'a-list');
    const file = await tmp.write(`${p}.jsonl`, '{"id":1,"a":"x"}\n{"id":2,"a":"y"}\n{"id":3,"a":"z"}\n');
    const spec = parseImportSpec({
      format: { type: 'jsonl' },
      key: `${p}:{id}`,
      model: { type: 'hash' },
      rejectBudget: { fraction: 0.5 },
    });
    const sink = new MemoryRejectSink();
    const result = await loadRange({
      source: new FileSource(file),
      spec,
      targets: [target()],
      rejects: sink,
    });
    expect(result.counts).toMatchObject({ read: 3, written: 2, rejected: 1 });
    expect(sink.entries).toEqual([
      expect.objectContaining({ line: 2, offset: 17, reason: expect.stringMatching(/^redis: WRONGTYPE/) }),
    ]);
  });

  it('stops as failed when the reject budget is exceeded, with exact counts', async () => {
    const p = randomPrefix();
    const lines = Array.from({ length: 3000 }, (_, i) =>
      i % 10 === 0 ? 'not json' : JSON.stringify({ id: i, v: i }),
    );
    const file = await tmp.write(`${p}.jsonl`, lines.join('\n'));
    const spec = parseImportSpec({
      format: { type: 'jsonl' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
      rejectBudget: { fraction: 0.05, minRecords: 100 },
    });
    const result = await loadRange({
      source: new FileSource(file),
      spec,
      targets: [target()],
      rejects: new MemoryRejectSink(),
    });
    expect(result.status).toBe('failed');
    expect(result.error?.name).toBe('RejectBudgetExceededError');
    expect(result.error?.message).toMatch(/over the reject budget of 5\.00 %/);
    reconcile(result);
    expect(
      Number(await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', '${p}:*')`, '0')),
    ).toBe(result.counts.written);
  });

  it('an aborted load stops at a batch boundary; resuming from nextOffset loads exactly the rest', async () => {
    const p = randomPrefix();
    const n = 200_000;
    const file = await tmp.write(
      `${p}.csv`,
      `id,score\n${Array.from({ length: n }, (_, i) => `${i},${i % 997}`).join('\n')}\n`,
    );
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'score' },
    });
    const source = new FileSource(file, { highWaterMark: 64 * 1024 });
    const controller = new AbortController();
    const first = await loadRange({
      source,
      spec,
      targets: [target()],
      rejects: new MemoryRejectSink(),
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.read > 10_000) controller.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    expect(first.counts.written).toBe(first.counts.read);
    expect(first.counts.read).toBeLessThan(n);
    const second = await loadRange({
      source,
      spec,
      targets: [target()],
      rejects: new MemoryRejectSink(),
      range: { start: first.nextOffset, startLine: first.nextLine },
    });
    expect(second.status).toBe('completed');
    expect(first.counts.written + second.counts.written).toBe(n);
    expect(
      Number(await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', '${p}:*')`, '0')),
    ).toBe(n);
  });
});

describe('sharding over three redis-servers', () => {
  const shards = [useRedis(), useRedis(), useRedis()];

  it('puts every key on exactly the shard the router names', async () => {
    const p = randomPrefix();
    const n = 9000;
    const file = await tmp.write(
      `${p}.csv`,
      `id,v\n${Array.from({ length: n }, (_, i) => `${i},${i}`).join('\n')}`,
    );
    const ts = shards.map((s) => target(s.server.url));
    for (const model of [
      { type: 'string', value: 'v' } as const,
      { type: 'bucketed', value: 'v', bucketSize: 30 } as const,
    ]) {
      const spec = parseImportSpec({ format: { type: 'csv' }, key: `${p}${model.type}:{id}`, model });
      const buckets = model.type === 'bucketed' ? await resolveBucketParams(spec, ts, n) : undefined;
      const result = await loadRange({
        source: new FileSource(file),
        spec,
        targets: ts,
        rejects: new MemoryRejectSink(),
        ...(buckets ? { buckets } : {}),
      });
      expect(result.counts.written).toBe(n);
      const router = createJumpRouter(3);
      const perShard = await Promise.all(
        shards.map(async (s) =>
          (await redisCli(s.server.port, '--scan', '--pattern', `${p}${model.type}:*`))
            .split('\n')
            .filter(Boolean),
        ),
      );
      const all = perShard.flat();
      perShard.forEach((keys, i) => {
        expect(keys.length).toBeGreaterThan(0);
        for (const k of keys) if (!k.endsWith(':bkt:meta')) expect(router.route(k)).toBe(i);
      });
      if (model.type === 'string') {
        expect(all.length).toBe(n);
        continue;
      }
      // Bucketed: every key is readable from the shard that owns its bucket, and from no other.
      for (let i = 0; i < n; i += 37) {
        const address = bucketOf(`${p}bucketed:${i}`, buckets!);
        if (typeof address === 'string') throw new Error(address);
        const owner = router.route(address.bucket);
        for (let s = 0; s < 3; s++) {
          expect(await readKey(ts[s]!, `${p}bucketed:${i}`, buckets!)).toBe(s === owner ? String(i) : null);
        }
      }
    }
  });
});
