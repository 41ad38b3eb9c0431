import { describe, expect, it } from 'vitest';
import type { StartOutcome } from '../../shared/import/index.js';
import { randomPrefix } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { putObject, s3Event, useS3 } from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';
import { captureStdout } from '../support/stdout.js';

const s3 = useS3();
const stacks = useImportStacks();

/** A small Redis that refuses writes past 2 MiB (about 0.9 MiB of it is the empty server's own). */
const SMALL_REDIS = ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'];

/** `rows` records `id,v`: as string keys they need ≈ 56 B each, bucketed ≈ 10 B. */
function scores(rows: number): string {
  return `id,v\n${Array.from({ length: rows }, (_, i) => `${i},${i % 1000}`).join('\n')}\n`;
}

describe('import-start runs the memory pre-flight before any write', () => {
  const redis = useRedis({ args: SMALL_REDIS });

  it('refuses a flat load that would overflow maxmemory: FAILED report, no execution, nothing written', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/scores.csv`;
    const etag = await putObject(s3.server, key, scores(30_000));
    const lines: string[] = [];
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    let outcome: StartOutcome | undefined;
    // import-start logs through Powertools (JSON lines on stdout).
    lines.push(
      ...(await captureStdout(async () => {
        [outcome] = await stack.deliver(await s3Event(key, etag));
      })),
    );
    expect(outcome).toMatchObject({ status: 'refused' });
    expect(stack.started).toHaveLength(0);
    expect(stack.invocations).toEqual({ 'import-start': 0, 'import-chunk': 0, 'import-finish': 0 });
    expect(await redisCli(redis.server.port, 'DBSIZE')).toBe('0');

    const report = await stack.report((outcome as { importId: string }).importId);
    expect(report.status).toBe('FAILED');
    expect(report.counts.written).toBe(0);
    expect(report.chunks.planned).toBe(0);
    expect(report.errors).toHaveLength(1);
    const [error] = report.errors;
    expect(error!.name).toBe('PreflightRefusedError');
    // The shard, the projection against maxmemory, and the model that would fit.
    expect(error!.message).toContain(`127.0.0.1:${redis.server.port}`);
    expect(error!.message).toContain('of maxmemory 2.0 MiB');
    expect(error!.message).toMatch(/these models fit: bucketed/);
    expect(error!.message).toContain(`${key}.import.json`);
    expect(report.reason).toContain('PreflightRefusedError');
    expect(report.redisMemory.before).toHaveLength(1);
    expect(lines.join('\n')).toMatch(/FAILED before it started: PreflightRefusedError/);
  });

  it('loads the same object with a bucketed sidecar spec that fits, its buckets listpack-encoded', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/scores.csv`;
    await putObject(
      s3.server,
      `${key}.import.json`,
      JSON.stringify({ key: `${p}:{id}`, model: { type: 'bucketed', value: 'v' } }),
    );
    const etag = await putObject(s3.server, key, scores(30_000));
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: 30_000, written: 30_000, rejected: 0 });
    // The bucket count comes from the pre-flight's estimate of the records.
    const estimated = /bucketed: \d+ hash buckets for about (\d+) records/.exec(report.notes.join(' '));
    expect(Number(estimated?.[1])).toBeGreaterThan(29_000);
    expect(Number(estimated?.[1])).toBeLessThan(31_000);
    // Every bucket kept the listpack encoding the pre-flight's listpack limits sized it for.
    const bucketKeys = (await redisCli(redis.server.port, '--scan', '--pattern', `${p}:bkt:[0-9]*`))
      .split('\n')
      .filter(Boolean);
    expect(bucketKeys.length).toBeGreaterThan(1);
    for (const bucket of bucketKeys.slice(0, 20)) {
      expect(await redisCli(redis.server.port, 'OBJECT', 'ENCODING', bucket)).toBe('listpack');
    }
  });
});

describe('PREFLIGHT_FORCE starts a load the pre-flight refuses', () => {
  const redis = useRedis({ args: SMALL_REDIS });
  // The empty server already uses more than 30 % of its 2 MiB: every load is projected past this limit.
  const tight = { MEMORY_LIMIT: '0.3' };

  it('refused at MEMORY_LIMIT 0.3, then loaded with PREFLIGHT_FORCE=true and the override noted', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/few.csv`;
    const etag = await putObject(s3.server, key, scores(500));
    const options = {
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    } as const;
    const refusing = await stacks.create({ ...options, env: { 'import-start': tight } });
    const [refused] = await refusing.deliver(await s3Event(key, etag));
    expect(refused).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('past 30.0 % of maxmemory'),
    });
    expect(refusing.started).toHaveLength(0);
    expect(await redisCli(redis.server.port, 'DBSIZE')).toBe('0');

    const forcing = await stacks.create({
      ...options,
      env: { 'import-start': { ...tight, PREFLIGHT_FORCE: 'true' } },
    });
    const outcome = started((await forcing.deliver(await s3Event(key, etag)))[0]);
    expect(await forcing.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    const report = await forcing.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: 500, written: 500 });
    expect(report.notes.join(' ')).toContain('memory pre-flight overridden by PREFLIGHT_FORCE');
    expect(await redisCli(redis.server.port, 'GET', `${p}:499`)).toBe('499');
  });
});
