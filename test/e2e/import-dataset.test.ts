import { describe, expect, it } from 'vitest';
import { readCurrent } from '../../shared/dataset/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { randomPrefix } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { putObject, s3Event, useS3 } from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

/** `id,v` rows tagged with the load: `<tag>:<id>`; every `bad`-th value too long for the spec's limit. */
function rows(n: number, tag: string, bad = 0): string {
  const out = Array.from(
    { length: n },
    (_, i) => `${i},${bad > 0 && i % bad === 0 ? 'x'.repeat(40) : `${tag}:${i}`}`,
  );
  return `id,v\n${out.join('\n')}\n`;
}

describe('S3 → state machine with a dataset spec: import-finish cuts over', () => {
  it('flips current in import-finish, and a FAILED import leaves it untouched, saying so in the reports', async () => {
    const name = randomPrefix();
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 16 * 1024,
      retryDelayMs: 1,
      defaultSpec: {
        key: 'user:{id}',
        model: { type: 'bucketed', value: 'v', bucketSize: 20 },
        limits: { maxValueBytes: 20 },
        rejectBudget: { fraction: 0.01, minRecords: 0 },
        dataset: { name },
      },
    });
    const load = async (tag: string, bad = 0) => {
      const key = `incoming/${name}/${tag}.csv`;
      const etag = await putObject(s3.server, key, rows(3000, tag, bad));
      const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
      await stack.execution(outcome.importId)!.result;
      return { outcome, report: await stack.report(outcome.importId) };
    };

    const first = await load('v1');
    expect(first.outcome.chunks).toBeGreaterThan(1);
    expect(first.report.status).toBe('SUCCEEDED');
    expect(first.report.dataset).toMatchObject({
      name,
      version: 1,
      flipped: true,
      previous: null,
      current: 1,
    });
    expect(first.report.notes).toContain(`dataset ${name}: loading v1 (current: none yet)`);
    expect(await redisCli(redis.server.port, 'GET', `${name}:current`)).toBe('1');

    const failed = await load('v2', 10);
    expect(failed.report.status).toBe('FAILED');
    expect(failed.report.dataset).toMatchObject({
      version: 2,
      flipped: false,
      current: 1,
      message: 'cutover skipped: import FAILED; current stays at v1',
    });
    expect(await redisCli(redis.server.port, 'GET', `${name}:current`)).toBe('1');
    const html = await stack.reportHtml(failed.outcome.importId);
    expect(html).toContain('cutover skipped: import FAILED; current stays at v1');

    const third = await load('v3');
    expect(third.report.dataset).toMatchObject({
      version: 3,
      flipped: true,
      previous: 1,
      current: 3,
      expired: [2],
    });
    expect(await redisCli(redis.server.port, 'GET', `${name}:current`)).toBe('3');
    const t = new TcpTarget(redis.server.url);
    expect(await readCurrent(t, name, 'user:2999')).toBe('v3:2999');
    await t.close();
    // Each version's buckets in its own namespace, with its own meta hash.
    expect(await redisCli(redis.server.port, 'HGET', `${name}:v3:user:bkt:meta`, 'prefix')).toBe(
      `${name}:v3:user:bkt:`,
    );
  });
});
