import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { putObject, TEST_BUCKET, useS3 } from '../support/s3.js';

const run = promisify(execFile);
const redis = useRedis();
const s3 = useS3();
const tmp = useTempDir();

describe('redis-bulk-loader import s3://bucket/key --s3-endpoint', () => {
  it('loads an S3 object through the CLI, every key exact', async () => {
    const p = randomPrefix();
    const key = `cli/${p}/users.csv`;
    await putObject(
      s3.server,
      key,
      `id,score\n${Array.from({ length: 5000 }, (_, i) => `${i},${i % 97}`).join('\n')}\n`,
    );
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'cli/main.ts',
        'import',
        `s3://${TEST_BUCKET}/${key}`,
        '--s3-endpoint',
        s3.server.endpoint,
        '--redis',
        redis.server.url,
        '--key',
        `${p}:{id}`,
        '--value',
        'score',
        '--rejects',
        `${tmp.dir}/rejects.jsonl`,
        '--json',
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_REGION: 'us-east-1',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      },
    );
    const summary = JSON.parse(stdout) as { status: string; counts: { written: number }; source: string };
    expect(summary).toMatchObject({
      status: 'completed',
      counts: { written: 5000 },
      source: `s3://${TEST_BUCKET}/${key}`,
    });
    expect(await redisCli(redis.server.port, 'GET', `${p}:4999`)).toBe(String(4999 % 97));
    expect(
      await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${p}:*`),
    ).toBe('5000');
  });
});
