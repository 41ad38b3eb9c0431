import { access } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type ImportSpec, type ImportSpecInput, parseImportSpec } from '../../../shared/config/index.js';
import type { GroupingPlan, ListpackFit } from '../../../shared/grouping/index.js';
import {
  chooseBucketWrite,
  type GroupedLoadResult,
  type LoadProgress,
  loadGrouped,
  localSpill,
  MemoryRejectSink,
  openGroupedRun,
  resolveBucketParams,
} from '../../../shared/import/index.js';
import { type BucketParams, bucketOf, createTtl, readKey } from '../../../shared/mapping/index.js';
import { FileSource } from '../../../shared/records/index.js';
import { type Target, TcpTarget } from '../../../shared/redis/index.js';
import { createJumpRouter } from '../../../shared/sharding/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { execAll } from '../../support/read-back.js';
import { type RedisServer, redisCli, startRedis, useRedis } from '../../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();
const opened: TcpTarget[] = [];
function target(url = redis.server.url): TcpTarget {
  const t = new TcpTarget(url);
  opened.push(t);
  return t;
}
afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()));
});

interface Row {
  line: number;
  offset: number;
  text: string;
  id: string;
  score: string;
  bad: boolean;
}

/**
 * `id,score` CSV of `n` rows: the last tenth repeat earlier ids with new scores (the last one must win), and
 * every 997th row has a third column (rejected by the reader). Rows keep their line and byte offset.
 */
function dataset(n: number, idOf: (i: number) => string = (i) => `k${i}`): { text: string; rows: Row[] } {
  let text = 'id,score\n';
  let offset = text.length;
  const rows: Row[] = [];
  const distinct = Math.floor(n * 0.9);
  for (let i = 0; i < n; i++) {
    const id = idOf(i < distinct ? i : (i * 7919) % distinct);
    const bad = i % 997 === 500;
    const score = `s${i}`;
    const row = bad ? `${id},${score},extra` : `${id},${score}`;
    rows.push({ line: i + 2, offset, text: row, id, score, bad });
    text += `${row}\n`;
    offset += Buffer.byteLength(row) + 1;
  }
  return { text, rows };
}

function lastValues(rows: readonly Row[]): Map<string, string> {
  const last = new Map<string, string>();
  for (const r of rows) if (!r.bad) last.set(r.id, r.score);
  return last;
}

function spec(p: string, extra: Partial<ImportSpecInput> = {}, model: object = {}): ImportSpec {
  return parseImportSpec({
    format: { type: 'csv' },
    key: `${p}:{id}`,
    model: { type: 'bucketed', value: 'score', bucketSize: 50, ...model },
    groupBuckets: 'on',
    batch: { maxCommands: 500 },
    rejectBudget: { fraction: 0.5 },
    ...extra,
  });
}

const plan = (partitions: number): GroupingPlan => ({
  partitions,
  spillBytesPerRecord: 0,
  tempBytes: 0,
  recordsPerPartition: 0,
});

async function grouped(
  file: string,
  s: ImportSpec,
  targets: readonly Target[],
  options: {
    partitions: number;
    records: number;
    signal?: AbortSignal;
    onProgress?: (p: LoadProgress) => void;
    restore?: ListpackFit;
    indexWorker?: boolean;
  },
): Promise<{
  result: GroupedLoadResult;
  rejects: MemoryRejectSink;
  buckets: BucketParams;
  resumed: boolean;
}> {
  const source = new FileSource(file, { highWaterMark: 16 * 1024 });
  const buckets = await resolveBucketParams(s, targets, options.records);
  const run = await openGroupedRun({
    source,
    spec: s,
    buckets,
    targets,
    plan: plan(options.partitions),
    store: localSpill(tmp.dir),
  });
  const rejects = new MemoryRejectSink();
  const result = await loadGrouped({
    source,
    spec: s,
    targets,
    buckets,
    grouped: run,
    rejects,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    restore: options.restore,
    ...(options.indexWorker === undefined ? {} : { indexWorker: options.indexWorker }),
  });
  return { result, rejects, buckets, resumed: run.manifest !== undefined };
}

