import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../shared/config/index.js';
import { type LoadResult, loadRange, MemoryRejectSink } from '../../shared/import/index.js';
import { FileSource } from '../../shared/records/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';

const tmp = useTempDir();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function reconcile(result: LoadResult): void {
  const c = result.counts;
  expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
}

async function countKeys(port: number, pattern: string): Promise<number> {
  return Number(await redisCli(port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', pattern));
}

describe('redis-server killed with SIGKILL twice during a load', () => {
  // appendfsync always: every acknowledged write is on disk, so a killed server comes back with it.
  const redis = useRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

  it('replays in-flight pipelines after the restart: every key exact, retries counted', async () => {
    const p = randomPrefix();
    const n = 60_000;
    const file = await tmp.write(
      `${p}.csv`,
      `id,v\n${Array.from({ length: n }, (_, i) => `${i},${i * 3}`).join('\n')}\n`,
    );
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
      batch: { maxCommands: 500, inFlight: 4 },
      retry: { retries: 20, baseMs: 20, maxMs: 200 },
    });
    const t = new TcpTarget(redis.server.url);
    targets.push(t);
    const kills: number[] = [];
    let faulting: Promise<void> = Promise.resolve();
    const result = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec,
      targets: [t],
      rejects: new MemoryRejectSink(),
      onProgress: (progress) => {
        const due = kills.length === 0 ? n / 4 : n / 2;
        if (kills.length < 2 && progress.read > due) {
          kills.push(progress.read);
          faulting = faulting.then(async () => {
            await redis.server.kill('SIGKILL');
            await redis.server.restart();
          });
        }
      },
    });
    await faulting;
    expect(kills).toHaveLength(2);
    expect(result.status).toBe('completed');
    expect(result.counts).toMatchObject({ read: n, written: n, rejected: 0 });
    expect(result.counts.retries).toBeGreaterThan(0);
    expect(await countKeys(redis.server.port, `${p}:*`)).toBe(n);
    for (const i of [0, 1, 12_345, n / 2, n - 1])
      expect(await redisCli(redis.server.port, 'GET', `${p}:${i}`)).toBe(String(i * 3));
  });
});

describe('redis out of memory (maxmemory with noeviction)', () => {
  const redis = useRedis({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });

  it('is fatal at once, never retried, and the written count equals the keys in Redis', async () => {
    const p = randomPrefix();
    const n = 200_000;
    const file = await tmp.write(
      `${p}.csv`,
      `id,v\n${Array.from({ length: n }, (_, i) => `${i},value-${i}`).join('\n')}\n`,
    );
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
    });
    const t = new TcpTarget(redis.server.url);
    targets.push(t);
    const result = await loadRange({
      source: new FileSource(file),
      spec,
      targets: [t],
      rejects: new MemoryRejectSink(),
    });
    expect(result.status).toBe('failed');
    expect(result.error?.name).toBe('RedisOutOfMemoryError');
    expect(result.counts.retries).toBe(0);
    expect(result.counts.written).toBeGreaterThan(0);
    expect(result.counts.written).toBeLessThan(n);
    expect(result.counts.rejected).toBe(0);
    reconcile(result);
    expect(await countKeys(redis.server.port, `${p}:*`)).toBe(result.counts.written);
  });
});

describe('wrong password', () => {
  const redis = useRedis({ password: 's3cret-pw' });

  it('fails fast as AuthError without retrying, and never shows the password', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,v\n1,1\n2,2\n');
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
    });
    const url = redis.server.url.replace('redis://', 'redis://:wrong-pw-123@');
    const t = new TcpTarget(url);
    targets.push(t);
    const result = await loadRange({
      source: new FileSource(file),
      spec,
      targets: [t],
      rejects: new MemoryRejectSink(),
    });
    expect(result.status).toBe('failed');
    expect(result.error?.name).toBe('AuthError');
    expect(result.counts.retries).toBe(0);
    expect(result.counts.written).toBe(0);
    expect(result.error?.message).not.toContain('wrong-pw-123');
    expect(t.name).not.toContain('wrong-pw-123');
  });
});
