import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChunkState, describeBill, type ImportReport } from '../shared/import/index.js';
import { s3Sdk } from '../shared/records/index.js';
import { bytes, commandsText, duration, int } from './format.js';
import type { LocalS3 } from './local-stack/local-s3.js';
import type { LocalImportStack } from './local-stack/local-stack.js';
import { type LocalRedis, startLocalRedis } from './local-redis.js';
import { writeSampleData } from './sample-data.js';

/** Options of the pipeline demo. */
export interface PipelineDemoOptions {
  rows: number;
  /** Chunk size in bytes. */
  chunkBytes: number;
  /** Chunks loaded at once. */
  concurrency: number;
  progress: boolean;
  /**
   * After the import, keep the stack running with its Lambda Invoke endpoint (functions named as deployed with
   * stage `dev`) and print the `trigger`/`redrive` command lines that reach it, until SIGINT or SIGTERM.
   */
  serve?: boolean;
  log: (line: string) => void;
}

const BUCKET = 'demo';
const KEY = 'incoming/users.csv';

/** An S3 `ObjectCreated:Put` notification for one object, as the bucket would send it. */
export function objectCreatedEvent(bucket: string, key: string, etag: string): unknown {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), eTag: etag.replace(/"/g, '') },
        },
      },
    ],
  };
}

/** The report, as the demo prints it. */
export function formatReport(report: ImportReport, location: string): string {
  const c = report.counts;
  const before = report.redisMemory.before.reduce((a, m) => a + m.usedMemory, 0);
  const after = report.redisMemory.after?.reduce((a, m) => a + m.usedMemory, 0);
  const rows: [string, string][] = [
    ['status', report.status + (report.reason ? ` — ${report.reason}` : '')],
    ['source', `s3://${report.source.bucket}/${report.source.key} (${bytes(report.source.size ?? 0)})`],
    ['chunks', `${report.chunks.completed}/${report.chunks.planned} completed`],
    ['read', int(c.read)],
    ['written', int(c.written)],
    [
      'rejected',
      `${int(c.rejected)}${report.rejects.objects.length ? ` → ${report.rejects.objects.join(', ')}` : ''}`,
    ],
    ['skipped', int(c.skipped)],
    ['retries', `${int(c.retries)} pipeline, ${int(c.taskRetries)} chunk`],
    ['commands', commandsText(c.commands, report.commandsPer100Keys)],
    ...(report.bill ? [['bill', describeBill(report.bill)] as [string, string]] : []),
    ['duration', `${duration(report.durationMs)}  (${int(report.rowsPerSecond)} rows/s, start to report)`],
    [
      'redis memory',
      after === undefined
        ? `${bytes(before)} → ?`
        : `${bytes(before)} → ${bytes(after)}` +
          (report.redisMemory.bytesPerKey === null
            ? ''
            : ` (${report.redisMemory.bytesPerKey.toFixed(1)} bytes/key)`),
    ],
    ['report', location],
  ];
  return rows.map(([k, v]) => `  ${k.padEnd(13)}${v}`).join('\n');
}