function reconcile(result: GroupedLoadResult): void {
  const c = result.counts;
  expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
}

/** Every id reads back (through readKey, on the shard jump hash picks) equal to its last value in the source. */
async function expectLastValues(
  targets: readonly Target[],
  buckets: BucketParams,
  last: Map<string, string>,
  p: string,
  except: (id: string) => boolean = () => false,
): Promise<void> {
  const router = createJumpRouter(targets.length);
  const ids = [...last.keys()].filter((id) => !except(id));
  const got = await Promise.all(
    ids.map((id) => {
      const at = bucketOf(`${p}:${id}`, buckets);
      if (typeof at === 'string') throw new Error(at);
      return readKey(targets[router.route(at.bucket)]!, `${p}:${id}`, buckets);
    }),
  );
  expect(got).toEqual(ids.map((id) => last.get(id)));
}

describe('grouped bucket writes into a real redis-server', () => {
  it('one HSET per bucket: every key reads back with its last value; rejects keep their lines; TTL per bucket', async () => {
    const p = randomPrefix();
    const n = 20_000;
    const { text, rows } = dataset(n);
    const file = await tmp.write(`${p}.csv`, text);
    const s = spec(p, { ttl: { seconds: 5000, jitterPercent: 10 } });
    const t = target();
    const bucketsFirst = await resolveBucketParams(s, [t], n);
    if (bucketsFirst.scheme !== 'hash') throw new Error('hash scheme expected');
    // A bucket that already holds a string: its HSET is refused (WRONGTYPE), so its records are rejects.
    const taken = `${bucketsFirst.prefix}3`;
    await redisCli(redis.server.port, 'SET', taken, 'not a hash');
    const inTaken = (id: string) =>
      (bucketOf(`${p}:${id}`, bucketsFirst) as { bucket: string }).bucket === taken;

    // The partitions are indexed by the worker thread: rejects still find their rows.
    const { result, rejects, buckets } = await grouped(file, s, [t], {
      partitions: 4,
      records: n,
      indexWorker: true,
    });
    expect(result.status).toBe('completed');
    reconcile(result);
    const badRows = rows.filter((r) => r.bad);
    const refused = rows.filter((r) => !r.bad && inTaken(r.id));
    expect(refused.length).toBeGreaterThan(0);
    expect(result.counts).toMatchObject({
      read: n,
      rejected: badRows.length + refused.length,
      written: n - badRows.length - refused.length,
      skipped: 0,
      unsettled: 0,
    });
    expect(result.nextOffset).toBe(Buffer.byteLength(text));
    expect(result.grouped).toMatchObject({ partitions: 4, settled: 4, kept: false, resumedAt: 0 });
    expect(result.grouped.tempBytes).toBeGreaterThan(0);
    await expect(access(result.grouped.spill)).rejects.toThrow();

    const byOffset = new Map(rejects.entries.map((e) => [e.offset, e]));
    for (const r of badRows) {
      expect(byOffset.get(r.offset)).toEqual({
        file,
        line: r.line,
        offset: r.offset,
        reason: 'expected 2 columns, found 3',
        raw: r.text,
      });
    }
    for (const r of refused) {
      expect(byOffset.get(r.offset)).toEqual({
        file,
        line: r.line,
        offset: r.offset,
        reason: expect.stringMatching(/WRONGTYPE Operation against a key holding the wrong kind of value/),
        raw: r.text,
      });
    }
    expect(rejects.count).toBe(badRows.length + refused.length);

    await expectLastValues([t], buckets, lastValues(rows), p, inTaken);
    expect(await redisCli(redis.server.port, 'GET', taken)).toBe('not a hash');

    // One EXPIRE per bucket, with the direct path's deterministic jitter of the bucket key.
    const ttl = createTtl(s.ttl)!;
    const keys = Array.from({ length: bucketsFirst.bucketCount }, (_, i) => `${buckets.prefix}${i}`).filter(
      (k) => k !== taken,
    );
    const ttls = (await execAll(
      t,
      keys.map((k) => ({ args: ['TTL', k] })),
    )) as number[];
    keys.forEach((k, i) => {
      const want = Number(ttl(k));
      expect(ttls[i]).toBeLessThanOrEqual(want);
      expect(ttls[i]).toBeGreaterThan(want - 30);
    });
    expect(new Set(ttls).size).toBeGreaterThan(10);
  });

  it('spreads buckets over 3 standalone shards by jump hash of the bucket key, each bucket on one shard', async () => {
    const p = randomPrefix();
    const n = 12_000;
    const { text, rows } = dataset(n);
    const file = await tmp.write(`${p}.csv`, text);
    const servers = [redis.server, await startExtra(), await startExtra()];
    const targets = servers.map((s) => target(s.url));
    const s = spec(p);
    const { result, buckets } = await grouped(file, s, targets, { partitions: 3, records: n });
    expect(result.status).toBe('completed');
    reconcile(result);
    expect(result.counts.written).toBe(rows.filter((r) => !r.bad).length);
    await expectLastValues(targets, buckets, lastValues(rows), p);
    if (buckets.scheme !== 'hash') throw new Error('hash scheme expected');
    const router = createJumpRouter(3);
    const counts = await Promise.all(
      servers.map((srv) =>
        redisCli(srv.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${buckets.prefix}[0-9]*`),
      ),
    );
    const expected = [0, 0, 0];
    for (let i = 0; i < buckets.bucketCount; i++) expected[router.route(`${buckets.prefix}${i}`)]!++;
    expect(counts.map(Number)).toEqual(expected);
  });

  it('range scheme over unsorted ids: buckets of consecutive ids, fields id mod size', async () => {
    const p = randomPrefix();
    const n = 8000;
    const { text, rows } = dataset(n, (i) => String((i * 104_729) % 50_000));
    const file = await tmp.write(`${p}.csv`, text);
    const t = target();
    const s = spec(p, {}, { scheme: 'range', bucketSize: 20 });
    const { result, buckets } = await grouped(file, s, [t], { partitions: 2, records: n });
    expect(result.status).toBe('completed');
    reconcile(result);
    await expectLastValues([t], buckets, lastValues(rows), p);
    // Row 1 has id 104729 mod 50000 = 4729: bucket 236, field 9.
    expect(await redisCli(redis.server.port, 'HGET', `${p}:bkt:236`, '9')).toBe('s1');
  });

  it('a stopped load keeps its spill; the same load again continues after the last settled partition', async () => {
    const p = randomPrefix();
    const n = 30_000;
    const { text, rows } = dataset(n);
    const file = await tmp.write(`${p}.csv`, text);
    const s = spec(p, { batch: { maxCommands: 200, inFlight: 1 } });
    const t = target();
    const stop = new AbortController();
    const first = await grouped(file, s, [t], {
      partitions: 6,
      records: n,
      signal: stop.signal,
      onProgress: (progress) => {
        if (progress.phase === 'load' && progress.written > n / 3) stop.abort();
      },
    });
    expect(first.result.status).toBe('interrupted');
    reconcile(first.result);
    expect(first.result.nextOffset).toBe(0);
    expect(first.result.grouped.kept).toBe(true);
    expect(first.result.grouped.settled).toBeGreaterThan(0);
    expect(first.result.grouped.settled).toBeLessThan(6);
    expect(first.result.counts.unsettled).toBeGreaterThan(0);
    await access(first.result.grouped.spill);

    const second = await grouped(file, s, [t], { partitions: 6, records: n });
    expect(second.resumed).toBe(true);
    expect(second.result.status).toBe('completed');
    expect(second.result.grouped).toMatchObject({
      reusedSpill: true,
      resumedAt: first.result.grouped.settled,
      settled: 6,
    });
    const bad = rows.filter((r) => r.bad).length;
    expect(second.result.counts).toMatchObject({ read: n, written: n - bad, rejected: bad, unsettled: 0 });
    // The partition pass's rejects were written by the first run only.
    expect(first.rejects.count + second.rejects.count).toBe(bad);
    await expectLastValues([t], second.buckets, lastValues(rows), p);
  });

  it('a stopped load whose server restarted since starts its load pass again at partition 0', async () => {
    const p = randomPrefix();
    const n = 20_000;
    const { text, rows } = dataset(n);
    const file = await tmp.write(`${p}.csv`, text);
    const s = spec(p, { batch: { maxCommands: 200, inFlight: 1 } });
    const server = await startExtra();
    const stop = new AbortController();
    const t = target(server.url);
    const first = await grouped(file, s, [t], {
      partitions: 4,
      records: n,
      signal: stop.signal,
      onProgress: (progress) => {
        if (progress.phase === 'load' && progress.written > n / 2) stop.abort();
      },
    });
    expect(first.result.grouped.settled).toBeGreaterThan(0);
    await server.kill('SIGKILL');
    await server.restart();
    const again = target(server.url);
    const second = await grouped(file, s, [again], { partitions: 4, records: n });
    expect(second.result.status).toBe('completed');
    expect(second.result.grouped.resumedAt).toBe(0);
    expect(second.result.resets).toEqual([expect.objectContaining({ action: 'replayed' })]);
    expect(second.result.counts.written).toBe(rows.filter((r) => !r.bad).length);
    await expectLastValues([again], second.buckets, lastValues(rows), p);
  });
});

const extras: RedisServer[] = [];
async function startExtra(): Promise<RedisServer> {
  const server = await startRedis();
  extras.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(extras.map((s) => s.stop()));
});

/** One hex digest of every bucket's `DUMP` (`rdbcompression no`): equal digests, byte-identical buckets. */
async function bucketsDigest(port: number, prefix: string, count: number): Promise<string> {
  await redisCli(port, 'CONFIG', 'SET', 'rdbcompression', 'no');
  const script = `local t = {} for i = 0, tonumber(ARGV[2]) - 1 do t[#t + 1] = redis.call('DUMP', ARGV[1] .. i) or '-' end return redis.sha1hex(table.concat(t, '|'))`;
  return redisCli(port, 'EVAL', script, '0', prefix, String(count));
}

async function encodings(port: number, prefix: string, count: number): Promise<Record<string, number>> {
  const script = `local c = {} for i = 0, tonumber(ARGV[2]) - 1 do local e = redis.call('OBJECT', 'ENCODING', ARGV[1] .. i) c[#c + 1] = e end return c`;
  const out = (await redisCli(port, 'EVAL', script, '0', prefix, String(count))).split('\n');
  const counts: Record<string, number> = {};
  for (const e of out) counts[e] = (counts[e] ?? 0) + 1;
  return counts;
}

describe('whole buckets with RESTORE (bucketWrite restore)', () => {
  const FIT = { entries: 128, value: 64 };

  it('writes the same buckets byte for byte as HSET; last write wins; TTL per bucket; rejects keep their lines', async () => {
    const n = 20_000;
    const { text, rows } = dataset(n);
    const ttlSpec = { seconds: 5000, jitterPercent: 10 };
    // The same load twice, into two servers: HSET into one, indexing here; RESTORE into the other, indexing in
    // the worker thread.
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, text);
    const other = await startExtra();
    const t = target(other.url);
    const s = spec(p, { ttl: ttlSpec });
    const a = await grouped(file, s, [target()], { partitions: 3, records: n, indexWorker: false });
    const b = await grouped(file, s, [t], { partitions: 3, records: n, restore: FIT, indexWorker: true });
    for (const { result } of [a, b]) {
      expect(result.status).toBe('completed');
      reconcile(result);
    }
    expect({ ...b.result.counts, commands: 0 }).toEqual({ ...a.result.counts, commands: 0 });
    // One RESTORE per bucket, against one HSET and one EXPIRE.
    expect(b.result.counts.commands * 2).toBe(a.result.counts.commands);
    expect(b.rejects.entries.map((e) => [e.line, e.reason])).toEqual(
      a.rejects.entries.map((e) => [e.line, e.reason]),
    );
    if (b.buckets.scheme !== 'hash') throw new Error('hash scheme expected');
    expect(b.buckets).toEqual(a.buckets);
    const count = b.buckets.bucketCount;
    expect(await bucketsDigest(other.port, b.buckets.prefix, count)).toBe(
      await bucketsDigest(redis.server.port, a.buckets.prefix, count),
    );
    expect(await encodings(other.port, b.buckets.prefix, count)).toEqual({ listpack: count });
    await expectLastValues([t], b.buckets, lastValues(rows), p);

    const ttl = createTtl(s.ttl)!;
    const keys = Array.from({ length: count }, (_, i) => `${b.buckets.prefix}${i}`);
    const ttls = (await execAll(
      t,
      keys.map((k) => ({ args: ['TTL', k] })),
    )) as number[];
    keys.forEach((k, i) => {
      const want = Number(ttl(k));
      expect(ttls[i]).toBeLessThanOrEqual(want);
      expect(ttls[i]).toBeGreaterThan(want - 30);
    });
  });

  it('replaces what a bucket key held; a bucket past the listpack limits gets DEL and HSET; a replay changes nothing', async () => {
    const p = randomPrefix();
    const n = 6000;
    const { text, rows } = dataset(n);
    const file = await tmp.write(`${p}.csv`, text);
    const t = target();
    const s = spec(p, {}, { bucketSize: 60 });
    const buckets = await resolveBucketParams(s, [t], n);
    if (buckets.scheme !== 'hash') throw new Error('hash scheme expected');
    // Stale content the load must not keep: a field no row has, and a key of another type.
    await redisCli(redis.server.port, 'HSET', `${buckets.prefix}0`, 'stale-field', 'x');
    await redisCli(redis.server.port, 'SET', `${buckets.prefix}1`, 'not a hash');
    // Told that a listpack holds at most 55 fields: the buckets above it (about half) take the HSET way.
    const fit = { entries: 55, value: 64 };
    const first = await grouped(file, s, [t], { partitions: 2, records: n, restore: fit });
    expect(first.result.status).toBe('completed');
    reconcile(first.result);
    expect(first.result.counts.rejected).toBe(rows.filter((r) => r.bad).length);
    await expectLastValues([t], first.buckets, lastValues(rows), p);
    expect(await redisCli(redis.server.port, 'HEXISTS', `${buckets.prefix}0`, 'stale-field')).toBe('0');
    expect(await redisCli(redis.server.port, 'TYPE', `${buckets.prefix}1`)).toBe('hash');
    const lens = (await execAll(
      t,
      Array.from({ length: buckets.bucketCount }, (_, i) => ({ args: ['HLEN', `${buckets.prefix}${i}`] })),
    )) as number[];
    expect(lens.some((l) => l > fit.entries)).toBe(true);
    expect(lens.some((l) => l <= fit.entries)).toBe(true);
    const digest = await bucketsDigest(redis.server.port, buckets.prefix, buckets.bucketCount);

    const again = await grouped(file, s, [t], { partitions: 2, records: n, restore: fit });
    expect(again.result.counts).toEqual(first.result.counts);
    expect(await bucketsDigest(redis.server.port, buckets.prefix, buckets.bucketCount)).toBe(digest);
  });

  it('is chosen only where it is safe and works: a server that refuses RESTORE gets HSET, with the reason', async () => {
    const t = target();
    const listpack = { entries: 128, value: 64 };
    const base = { targets: [t], listpack, prefix: 'probe:bkt:' };
    expect(await chooseBucketWrite({ ...base, mode: 'restore', freshKeys: false })).toMatchObject({
      write: 'restore',
      fit: listpack,
    });
    expect(await chooseBucketWrite({ ...base, mode: 'auto', freshKeys: true })).toMatchObject({
      write: 'restore',
    });
    expect(await chooseBucketWrite({ ...base, mode: 'auto', freshKeys: false })).toMatchObject({
      write: 'hset',
    });
    expect(await chooseBucketWrite({ ...base, mode: 'hset', freshKeys: true })).toMatchObject({
      write: 'hset',
    });
    expect(await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', 'probe:*')`, '0')).toBe('0');

    const renamed = await startRedis({ args: ['--rename-command', 'RESTORE', '""'] });
    const r = target(renamed.url);
    try {
      const choice = await chooseBucketWrite({ ...base, targets: [t, r], mode: 'restore', freshKeys: true });
      expect(choice).toMatchObject({ write: 'hset', fallback: true });
      expect(choice.reason).toMatch(
        new RegExp(
          `RESTORE not usable on ${r.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*unknown command.*; HSET instead`,
        ),
      );
      expect(choice).not.toHaveProperty('fit');
    } finally {
      await r.close();
      await renamed.stop();
    }
  });
});

describe('the partition pass in worker threads', () => {
  it('cuts multiline CSV where quotes allow, renumbers rejects, and keeps the last write across segments', async () => {
    const p = randomPrefix();
    // Quoted values with newlines everywhere, so cuts land inside quoted fields; bad rows in every segment;
    // ids repeated far apart (the later value is in a later segment).
    const n = 6000;
    let text = 'id,score\n';
    const last = new Map<string, string>();
    const bad: { line: number; offset: number }[] = [];
    let line = 2;
    for (let i = 0; i < n; i++) {
      const offset = Buffer.byteLength(text);
      const id = `k${i % 4000}`;
      if (i % 1000 === 999) {
        text += `${id},"x"y\n`;
        bad.push({ line, offset });
        line += 1;
        continue;
      }
      const score = i % 3 === 0 ? `"s${i}\nwith ""quotes"", and\na newline"` : `s${i}`;
      text += `${id},${score}\n`;
      last.set(id, i % 3 === 0 ? `s${i}\nwith "quotes", and\na newline` : `s${i}`);
      line += i % 3 === 0 ? 3 : 1;
    }
    const file = await tmp.write(`${p}.csv`, text);
    const t = target();
    const s = spec(p);
    const source = new FileSource(file, { highWaterMark: 4096 });
    const buckets = await resolveBucketParams(s, [t], n);
    const run = await openGroupedRun({
      source,
      spec: s,
      buckets,
      targets: [t],
      plan: plan(3),
      store: localSpill(tmp.dir),
    });
    const rejects = new MemoryRejectSink();
    const result = await loadGrouped({
      source,
      spec: s,
      targets: [t],
      buckets,
      grouped: run,
      rejects,
      workers: 3,
      minSegmentBytes: 1024,
    });
    expect(result.status).toBe('completed');
    reconcile(result);
    expect(result.grouped.segments).toBe(3);
    expect(result.counts).toMatchObject({ read: n, rejected: bad.length, written: n - bad.length });
    expect(rejects.entries.map((e) => ({ line: e.line, offset: e.offset }))).toEqual(bad);
    expect(rejects.entries[0]).toMatchObject({ raw: 'k999,"x"y', reason: expect.stringMatching(/quote/) });
    expect(result.nextLine).toBe(line);
    await expectLastValues([t], buckets, last, p);
  });
});

describe('stopping the partition pass', () => {
  it('an abort stops every worker; nothing is written, the spill is removed, the counts reconcile', async () => {
    const p = randomPrefix();
    const n = 300_000;
    const { text } = dataset(n);
    const file = await tmp.write(`${p}.csv`, text);
    const t = target();
    const s = spec(p);
    const source = new FileSource(file);
    const buckets = await resolveBucketParams(s, [t], n);
    const run = await openGroupedRun({
      source,
      spec: s,
      buckets,
      targets: [t],
      plan: plan(4),
      store: localSpill(tmp.dir),
    });
    const stop = new AbortController();
    const result = await loadGrouped({
      source,
      spec: s,
      targets: [t],
      buckets,
      grouped: run,
      rejects: new MemoryRejectSink(),
      workers: 2,
      minSegmentBytes: 64 * 1024,
      signal: stop.signal,
      onProgress: (progress) => {
        if (progress.phase === 'partition' && progress.read > 0) stop.abort();
      },
    });
    expect(result.status).toBe('interrupted');
    reconcile(result);
    expect(result.counts.written).toBe(0);
    expect(result.counts.read).toBeLessThan(n);
    expect(result.nextOffset).toBe(0);
    expect(result.grouped.kept).toBe(false);
    await expect(access(result.grouped.spill)).rejects.toThrow();
    expect(
      await redisCli(
        redis.server.port,
        'EVAL',
        `return #redis.call('KEYS', ARGV[1])`,
        '0',
        `${p}:bkt:[0-9]*`,
      ),
    ).toBe('0');
  });
});
