/**
 * Peak memory of ONE import-chunk invocation per chunk size (issue #3: "per-chunk Lambda memory stays under
 * 256 MB whatever the chunk size").
 *
 *   node --import tsx bench/chunk-memory.ts [--rows N] [--chunk-mib 16,64,256] [--chunk-index 0]
 *                                           [--flags serverless|none|lambda] [--node-args "…"] [--trace-gc]
 *
 * - One CSV of `id,score` rows (cli/sample-data.ts, seeded) is uploaded once to an in-process s3rver (free
 *   port, temp dir). By default it has just enough rows to fill the largest chunk.
 * - The import-chunk handler is bundled as serverless-esbuild does it (custom.esbuild of serverless.yml:
 *   bundle, ESM, node22, the createRequire banner, `@aws-sdk/*` external).
 * - Per chunk size: a fresh redis-server (startLocalRedis), then a fresh `node` child that imports the bundle
 *   and calls its exported `handler` once with the task the state machine would send (chunk `--chunk-index`
 *   of the plan for that chunk size) and a Lambda-like context, configured only through the environment the
 *   function gets (REDIS_URL, REPORT_BUCKET, S3_ENDPOINT, AWS credentials). The child prints its
 *   `process.resourceUsage().maxRSS` at the end. s3rver runs in this (parent) process, so the child's RSS is
 *   the Lambda's.
 * - Node flags of the child (`--flags`):
 *   - `serverless` (default): NODE_OPTIONS exactly as serverless.yml sets it for import-chunk (none today);
 *   - `none`: no flags at all;
 *   - `lambda`: what the AWS nodejs runtime's bootstrap passes on the command line for the function's
 *     memorySize (`--max-semi-space-size=<mem/20> --max-old-space-size=<mem*0.9>`), plus serverless.yml's
 *     NODE_OPTIONS. Command-line flags win over NODE_OPTIONS.
 *
 * Prints a table, then one line per chunk size:
 *   BENCH case=chunk-memory chunk_mib=… rows=… peak_rss_mib=… rows_per_s=… target_mib=256
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { startLocalRedis } from '../cli/local-redis.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../cli/local-stack/local-s3.js';
import { seeded, writeSampleData } from '../cli/sample-data.js';
import { parseImportSpec } from '../shared/config/index.js';
import { planRanges } from '../shared/import/plan.js';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const TARGET_MIB = 256;
const BUCKET = 'bench';
const KEY = 'incoming/chunk-memory.csv';

type FlagMode = 'serverless' | 'none' | 'lambda';

interface Args {
  rows: number | undefined;
  chunkMib: number[];
  chunkIndex: number;
  flags: FlagMode;
  traceGc: boolean;
  /** Extra node flags for the child, after the mode's (e.g. `--max-semi-space-size=32`). */
  nodeArgs: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    rows: undefined,
    chunkMib: [16, 64, 256],
    chunkIndex: 0,
    flags: 'serverless',
    traceGc: false,
    nodeArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--rows') args.rows = Number(value);
    else if (flag === '--chunk-mib') args.chunkMib = String(value).split(',').map(Number);
    else if (flag === '--chunk-index') args.chunkIndex = Number(value);
    else if (flag === '--flags') args.flags = value as FlagMode;
    else if (flag === '--node-args') args.nodeArgs = String(value).split(' ').filter(Boolean);
    else if (flag === '--trace-gc') {
      args.traceGc = true;
      continue;
    } else continue;
    i++;
  }
  const usage =
    'usage: bench/chunk-memory [--rows N] [--chunk-mib a,b,c] [--chunk-index I] [--flags serverless|none|lambda] [--node-args "…"] [--trace-gc]';
  if (args.rows !== undefined && !(Number.isSafeInteger(args.rows) && args.rows > 0)) throw new Error(usage);
  if (args.chunkMib.length === 0 || !args.chunkMib.every((m) => m > 0)) throw new Error(usage);
  if (!(Number.isSafeInteger(args.chunkIndex) && args.chunkIndex >= 0)) throw new Error(usage);
  if (!['serverless', 'none', 'lambda'].includes(args.flags)) throw new Error(usage);
  return args;
}