/** Serves the stack over Lambda Invoke and waits for SIGINT or SIGTERM. */
async function serve(
  stack: LocalImportStack,
  s3Endpoint: string,
  importId: string,
  log: (line: string) => void,
): Promise<void> {
  const lambda = await stack.serveLambda({ service: 'redis-bulk-loader', stage: 'dev' });
  const sfn = await stack.serveStepFunctions();
  const flags = `--lambda-endpoint ${lambda.url} --s3-endpoint ${s3Endpoint}`;
  const sfnFlags = `--state-machine-arn ${stack.stateMachineArn} --sfn-endpoint ${sfn.url}`;
  log(
    [
      `\n== serving: the three functions over Lambda Invoke at ${lambda.url} (as redis-bulk-loader-dev-import-*),`,
      `   DescribeExecution/RedriveExecution of the state machine at ${sfn.url}`,
      '  in another shell:',
      '  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1',
      `  node dist/cli/main.js trigger s3://${BUCKET}/${KEY} ${flags}              # already imported: nothing started`,
      `  node dist/cli/main.js trigger s3://${BUCKET}/${KEY} --force-new ${flags}  # a new import`,
      `  node dist/cli/main.js redrive ${importId} --report-bucket ${BUCKET} ${flags} ${sfnFlags}`,
      'Ctrl-C stops and removes everything.',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log('stopping…');
}

/**
 * The product's main path on one machine: redis-server and s3rver on free ports, a generated CSV uploaded to
 * `s3://demo/incoming/users.csv` with a sidecar spec, the S3 event handed to import-start, and the real ASL
 * file run by aws-local-stepfunctions with import-chunk/import-finish in-process. Prints progress per chunk
 * and the report; cleans everything up.
 * @returns the process exit code: 0 when the import SUCCEEDED.
 */
export async function runPipelineDemo(options: PipelineDemoOptions): Promise<number> {
  const { log } = options;
  // The SDK's notice that its 2027 releases need Node 22 is noise in a demo on Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { PutObjectCommand } = await s3Sdk();
  const { startLocalS3 } = await import('./local-stack/local-s3.js');
  const { LocalImportStack } = await import('./local-stack/local-stack.js');
  const dir = await mkdtemp(join(tmpdir(), 'rbl-demo-'));
  let redis: LocalRedis | undefined;
  let s3: LocalS3 | undefined;
  let stack: LocalImportStack | undefined;
  try {
    redis = await startLocalRedis();
    log(`redis-server ${redis.url} started (pid ${redis.pid})`);
    s3 = await startLocalS3([BUCKET]);
    log(`s3rver ${s3.endpoint} started in-process, bucket "${BUCKET}"`);
    const file = join(dir, 'users.csv');
    await writeSampleData(file, options.rows);
    const size = (await stat(file)).size;
    const spec = { format: { type: 'csv' }, key: 'user:{id}', model: { type: 'string', value: 'score' } };
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${KEY}.import.json`, Body: JSON.stringify(spec) }),
    );
    const put = await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: createReadStream(file), ContentLength: size }),
    );
    log(
      `uploaded s3://${BUCKET}/${KEY}: ${int(options.rows)} rows of id,score (${bytes(size)}) and its sidecar spec`,
    );

    let done = 0;
    let written = 0;
    let chunks = 0;
    const started = performance.now();
    stack = await LocalImportStack.create({
      redisUrls: [redis.url],
      s3Endpoint: s3.endpoint,
      reportBucket: BUCKET,
      allowedSources: `${BUCKET}/incoming/`,
      chunkBytes: options.chunkBytes,
      maxConcurrency: options.concurrency,
      onChunk: (state: ChunkState) => {
        const p = state.progress;
        if (!p || !options.progress) return;
        if (p.status === 'done') {
          done++;
          written += p.stats.written;
        }
        const secs = (performance.now() - started) / 1000;
        log(
          `  chunk ${String(state.chunk.index).padStart(3)} ${p.status.padEnd(8)} ` +
            `${done}/${chunks} chunks, ${int(written)} rows written, ${int(written / Math.max(secs, 0.001))} rows/s`,
        );
      },
    });
    log(
      `\n== S3 event → import-start → state machine (infra/import.asl.json) → import-chunk ×N → import-finish`,
    );
    const [outcome] = await stack.deliver(objectCreatedEvent(BUCKET, KEY, put.ETag ?? ''));
    if (outcome?.status !== 'started') {
      log(`import not started: ${JSON.stringify(outcome)}`);
      return 1;
    }
    chunks = outcome.chunks;
    log(
      `planned ${chunks} chunks of ${bytes(options.chunkBytes)}, ${options.concurrency} at a time (${outcome.mode} Map)`,
    );
    const result = (await stack.execution(outcome.importId)!.result) as { status: string; report: string };
    const report = await stack.report(outcome.importId);
    log(`\n${formatReport(report, result.report)}`);
    // The S3 folder goes with the demo; its HTML report is kept where a browser can open it.
    const html = join(tmpdir(), `${outcome.importId}.html`);
    await writeFile(html, await stack.reportHtml(outcome.importId));
    log(`  html report  ${html}  (open it in a browser)`);
    if (options.serve) await serve(stack, s3.endpoint, outcome.importId, log);
    return report.status === 'SUCCEEDED' ? 0 : 1;
  } finally {
    await stack?.close();
    await s3?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
