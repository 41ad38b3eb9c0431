import { describe, expect, it } from 'vitest';
import { randomPrefix } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { putObject, s3Event, useS3 } from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';

const s3 = useS3();
const stacks = useImportStacks();

function rows(n: number, value: (i: number) => string): string {
  return `id,v\n${Array.from({ length: n }, (_, i) => `${i},${value(i)}`).join('\n')}\n`;
}

describe('redis-server killed with SIGKILL twice during a pipeline import', () => {
  // appendfsync always: every acknowledged write is on disk, so a killed server comes back with it.
  const redis = useRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

  it('completes after both restarts: key count and values exact, retries in the report', async () => {
    const p = randomPrefix();
    const n = 120_000;
    const key = `incoming/${p}/kill.csv`;
    const etag = await putObject(
      s3.server,
      key,
      rows(n, (i) => String(i * 3)),
    );
    let returned = 0;
    const kills: number[] = [];
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 96 * 1024,
      maxConcurrency: 2,
      retryDelayMs: 200,
      defaultSpec: {
        key: `${p}:{id}`,
        model: { type: 'string', value: 'v' },
        batch: { maxCommands: 500, inFlight: 4 },
        retry: { retries: 20, baseMs: 50, maxMs: 500 },
      },
      onChunk: async () => {
        returned++;
        if (returned === 1 || returned === 4) {
          kills.push(returned);
          await redis.server.kill('SIGKILL');
          // The other chunk in flight meets a dead server for a moment, then a restarted one.
          setTimeout(() => void redis.server.restart(), 150);
        }
      },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(outcome.chunks).toBeGreaterThan(8);
    const result = await stack.execution(outcome.importId)!.result;
    expect(kills).toEqual([1, 4]);
    expect(result).toMatchObject({ status: 'SUCCEEDED' });
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: n, written: n, rejected: 0, unsettled: 0 });
    expect(report.counts.retries + report.counts.taskRetries).toBeGreaterThan(0);
    const count = await redisCli(
      redis.server.port,
      'EVAL',
      `return #redis.call('KEYS', ARGV[1])`,
      '0',
      `${p}:*`,
    );
    expect(Number(count)).toBe(n);
    for (const i of [0, 1, 12_345, n / 2, n - 1]) {
      expect(await redisCli(redis.server.port, 'GET', `${p}:${i}`)).toBe(String(i * 3));
    }
  });
});

describe('the object is overwritten during the import', () => {
  const redis = useRedis();

  it('fails with SourceChangedError: a FAILED report, never a mixture presented as success', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/moving.csv`;
    const etag = await putObject(
      s3.server,
      key,
      rows(20_000, (i) => `old-${i}`),
    );
    let overwritten = false;
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 32 * 1024,
      maxConcurrency: 1,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
      onChunk: async () => {
        if (overwritten) return;
        overwritten = true;
        await putObject(
          s3.server,
          key,
          rows(20_000, (i) => `new-${i}`),
        );
      },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    const result = await stack.execution(outcome.importId)!.result;
    expect(result).toMatchObject({ status: 'FAILED' });
    const report = await stack.report(outcome.importId);
    expect(report.status).toBe('FAILED');
    expect(report.errors[0]?.name).toBe('SourceChangedError');
    expect(report.reason).toContain('SourceChangedError');
    expect(report.chunks.completed).toBeLessThan(report.chunks.planned);
    // Nothing of the new version was written.
    const newer = await redisCli(
      redis.server.port,
      'EVAL',
      `local n=0 for _,k in ipairs(redis.call('KEYS', ARGV[1])) do if string.sub(redis.call('GET', k),1,4)=='new-' then n=n+1 end end return n`,
      '0',
      `${p}:*`,
    );
    expect(newer).toBe('0');
  });
});

describe('a wrong Redis password', () => {
  const redis = useRedis({ password: 'right-pw-1' });

  it('import-start refuses at once: FAILED report with AuthError, no execution', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/auth.csv`;
    const etag = await putObject(s3.server, key, rows(100, String));
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      redisPassword: 'wrong-pw-2',
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const [outcome] = await stack.deliver(await s3Event(key, etag));
    expect(outcome).toMatchObject({ status: 'refused' });
    expect(stack.started).toHaveLength(0);
    const report = await stack.report((outcome as { importId: string }).importId);
    expect(report.status).toBe('FAILED');
    expect(report.reason).toContain('AuthError');
    expect(JSON.stringify(report)).not.toContain('wrong-pw-2');
  });

  it('chunks with a wrong password fail fast, without a storm of retries', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/auth-chunks.csv`;
    const etag = await putObject(s3.server, key, rows(20_000, String));
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      redisPassword: 'right-pw-1',
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 16 * 1024,
      maxConcurrency: 2,
      env: { 'import-chunk': { REDIS_PASSWORD: 'wrong-pw-3' } },
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(outcome.chunks).toBeGreaterThan(5);
    const result = await stack.execution(outcome.importId)!.result;
    expect(result).toMatchObject({ status: 'FAILED' });
    // The first failure stops the Map: at most the chunks already in flight ran, none was retried.
    expect(stack.invocations['import-chunk']).toBeLessThanOrEqual(2);
    const report = await stack.report(outcome.importId);
    expect(report.errors[0]?.name).toBe('AuthError');
    expect(report.counts.written).toBe(0);
    expect(JSON.stringify(report)).not.toContain('wrong-pw-3');
    expect(await redisCli(redis.server.port, '-a', 'right-pw-1', '--no-auth-warning', 'DBSIZE')).toBe('0');
  });
});
