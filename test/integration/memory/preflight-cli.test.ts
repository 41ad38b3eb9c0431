import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { seeded, writeSampleData } from '../../../cli/sample-data.js';
import { bucketOf } from '../../../shared/mapping/index.js';
import { useTempDir } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';
import { runCli } from '../../support/cli.js';

// 300 k rows of id,score: ~18 MiB as flat keys, ~3 MiB bucketed. The server has 16 MiB.
const ROWS = 300_000;
const tmp = useTempDir();
let file: string;

beforeAll(async () => {
  file = join(tmp.dir, 'users.csv');
  await writeSampleData(file, ROWS);
});

describe('import pre-flight against a redis-server with maxmemory 16mb', () => {
  const redis = useRedis({ args: ['--maxmemory', '16mb', '--maxmemory-policy', 'noeviction'] });
  const base = () => ['import', file, '--redis', redis.server.url, '--key', 'user:{id}', '--value', 'score'];

  it('refuses the flat load before writing anything and suggests the bucketed model', async () => {
    const run = await runCli([...base(), '--no-progress']);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/refused +loading ~\d{3},\d{3} keys as string needs ≈ \d+\.\d MiB/);
    expect(run.stderr).toMatch(/% of maxmemory 16\.0 MiB, over the limit of 85\.0 %/);
    expect(run.stderr).toMatch(/these models fit: bucketed \(hash scheme.*--model bucketed/);
    expect(run.stderr).toContain(
      'refused by the memory pre-flight: nothing was written (--force loads anyway)',
    );
    expect(await redisCli(redis.server.port, 'DBSIZE')).toBe('0');
  });

  it('the suggested bucketed model then loads every row', async () => {
    const run = await runCli([...base(), '--model', 'bucketed', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.status).toBe('completed');
    expect(summary.counts).toMatchObject({ read: ROWS, written: ROWS, rejected: 0 });
    expect(summary.preflight.decision).toBe('proceed');
    expect(summary.preflight.shards[0].verdict).toBe('fits');
    expect(summary.encodings).toMatchObject({ hashtable: 0, missing: 0 });
    expect(summary.encodings.listpack).toBe(summary.encodings.checked);
    const random = seeded(42);
    const scores = Array.from({ length: ROWS }, () => String(Math.floor(random() * 1000)));
    for (const id of [0, 1, 150_000, ROWS - 1]) {
      const address = bucketOf(`user:${id}`, summary.buckets);
      if (typeof address === 'string') throw new Error(address);
      expect(await redisCli(redis.server.port, 'HGET', address.bucket, address.field)).toBe(scores[id]);
    }
    expect(Number(await redisCli(redis.server.port, 'DBSIZE'))).toBe(summary.buckets.bucketCount + 1);
  });

  it('with --force the flat load hits OOM: fatal, no retries, written = keys in Redis', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const run = await runCli([...base(), '--force', '--json']);
    expect(run.code, run.stderr).toBe(3);
    const summary = JSON.parse(run.stdout);
    expect(summary.status).toBe('failed');
    expect(summary.error.name).toBe('RedisOutOfMemoryError');
    expect(summary.preflight).toMatchObject({ decision: 'proceed', forced: true });
    expect(summary.counts.retries).toBe(0);
    expect(summary.counts.written).toBeGreaterThan(0);
    expect(summary.counts.written).toBeLessThan(ROWS);
    expect(Number(await redisCli(redis.server.port, 'DBSIZE'))).toBe(summary.counts.written);
  });

  it('the human summary of an OOM says what it means and where to resume', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const run = await runCli([...base(), '--force', '--no-progress']);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(/forced +loading ~/);
    // The message names the command, its place in the pipeline and the shard.
    expect(run.stderr).toMatch(
      /status +failed — RedisOutOfMemoryError: Command \d+ \[ SET \] on redis:\/\/127\.0\.0\.1:\d+\/0 failed: redis: OOM command not allowed/,
    );
    const written = Number(/written +([\d,]+)/.exec(run.stderr)![1]!.replace(/,/g, ''));
    expect(run.stderr).toMatch(
      /out of memory +Redis refused writes at maxmemory: the [\d,]+ rows written before stay/,
    );
    expect(run.stderr).toMatch(/resume +--start-offset \d+/);
    expect(Number(await redisCli(redis.server.port, 'DBSIZE'))).toBe(written);
  });

  it('plan prints rows, memory per model, chunks and time, and writes nothing', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const run = await runCli([
      'plan',
      file,
      '--redis',
      redis.server.url,
      '--key',
      'user:{id}',
      '--value',
      'score',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/source +.*users\.csv: [\d.]+ MiB, ~[\d,]+ records/);
    expect(run.stdout).toMatch(/model +string: ≈ [\d.]+ MiB \([\d.]+ bytes\/key.*does NOT fit/);
    expect(run.stdout).toMatch(/instead +bucketed \(hash scheme.*fits/);
    expect(run.stdout).toMatch(/chunks +1 of 64\.0 MiB/);
    expect(run.stdout).toMatch(/time +≈ [\d.]+ (ms|s)/);
    expect(run.stdout).toMatch(/verdict +import would be REFUSED/);
    expect(await redisCli(redis.server.port, 'DBSIZE')).toBe('0');
    const partly = await runCli([
      'plan',
      file,
      '--redis',
      `${redis.server.url},redis://127.0.0.1:1`,
      '--key',
      'user:{id}',
      '--value',
      'score',
    ]);
    expect(partly.code, partly.stderr).toBe(0);
    expect(partly.stdout).toMatch(/shard +redis:\/\/127\.0\.0\.1:1\/0: unreachable: not checked/);
    expect(partly.stdout).toMatch(
      /warning +redis:\/\/127\.0\.0\.1:1\/0: unreachable: .*ECONNREFUSED.*: not checked/,
    );
    const json = await runCli(['plan', file, '--key', 'user:{id}', '--value', 'score', '--json'], {
      REDIS_URL: '',
    });
    expect(json.code, json.stderr).toBe(0);
    const plan = JSON.parse(json.stdout);
    expect(Math.abs(plan.rows - ROWS) / ROWS).toBeLessThan(0.05);
    expect(plan.chunks).toBe(1);
    expect(plan.preflight.shards[0].verdict).toBe('unknown');
    expect(plan.preflight.listpackSource).toBe('default');
    // Flat models have no write path to choose; the bucketed one names the one import would take.
    expect(plan.expected.writePath).toBeUndefined();
    const bucketed = await runCli(
      ['plan', file, '--key', 'user:{id}', '--value', 'score', '--model', 'bucketed', '--json'],
      { REDIS_URL: '' },
    );
    expect(bucketed.code, bucketed.stderr).toBe(0);
    const expected = JSON.parse(bucketed.stdout).expected;
    expect(['direct', 'hset', 'restore']).toContain(expected.writePath);
    expect(expected.seconds).toBeCloseTo(plan.rows / expected.keysPerSecond, 6);
  });
});

describe('pre-flight on a managed-style server: CONFIG disabled', () => {
  const redis = useRedis({ args: ['--rename-command', 'CONFIG', '', '--maxmemory', '64mb'] });

  it('says CONFIG could not be read, assumes the documented defaults and fits buckets to them', async () => {
    const run = await runCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      'user:{id}',
      '--value',
      'score',
      '--model',
      'bucketed',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.preflight.listpackSource).toBe('default');
    expect(summary.preflight.listpack).toEqual({ entries: 128, value: 64 });
    expect(summary.preflight.unread.join('\n')).toMatch(/CONFIG GET refused \(ERR unknown command 'CONFIG'/);
    expect(summary.preflight.bucketFit).toMatchObject({ requested: 100, size: 82, lowered: true });
    expect(summary.buckets.bucketCount).toBe(Math.ceil(summary.preflight.records / 82));
    expect(summary.counts.written).toBe(ROWS);
  });
});

describe('pre-flight when INFO is disabled', () => {
  const redis = useRedis({ args: ['--rename-command', 'INFO', ''] });

  it('warns that memory could not be read and loads; the summary says memory is unreadable', async () => {
    const small = await tmp.write('small.csv', 'id,score\n1,1\n2,2\n3,3\n');
    const run = await runCli([
      'import',
      small,
      '--redis',
      redis.server.url,
      '--key',
      'user:{id}',
      '--value',
      'score',
      '--no-progress',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /warning +redis:\/\/127\.0\.0\.1:\d+\/0: memory use or maxmemory unreadable: not checked/,
    );
    expect(run.stderr).toMatch(/redis memory +unreadable \(INFO unavailable\)/);
    expect(run.stderr).toMatch(/written +3/);
  });
});
