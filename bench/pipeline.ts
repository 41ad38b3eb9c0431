/**
 * The local pipeline (S3 event → import-start → state machine → import-chunk ×N → import-finish, as
 * `npm run demo` runs it) against a single-process CLI import of the same file into the same redis-server.
 * Alternates CLI, pipeline, CLI, pipeline… with FLUSHALL between runs and prints the median ratio.
 *
 *   npm run build && node dist/bench/pipeline.js [--rows 5000000] [--pairs 3] [--chunk-mib 16] [--concurrency 2]
 *     [--model string|bucketed]
 *
 * `--model bucketed` loads hash buckets (`groupBuckets` auto: grouped from 1 M rows) on both sides: the CLI's
 * grouped load, and chunks that import-start sizes for a 10 GiB /tmp, each sorted by bucket in import-chunk.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startLocalRedis } from '../cli/local-redis.js';
import { startLocalS3 } from '../cli/local-stack/local-s3.js';
import { LocalImportStack } from '../cli/local-stack/local-stack.js';
import { objectCreatedEvent } from '../cli/pipeline-demo.js';
import { writeSampleData } from '../cli/sample-data.js';
import { TcpTarget } from '../shared/redis/index.js';
import { cli, cliFlags, median } from './support.js';

const run = promisify(execFile);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const rows = arg('rows', 5_000_000);
  const pairs = arg('pairs', 3);
  const chunkBytes = Math.round(arg('chunk-mib', 16) * 2 ** 20);
  const concurrency = arg('concurrency', 2);
  const m = process.argv.indexOf('--model');
  const model = m === -1 ? 'string' : process.argv[m + 1];
  if (model !== 'string' && model !== 'bucketed') throw new Error(`--model string|bucketed, not ${model}`);
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-pipeline-'));
  const redis = await startLocalRedis();
  const s3 = await startLocalS3(['bench']);
  const target = new TcpTarget(redis.url);
  try {
    const file = join(dir, 'users.csv');
    await writeSampleData(file, rows);
    const size = (await stat(file)).size;
    const cliTimes: number[] = [];
    const pipeTimes: number[] = [];
    for (let pair = 0; pair < pairs; pair++) {
      await target.exec([{ args: ['FLUSHALL'] }]);
      let t0 = performance.now();
      await run(process.execPath, [
        ...cliFlags,
        cli,
        'import',
        file,
        '--redis',
        redis.url,
        '--key',
        'user:{id}',
        '--value',
        'score',
        '--model',
        model,
        '--no-progress',
        '--json',
        '--rejects',
        join(dir, 'rejects.jsonl'),
      ]);
      cliTimes.push(performance.now() - t0);

      await target.exec([{ args: ['FLUSHALL'] }]);
      // A new key per pair: a new object version, hence a new import (not a duplicate).
      const key = `incoming/users-${pair}.csv`;
      const put = await s3.client.send(
        new PutObjectCommand({
          Bucket: 'bench',
          Key: key,
          Body: createReadStream(file),
          ContentLength: size,
        }),
      );
      const stack = await LocalImportStack.create({
        redisUrls: [redis.url],
        s3Endpoint: s3.endpoint,
        reportBucket: 'bench',
        chunkBytes,
        maxConcurrency: concurrency,
        defaultSpec: { key: 'user:{id}', model: { type: model, value: 'score' } },
        // The deployment's import-chunk /tmp (serverless.yml: importChunkTempMiB).
        env: { 'import-start': { CHUNK_TEMP_MIB: '10240' } },
      });
      t0 = performance.now();
      const [outcome] = await stack.deliver(objectCreatedEvent('bench', key, put.ETag ?? ''));
      if (outcome?.status !== 'started') throw new Error(`not started: ${JSON.stringify(outcome)}`);
      const result = (await stack.execution(outcome.importId)!.result) as { status: string };
      pipeTimes.push(performance.now() - t0);
      await stack.close();
      if (result.status !== 'SUCCEEDED') throw new Error(`pipeline import ${result.status}`);
      console.error(
        `pair ${pair + 1}: cli ${(cliTimes[pair]! / 1000).toFixed(2)} s, pipeline ${(pipeTimes[pair]! / 1000).toFixed(2)} s`,
      );
    }
    const ratios = cliTimes.map((c, i) => pipeTimes[i]! / c);
    console.log(
      `BENCH case=pipeline-vs-cli model=${model} rows=${rows} chunk_mib=${(chunkBytes / 2 ** 20).toFixed(0)} concurrency=${concurrency} ` +
        `cli_s=${(median(cliTimes) / 1000).toFixed(2)} pipeline_s=${(median(pipeTimes) / 1000).toFixed(2)} ` +
        `overhead=${((median(ratios) - 1) * 100).toFixed(1)}% rss_mib=${(process.resourceUsage().maxRSS / 1024).toFixed(0)}`,
    );
  } finally {
    await target.close();
    await s3.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
