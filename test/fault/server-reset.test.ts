import { afterAll, describe, expect, it } from 'vitest';
import { ShardWriter } from '../../shared/batching/index.js';
import { parseImportSpec } from '../../shared/config/index.js';
import { ServerResetError } from '../../shared/errors/index.js';
import { loadRange, MemoryRejectSink, type StartOutcome } from '../../shared/import/index.js';
import { FileSource } from '../../shared/records/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { finish, runCli, spawnCli } from '../support/cli.js';
import { expectExactKeys, idValueRows } from '../support/read-back.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { type RedisServer, redisCli, useRedis } from '../support/redis-server.js';
import { recordFactory } from '../support/records.js';
import { putObject, s3Event, useS3 } from '../support/s3.js';
import { useImportStacks } from '../support/stepfunctions.js';

/**
 * A redis-server without persistence (`--save "" --appendonly no`, the test default) killed with SIGKILL and
 * restarted on the same port comes back empty: everything it confirmed is gone. Before reset detection, every
 * one of these loads reported success over a partial dataset.
 */

const tmp = useTempDir();
const s3 = useS3();
const stacks = useImportStacks();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

/** Kills the server and starts it again, empty, on the same port. */
async function forget(server: RedisServer): Promise<void> {
  await server.kill('SIGKILL');
  await server.restart();
}

describe('a load whose redis-server restarts empty mid-way', () => {
  const redis = useRedis();
  const spec = (p: string) =>
    parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
      batch: { maxCommands: 500, inFlight: 4 },
      retry: { retries: 20, baseMs: 20, maxMs: 200 },
    });

  it('replay (default): loads the range again, names the reset, every key exact', async () => {
    const p = randomPrefix();
    const n = 60_000;
    const file = await tmp.write(`${p}.csv`, idValueRows(n));
    const t = new TcpTarget(redis.server.url);
    targets.push(t);
    let reset: Promise<void> | undefined;
    const result = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec: spec(p),
      targets: [t],
      rejects: new MemoryRejectSink(),
      onProgress: (progress) => {
        if (reset === undefined && progress.written > n / 3) reset = forget(redis.server);
      },
    });
    await reset;
    expect(result.status).toBe('completed');
    expect(result.counts).toMatchObject({ read: n, written: n, serverResets: 1 });
    expect(result.resets).toEqual([
      expect.objectContaining({
        shard: t.name,
        action: 'replayed',
        message: expect.stringMatching(/restarted \(run_id /),
      }),
    ]);
    await expectExactKeys(redis.server.port, p, n);
  });

  it('fail: stops with the range start as the resume point and counts nothing as written', async () => {
    const p = randomPrefix();
    const n = 60_000;
    const file = await tmp.write(`${p}.csv`, idValueRows(n));
    const t = new TcpTarget(redis.server.url);
    targets.push(t);
    let reset: Promise<void> | undefined;
    const result = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec: spec(p),
      targets: [t],
      rejects: new MemoryRejectSink(),
      onServerReset: 'fail',
      onProgress: (progress) => {
        if (reset === undefined && progress.written > n / 3) reset = forget(redis.server);
      },
    });
    await reset;
    expect(result.status).toBe('failed');
    expect(result.error?.name).toBe('ServerResetError');
    expect(result.nextOffset).toBe(0);
    expect(result.counts.written).toBe(0);
    const c = result.counts;
    expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
    const resumed = await loadRange({
      source: new FileSource(file),
      spec: spec(p),
      targets: [t],
      rejects: new MemoryRejectSink(),
      range: { start: result.nextOffset, startLine: result.nextLine ?? 1 },
    });
    expect(resumed.status).toBe('completed');
    await expectExactKeys(redis.server.port, p, n);
  });

  /** Runs a CLI import of `n` rows and restarts Redis empty once a quarter of them are in. */
  async function cliWithRestart(p: string, n: number, extra: string[] = []) {
    const file = await tmp.write(`${p}.csv`, idValueRows(n));
    // Keys of earlier tests on this server do not count towards "under way".
    const before = Number(await redisCli(redis.server.port, 'DBSIZE'));
    const child = spawnCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'v',
      '--no-progress',
      // Small pipelines, one at a time: slow enough to restart Redis while it loads.
      '--batch-commands',
      '200',
      '--in-flight',
      '1',
      ...extra,
    ]);
    const done = finish(child);
    let exited = false;
    void done.then(() => (exited = true));
    // Wait until the load is well under way: a real condition, polled.
    while (!exited && Number(await redisCli(redis.server.port, 'DBSIZE')) - before < n / 4) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(exited).toBe(false);
    await forget(redis.server);
    return { file, result: await done };
  }

  it('the CLI replays, says so in the summary, and exits 0 with every key exact', async () => {
    const p = randomPrefix();
    const n = 300_000;
    const { result } = await cliWithRestart(p, n);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /server reset +redis:\/\/127\.0\.0\.1:\d+\/0 restarted \(run_id .*loaded the range again/,
    );
    expect(result.stderr).toMatch(/written +300,000/);
    await expectExactKeys(redis.server.port, p, n);
  });

  it('the CLI with --on-server-reset fail exits 3 with the file start as the resume point; resuming there is exact', async () => {
    const p = randomPrefix();
    const n = 300_000;
    const { file, result } = await cliWithRestart(p, n, ['--on-server-reset', 'fail']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(
      /status +failed — ServerResetError: redis:\/\/127\.0\.0\.1:\d+\/0 restarted/,
    );
    expect(result.stderr).toMatch(/server reset +.*: stopped/);
    expect(result.stderr).toMatch(/resume +--start-offset 0 --start-line 1 /);
    const resumed = await runCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'v',
      '--no-progress',
      '--start-offset',
      '0',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectExactKeys(redis.server.port, p, n);
  });
});

