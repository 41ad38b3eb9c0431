import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseImportSpec } from '../shared/config/index.js';
import { classifyError } from '../shared/errors/index.js';
import { TcpTarget } from '../shared/redis/index.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { bytes, int } from './format.js';
import { type ImportSummary, runImport } from './import-run.js';
import { startLocalRedis } from './local-redis.js';
import { runKafkaDemo } from './kafka-demo.js';
import { runPipelineDemo } from './pipeline-demo.js';
import { writeSampleData } from './sample-data.js';
import { formatSummary } from './summary.js';

interface DemoFlags {
  rows: number;
  progress: boolean;
  compareModels: boolean;
  chunkMib: number;
  concurrency: number;
  serve: boolean;
}

/** Registers `demo`: the whole engine against a local redis-server it starts and stops itself. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary('the S3 import pipeline locally (or --compare-models); `demo kafka`: the Kafka paths')
    .description(
      'Start redis-server and s3rver on free loopback ports, generate a CSV of --rows records (id,score), ' +
        'upload it, hand the S3 event to import-start and run the real state machine (infra/import.asl.json) ' +
        'with aws-local-stepfunctions, import-chunk and import-finish in-process; print progress and the report. ' +
        'With --compare-models: load the file twice — flat string keys, then bucketed into small hashes — and ' +
        "compare speed and Redis memory per key. `demo kafka`: start redis-server and librdkafka's mock Kafka " +
        'cluster (kcat), produce --rows click counters (some poison) to two topics, run one through the local ' +
        'event-source mapping and the kafka-consumer handler (with lost responses, so batches come again) and ' +
        'the other through the standalone consumer (then replayed in a new group), and check the counters. ' +
        'Everything is stopped and removed at the end. ' +
        'Needs redis-server on PATH (Debian/Ubuntu: sudo apt-get install -y redis-server).',
    )
    .argument(
      '[path]',
      's3 (default): the S3 import pipeline; kafka: the Kafka paths (Lambda and consume)',
      's3',
    )
    .option('--rows <n>', 'records to generate', (t) => Number.parseInt(t, 10), 1_000_000)
    .option('--chunk-mib <n>', 'pipeline: chunk size in MiB', (t) => Number(t), 2)
    .option('--concurrency <n>', 'pipeline: chunks loaded at once', (t) => Number.parseInt(t, 10), 4)
    .option('--compare-models', 'compare flat and bucketed memory per key instead', false)
    .option(
      '--serve',
      'pipeline: then keep the stack running with a Lambda Invoke endpoint for `trigger` and `redrive` (until Ctrl-C)',
      false,
    )
    .option('--no-progress', 'no progress bar')
    .action(async (path: string, flags: DemoFlags) => {
      if (path === 'kafka') process.exitCode = await kafkaDemo(flags);
      else if (path !== 's3') {
        process.stderr.write(`redis-bulk-loader demo: unknown path '${path}': s3 or kafka\n`);
        process.exitCode = ExitCode.Usage;
      } else process.exitCode = flags.compareModels ? await demo(flags) : await pipelineDemo(flags);
    });
}

async function kafkaDemo(flags: DemoFlags): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    return await runKafkaDemo({ records: flags.rows, log });
  } catch (err) {
    const e = classifyError(err);
    log(`redis-bulk-loader demo kafka: ${e.message}`);
    return exitCodeFor(e);
  }
}

async function pipelineDemo(flags: DemoFlags): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    return await runPipelineDemo({
      rows: flags.rows,
      chunkBytes: Math.max(1, Math.round(flags.chunkMib * 1024 * 1024)),
      concurrency: flags.concurrency,
      progress: flags.progress,
      serve: flags.serve,
      log,
    });
  } catch (err) {
    const e = classifyError(err);
    log(`redis-bulk-loader demo: ${e.message}`);
    return exitCodeFor(e);
  }
}

async function demo(flags: DemoFlags): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'rbl-demo-'));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let redis: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
  try {
    redis = await startLocalRedis();
    log(`redis-server ${redis.url} started (pid ${redis.pid})`);
    const file = join(dir, 'users.csv');
    await writeSampleData(file, flags.rows);
    log(`generated ${file}: ${int(flags.rows)} records of id,score\n`);

    const runs: ImportSummary[] = [];
    for (const model of ['string', 'bucketed'] as const) {
      const spec = parseImportSpec({
        format: { type: 'csv' },
        key: 'user:{id}',
        model: model === 'string' ? { type: 'string', value: 'score' } : { type: 'bucketed', value: 'score' },
      });
      log(
        `== ${model === 'string' ? 'flat: SET user:<id> <score>' : 'bucketed: HSET user:bkt:<n> <id> <score>'}`,
      );
      const summary = await runImport({
        source: file,
        redis: [redis.url],
        spec,
        rejectsPath: join(dir, `${model}.rejects.jsonl`),
        progress: flags.progress,
      });
      log(`${formatSummary(summary)}\n`);
      runs.push(summary);
      if (summary.status !== 'completed')
        return exitCodeFor(classifyError(new Error(summary.error?.message)));
      const target = new TcpTarget(redis.url);
      await target.exec([{ args: ['FLUSHALL'] }]);
      await target.close();
    }
    const [flat, bucketed] = runs as [ImportSummary, ImportSummary];
    const per = (s: ImportSummary) => s.bytesPerKey ?? 0;
    log('== what 200,000,000 such keys would need in Redis');
    log(`  flat      ${per(flat).toFixed(1)} bytes/key → ${bytes(per(flat) * 2e8)}`);
    log(`  bucketed  ${per(bucketed).toFixed(1)} bytes/key → ${bytes(per(bucketed) * 2e8)}`);
    return 0;
  } catch (err) {
    const e = classifyError(err);
    log(`redis-bulk-loader demo: ${e.message}`);
    return exitCodeFor(e);
  } finally {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