/** What serverless.yml says about import-chunk: its memorySize and any NODE_OPTIONS (function or provider). */
interface DeployedSettings {
  memorySize: number;
  nodeOptions: string | undefined;
}

function deployedSettings(): DeployedSettings {
  const yml = readFileSync(join(root, 'serverless.yml'), 'utf8');
  // The import-chunk block: from its key to the next function key at the same indentation.
  const block = /^( {2})import-chunk:\n([\s\S]*?)(?=^ {2}\S|^\S)/m.exec(yml)?.[2] ?? '';
  const memorySize = Number(/^\s+memorySize:\s*(\d+)/m.exec(block)?.[1] ?? 1024);
  const nodeOptions = (/^\s+NODE_OPTIONS:\s*(.+)$/m.exec(block) ??
    /^\s+NODE_OPTIONS:\s*(.+)$/m.exec(yml))?.[1]
    ?.trim()
    .replace(/^['"]|['"]$/g, '');
  return { memorySize, nodeOptions };
}

/** Rows of writeSampleData's CSV (same seed) needed for the file to reach `bytes`. Exact, no file written. */
function rowsToReach(bytes: number): number {
  const random = seeded(42);
  let size = 'id,score\n'.length;
  let rows = 0;
  while (size < bytes) {
    const score = Math.floor(random() * 1000);
    size += String(rows).length + 1 + String(score).length + 1;
    rows++;
  }
  return rows;
}

/** The import-chunk bundle, built with serverless.yml's custom.esbuild settings. */
async function bundleHandler(dir: string): Promise<string> {
  const out = join(dir, 'import-chunk', 'handler.mjs');
  await build({
    entryPoints: [join(root, 'functions', 'import-chunk', 'handler.ts')],
    outfile: out,
    bundle: true,
    minify: false,
    sourcemap: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    // The Lambda runtime ships AWS SDK v3; here it resolves from the checkout's node_modules (symlinked).
    external: ['@aws-sdk/*'],
    logLevel: 'warning',
  });
  await symlink(join(root, 'node_modules'), join(dir, 'import-chunk', 'node_modules'), 'dir');
  return out;
}

/**
 * The child: a stand-in for the Lambda runtime interface client. It imports the bundle (the init phase),
 * invokes `handler` once, samples process.memoryUsage() every 50 ms and prints one RESULT line.
 */
const RUNNER = `
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const mem = () => process.memoryUsage();
const initStarted = performance.now();
const { handler } = await import(pathToFileURL(process.env.BENCH_HANDLER).href);
const afterInit = mem();
const task = JSON.parse(readFileSync(process.env.BENCH_TASK, 'utf8'));
let peak = afterInit;
const timeline = [];
let tick = 0;
const sampler = setInterval(() => {
  const m = mem();
  if (m.rss > peak.rss) peak = m;
  if (++tick % 20 === 0) timeline.push([Math.round(performance.now()), m.rss, m.heapUsed, m.heapTotal, m.external, m.arrayBuffers]);
}, 50);
const timeoutMs = 900_000;
const deadline = Date.now() + timeoutMs;
const context = {
  functionName: 'import-chunk',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:import-chunk',
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  awsRequestId: 'bench',
  logGroupName: '/aws/lambda/import-chunk',
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
const started = performance.now();
const result = await handler(task, context);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const end = mem();
if (end.rss > peak.rss) peak = end;
process.stdout.write('RESULT ' + JSON.stringify({
  maxRssKiB: process.resourceUsage().maxRSS,
  initMs: started - initStarted,
  afterInit, peak, end, seconds, timeline,
  heapSizeLimit: (await import('node:v8')).getHeapStatistics().heap_size_limit,
  execArgv: process.execArgv,
  nodeOptions: process.env.NODE_OPTIONS ?? '',
  progress: result.progress,
  failure: result.failure,
}) + '\\n');
process.exit(0);
`;

interface ChildResult {
  maxRssKiB: number;
  initMs: number;
  afterInit: NodeJS.MemoryUsage;
  peak: NodeJS.MemoryUsage;
  end: NodeJS.MemoryUsage;
  seconds: number;
  timeline: number[][];
  heapSizeLimit: number;
  execArgv: string[];
  nodeOptions: string;
  progress?: { status: string; stats: { read: number; written: number; rejected: number; skipped: number } };
  failure?: { Error: string; Cause?: string };
}

async function runChild(opts: {
  dir: string;
  handler: string;
  task: unknown;
  env: Record<string, string>;
  nodeArgs: string[];
  gcLog: string | undefined;
}): Promise<ChildResult> {
  const runner = join(opts.dir, 'import-chunk', 'runner.mjs');
  await writeFile(runner, RUNNER);
  const taskFile = join(opts.dir, `task-${Date.now()}.json`);
  await writeFile(taskFile, JSON.stringify(opts.task));
  const child = spawn(process.execPath, [...opts.nodeArgs, runner], {
    // A clean environment: only what the function's configuration gives it (no inherited NODE_OPTIONS).
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...opts.env,
      BENCH_HANDLER: opts.handler,
      BENCH_TASK: taskFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-100_000);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (opts.gcLog) await writeFile(opts.gcLog, out);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) {
    throw new Error(`chunk child exited with ${code}: ${err.slice(-2000)} ${out.slice(-2000)}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as ChildResult;
}

async function dbsize(port: number): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'DBSIZE']);
  return Number(stdout.trim());
}

const mib = (bytes: number) => bytes / MiB;
const fmt = (x: number, digits = 1) => x.toFixed(digits);

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const deployed = deployedSettings();
  const maxChunk = Math.max(...args.chunkMib) * MiB;
  const rows = args.rows ?? rowsToReach((args.chunkIndex + 1) * maxChunk) + 1;
  const dir = await mkdtemp(join(tmpdir(), 'rbl-chunk-mem-'));
  const s3 = await startLocalS3([BUCKET]);
  try {
    console.log(
      `serverless.yml, import-chunk: memorySize ${deployed.memorySize} MB, NODE_OPTIONS ${deployed.nodeOptions ?? '(not set)'}`,
    );
    let t = performance.now();
    const csv = join(dir, 'data.csv');
    await writeSampleData(csv, rows, 'csv');
    const size = (await stat(csv)).size;
    console.log(
      `data: ${rows} rows of id,score, ${fmt(mib(size))} MiB (${fmt((performance.now() - t) / 1000)} s)`,
    );
    t = performance.now();
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: createReadStream(csv), ContentLength: size }),
    );
    const etag = (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))).ETag ?? '';
    console.log(`uploaded to s3rver ${s3.endpoint} (${fmt((performance.now() - t) / 1000)} s)`);
    const handler = await bundleHandler(dir);
    // The deployment default spec (params.importDefaultSpec) with the format import-start derives from `.csv`.
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: 'user:{id}',
      model: { type: 'string', value: 'score' },
    });
    const source = { bucket: BUCKET, key: KEY, etag, size };
    const importId = `chunk-memory-${createHash('sha256').update(etag).digest('hex').slice(0, 16)}`;

    const nodeArgs: string[] = [];
    if (args.flags === 'lambda') {
      const newSpace = Math.floor(deployed.memorySize / 10);
      nodeArgs.push(
        '--expose-gc',
        '--max-http-header-size',
        '81920',
        `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
        `--max-old-space-size=${deployed.memorySize - newSpace}`,
      );
    }
    nodeArgs.push(...args.nodeArgs);
    if (args.traceGc) nodeArgs.push('--trace-gc');
    const nodeOptions = args.flags === 'none' ? undefined : deployed.nodeOptions;

    const results: { chunkMib: number; bytes: number; r: ChildResult; keys: number }[] = [];
    for (const chunkMib of args.chunkMib) {
      const chunkBytes = Math.round(chunkMib * MiB);
      const ranges = planRanges(size, chunkBytes);
      const range = ranges[args.chunkIndex];
      if (!range)
        throw new Error(`chunk ${args.chunkIndex} does not exist for ${chunkMib} MiB chunks of ${size} B`);
      // No quote character in the data: the quote-parity scan of planChunks would say false everywhere.
      const chunk = { ...range, inQuoteAtStart: false };
      const task = { state: { importId, source, spec, buckets: null, chunk }, attempt: 0 };
      const redis = await startLocalRedis();
      try {
        const r = await runChild({
          dir,
          handler,
          task,
          nodeArgs,
          gcLog: args.traceGc ? join(tmpdir(), `rbl-chunk-memory-gc-${chunkMib}.log`) : undefined,
          env: {
            ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(deployed.memorySize),
            REDIS_URL: redis.url,
            REPORT_BUCKET: BUCKET,
            S3_ENDPOINT: s3.endpoint,
            TIMEOUT_MARGIN_MS: '30000',
          },
        });
        const keys = await dbsize(redis.port);
        if (r.progress?.status !== 'done' || r.failure) {
          throw new Error(
            `chunk ${chunkMib} MiB did not complete: ${JSON.stringify(r.progress ?? r.failure)}`,
          );
        }
        results.push({ chunkMib, bytes: range.end - range.start, r, keys });
        console.log(
          `  ${chunkMib} MiB: ${r.progress.stats.read} rows, peak RSS ${fmt(r.maxRssKiB / 1024)} MiB, ${fmt(r.seconds)} s`,
        );
      } finally {
        await redis.stop();
      }
    }

    console.log(
      `\nchild: node ${process.version}, argv [${results[0]?.r.execArgv.join(' ') ?? ''}], NODE_OPTIONS '${results[0]?.r.nodeOptions ?? ''}', heap limit ${fmt(mib(results[0]?.r.heapSizeLimit ?? 0), 0)} MiB`,
    );
    const header = [
      'chunk MiB',
      'bytes',
      'rows',
      'written',
      'keys',
      'seconds',
      'rows/s',
      'RSS init',
      'peak RSS',
      'heapTot@pk',
      'heapUsed@pk',
      'external@pk',
      'arrBuf@pk',
      'target',
    ];
    const table = results.map(({ chunkMib, bytes, r, keys }) => {
      const s = r.progress!.stats;
      return [
        String(chunkMib),
        String(bytes),
        String(s.read),
        String(s.written),
        String(keys - 1),
        fmt(r.seconds),
        fmt(s.read / r.seconds, 0),
        fmt(mib(r.afterInit.rss)),
        fmt(r.maxRssKiB / 1024),
        fmt(mib(r.peak.heapTotal)),
        fmt(mib(r.peak.heapUsed)),
        fmt(mib(r.peak.external)),
        fmt(mib(r.peak.arrayBuffers)),
        r.maxRssKiB / 1024 <= TARGET_MIB ? 'ok' : 'OVER',
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
    console.log(line(header));
    for (const row of table) console.log(line(row));
    console.log(
      '(memory in MiB; @pk = at the sampled RSS peak; keys = DBSIZE minus the completion marker)\n',
    );
    for (const { chunkMib, r } of results) {
      const s = r.progress!.stats;
      console.log(
        `BENCH case=chunk-memory chunk_mib=${chunkMib} rows=${s.read} peak_rss_mib=${fmt(r.maxRssKiB / 1024)} ` +
          `rows_per_s=${fmt(s.read / r.seconds, 0)} target_mib=${TARGET_MIB}`,
      );
    }
    if (process.env.BENCH_TIMELINE) {
      for (const { chunkMib, r } of results) {
        console.log(`timeline ${chunkMib} MiB (ms, rss, heapUsed, heapTotal, external, arrayBuffers; MiB):`);
        for (const [ms, ...m] of r.timeline) console.log(`  ${ms}  ${m.map((x) => fmt(mib(x!))).join('  ')}`);
      }
    }
  } finally {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