describe('an S3 pipeline import whose redis-server restarts empty', () => {
  const redis = useRedis();

  it('re-runs the chunks the reset erased: SUCCEEDED, every key exact, the report names the reset', async () => {
    const p = randomPrefix();
    const n = 60_000;
    const key = `incoming/${p}/reset.csv`;
    const etag = await putObject(s3.server, key, idValueRows(n));
    let returned = 0;
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 64 * 1024,
      maxConcurrency: 2,
      retryDelayMs: 100,
      defaultSpec: {
        key: `${p}:{id}`,
        model: { type: 'string', value: 'v' },
        batch: { maxCommands: 500, inFlight: 4 },
        retry: { retries: 20, baseMs: 20, maxMs: 200 },
      },
      onChunk: async () => {
        returned++;
        // Chunks 1–3 done, their data and markers are erased; the chunk still running meets a new server.
        if (returned === 3) await forget(redis.server);
      },
    });
    const outcome = (await stack.deliver(await s3Event(key, etag)))[0] as StartOutcome;
    if (outcome.status !== 'started') throw new Error(JSON.stringify(outcome));
    expect(outcome.chunks).toBeGreaterThan(6);
    const result = await stack.execution(outcome.importId)!.result;
    expect(result).toMatchObject({ status: 'SUCCEEDED' });
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: n, written: n, rejected: 0, unsettled: 0 });
    expect(report.notes.join('\n')).toMatch(/pass 1 loads them again/);
    await expectExactKeys(redis.server.port, p, n);
  });
});

describe('two loads sharing one connection, one of them idle while the server restarts', () => {
  const redis = useRedis();

  it('the writer that did not meet the reconnect still stops with a ServerResetError', async () => {
    const p = randomPrefix();
    const target = new TcpTarget(redis.server.url);
    targets.push(target);
    const stopped: string[] = [];
    const writer = new ShardWriter(
      target,
      { maxCommands: 100, maxBytes: 1 << 20, inFlight: 2, retry: { retries: 3, baseMs: 10, maxMs: 20 } },
      { onWritten: () => {}, onRejected: (_r, reason) => stopped.push(reason) },
    );
    const set = (i: number) => ({
      key: `${p}:${i}`,
      args: ['SET', `${p}:${i}`, `v${i}`],
      records: [recordFactory({ id: i })],
    });
    for (let i = 0; i < 300; i++) await writer.add(set(i));
    await writer.drain();
    await forget(redis.server);
    // Another user of the target meets the reconnect first and is told, once.
    await expect(target.exec([{ args: ['PING'] }])).rejects.toBeInstanceOf(ServerResetError);
    for (let i = 300; i < 600; i++) writer.add(set(i))?.catch(() => undefined);
    await expect(writer.drain()).rejects.toBeInstanceOf(ServerResetError);
    expect(stopped).toEqual([]);
  });
});
