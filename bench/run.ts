/**
 * The standard benchmark (../shared/BENCHMARKS.md): our loader against reference tools on the same data and a
 * fresh redis-server per run, alternating A B A B …, reporting the median of the per-pair ratios.
 *
 *   npm run bench -- [--keys N] [--pairs P] [--cases flat-csv,bucketed-csv,…]   the standard set, or some of it
 *   npm run bench -- kafka-lambda|kafka [--records N] [--pairs P]    (bench/kafka-lambda.ts, bench/kafka-consume.ts)
 *   npm run bench -- cluster [--keys N] [--pairs P]     a 3-master Redis Cluster against one standalone server
 *   npm run bench -- upstash [--records N]     commands per 100 keys and request sizes through Upstash REST
 *   npm run bench -- scale [--keys N] [--pairs P]       bucketed at scale (grouped writes) against pipe-grouped
 *   npm run bench -- --help
 *
 * Nothing named runs the standard set (the CSV cases); groups such as kafka-lambda run only when named.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { startLocalCluster } from '../cli/local-cluster.js';
import { startLocalRedis } from '../cli/local-redis.js';
import { writeSampleData } from '../cli/sample-data.js';
import { type ImportSpec, parseImportSpec } from '../shared/config/index.js';
import { resolveBucketParams } from '../shared/import/index.js';
import { runPreflight, sampleSource } from '../shared/memory/index.js';
import { type BucketParams, createMapper } from '../shared/mapping/index.js';
import { FileSource, readRecords } from '../shared/records/index.js';
import { encodeCommands, TcpTarget, usedMemory } from '../shared/redis/index.js';
import { kafkaConsumeBench } from './kafka-consume.js';
import { kafkaLambdaBench } from './kafka-lambda.js';
import { upstashBench } from './upstash.js';
import { scaleBench } from './scale.js';
import { cli, cliFlags, median, timed } from './support.js';

const run = promisify(execFile);

interface Args {
  keys: number;
  pairs: number;
  /** Records of the Kafka cases. */
  records: number;
  /** kafka-lambda: redis-server and the client on separate CPUs. */
  pin?: boolean;
  /** scale: the loader's `--bucket-write` (default: the loader's own, auto). */
  bucketWrite?: string;
  cases: string[];
}

/** Cases outside the standard set, run only when named. */
const GROUPS = ['kafka-lambda', 'kafka', 'cluster', 'upstash', 'scale'];

const USAGE = `usage: npm run bench -- [<case>…] [--cases a,b] [--keys N] [--records N] [--pairs P]

  <case>…, --cases a,b  what to run (both forms add up), any of:
                          the standard set, run when nothing is named: <standard>
                          only when named: <groups>
  --keys N              rows of the CSV cases (default 5000000)
  --records N           records of kafka-lambda and kafka, rows of upstash (default 1000000)
  --pairs P             alternated runs per case (default 3); kafka-lambda reverses the order every other
                        pair and gives its overhead an interval from 6 pairs on (12 settle its 10 % target)
  --pin                 kafka-lambda: redis-server on CPU 1, the handler (or redis-cli) on CPU 0, as on Lambda
                        with a Redis of its own; needs 2 cores and taskset
  --bucket-write M      scale: the loader's --bucket-write (hset, restore or auto; default auto)
  --help                this text`;

/** A command line the bench does not understand: printed with {@link USAGE}, exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parseArgs(argv: string[]): Args | 'help' {
  const args: Args = { keys: 5_000_000, pairs: 3, records: 1_000_000, cases: [] };
  const count = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isSafeInteger(n) || n <= 0)
      throw new UsageError(`${flag} needs a positive integer, got ${JSON.stringify(value ?? null)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (flag === '--help' || flag === '-h') return 'help';
    if (!flag.startsWith('-')) {
      args.cases.push(flag);
      continue;
    }
    if (flag === '--keys') args.keys = count(flag, value);
    else if (flag === '--pairs') args.pairs = count(flag, value);
    else if (flag === '--records') args.records = count(flag, value);
    else if (flag === '--bucket-write') {
      if (value !== 'hset' && value !== 'restore' && value !== 'auto')
        throw new UsageError(`--bucket-write is hset, restore or auto, got ${JSON.stringify(value ?? null)}`);
      args.bucketWrite = value;
    } else if (flag === '--pin') {
      args.pin = true;
      continue;
    } else if (flag === '--cases') {
      if (value === undefined || value.startsWith('-'))
        throw new UsageError('--cases needs a list: --cases a,b');
      args.cases.push(...value.split(',').filter(Boolean));
    } else throw new UsageError(`unknown option ${flag}`);
    i++;
  }
  const known = [...CASES.map((c) => c.name), ...GROUPS];
  const unknown = args.cases.filter((c) => !known.includes(c));
  if (unknown.length > 0) throw new UsageError(`unknown case ${unknown.join(', ')}`);
  return args;
}

/** One timed run: keys/s and Redis memory growth per key. */
interface Sample {
  kps: number;
  bytesPerKey: number;
  rss?: number;
}

type Runner = (url: string) => Promise<{ seconds: number; rss?: number }>;

interface Case {
  name: string;
  ref: string;
  /** What the loader's command line adds after the file. */
  loaderArgs: string[];
  reference: (ctx: Context) => Promise<Runner>;
}

interface Context {
  dir: string;
  csv: string;
  keys: number;
  /** Bucket parameters the `pipe` reference was generated with, per case; the loader must use the same. */
  buckets: Map<string, BucketParams>;
}

const KEY = 'user:{id}';

function specOf(loaderArgs: string[]): ImportSpec {
  const model = loaderArgs[loaderArgs.indexOf('--model') + 1] ?? 'string';
  const scheme = loaderArgs.includes('--bucket-scheme')
    ? loaderArgs[loaderArgs.indexOf('--bucket-scheme') + 1]
    : 'hash';
  return parseImportSpec({
    format: { type: 'csv' },
    key: KEY,
    model:
      model === 'bucketed'
        ? { type: 'bucketed', value: 'score', scheme }
        : { type: 'string', value: 'score' },
  });
}

/** Writes the very commands our loader sends (same reader batches, same mapper) as RESP, before timing. */
async function respFileFor(ctx: Context, name: string, loaderArgs: string[]): Promise<string> {
  const spec = specOf(loaderArgs);
  const path = join(ctx.dir, `${name}.resp`);
  const source = new FileSource(ctx.csv);
  let buckets: BucketParams | undefined;
  if (spec.model.type === 'bucketed') {
    // Fix the bucket parameters exactly as `import` does (pre-flight sample, the server's listpack limits),
    // against a throwaway server, so the reference sends the very same commands.
    const redis = await startLocalRedis();
    const target = new TcpTarget(redis.url);
    try {
      const sample = await sampleSource(source, spec);
      const preflight = await runPreflight({ spec, sample, targets: [target], limit: 0.85, force: true });
      buckets = await resolveBucketParams(spec, [target], sample.records, preflight.listpack);
    } finally {
      await target.close();
      await redis.stop();
    }
    ctx.buckets.set(loaderArgs.join(' '), buckets);
  }
  const mapper = createMapper(spec, buckets);
  const out = createWriteStream(path);
  for await (const batch of readRecords(source, { format: spec.format })) {
    if (!out.write(encodeCommands(mapper.map(batch.records).commands))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return path;
}

function portOf(url: string): string {
  return new URL(url).port;
}

const pipe =
  (resp: string): Runner =>
  async (url) => ({
    seconds: await timed(() =>
      run('sh', ['-c', `redis-cli -p ${portOf(url)} --pipe < "${resp}" > /dev/null`]),
    ),
  });

const AWK = `NR>1 { k = "user:" $1; printf "*3\\r\\n$3\\r\\nSET\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n", length(k), k, length($2), $2 }`;

const CASES: Case[] = [
  {
    name: 'flat-csv',
    ref: 'awk-pipe',
    loaderArgs: ['--model', 'string'],
    reference: async (ctx) => async (url) => ({
      seconds: await timed(() =>
        run('sh', ['-c', `awk -F, '${AWK}' "${ctx.csv}" | redis-cli -p ${portOf(url)} --pipe > /dev/null`]),
      ),
    }),
  },
  {
    name: 'flat-csv-ceiling',
    ref: 'pipe',
    loaderArgs: ['--model', 'string'],
    reference: async (ctx) => pipe(await respFileFor(ctx, 'flat', ['--model', 'string'])),
  },
  {
    name: 'flat-csv-naive',
    ref: 'naive-client',
    loaderArgs: ['--model', 'string'],
    reference: async (ctx) => async (url) => {
      // What a typical hand-written loader does: node-redis, one pipeline of 1000 commands at a time.
      const client = await createClient({ url }).connect();
      const seconds = await timed(async () => {
        let batch = client.multi();
        let n = 0;
        for await (const records of readRecords(new FileSource(ctx.csv), { format: specOf([]).format })) {
          for (const r of records.records) {
            batch.set(`user:${r.values.id as string}`, r.values.score as string);
            if (++n % 1000 === 0) {
              await batch.execAsPipeline();
              batch = client.multi();
            }
          }
        }
        await batch.execAsPipeline();
      });
      await client.quit();
      return { seconds };
    },
  },
  {
    // The direct write path, whose commands the `pipe` reference replays (grouped writes: the `scale` case).
    name: 'bucketed-csv',
    ref: 'pipe',
    loaderArgs: ['--model', 'bucketed', '--group-buckets', 'off'],
    reference: async (ctx) =>
      pipe(await respFileFor(ctx, 'bucketed', ['--model', 'bucketed', '--group-buckets', 'off'])),
  },
  {
    name: 'bucketed-range-csv',
    ref: 'pipe',
    loaderArgs: ['--model', 'bucketed', '--bucket-scheme', 'range', '--group-buckets', 'off'],
    reference: async (ctx) =>
      pipe(
        await respFileFor(ctx, 'range', [
          '--model',
          'bucketed',
          '--bucket-scheme',
          'range',
          '--group-buckets',
          'off',
        ]),
      ),
  },
];

function loader(ctx: Context, extra: string[]): Runner {
  return async (url) => {
    let summary = '';
    const seconds = await timed(async () => {
      const child = spawn(
        process.execPath,
        [
          ...cliFlags,
          cli,
          'import',
          ctx.csv,
          '--redis',
          url,
          '--key',
          KEY,
          '--value',
          'score',
          '--json',
          '--no-progress',
          ...extra,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      child.stdout.on('data', (d: Buffer) => {
        summary += d.toString();
      });
      const [code] = await once(child, 'close');
      if (code !== 0) throw new Error(`loader exited with ${code}`);
    });
    const parsed = JSON.parse(summary) as {
      counts: { written: number };
      peakRssBytes: number;
      buckets?: BucketParams;
    };
    if (parsed.counts.written !== ctx.keys)
      throw new Error(`loader wrote ${parsed.counts.written} of ${ctx.keys}`);
    const expected = ctx.buckets.get(extra.join(' '));
    if (expected && JSON.stringify(parsed.buckets) !== JSON.stringify(expected)) {
      throw new Error(
        `the loader used ${JSON.stringify(parsed.buckets)}, the pipe reference ${JSON.stringify(expected)}: not the same commands`,
      );
    }
    return { seconds, rss: parsed.peakRssBytes };
  };
}

/** Runs on a fresh redis-server and measures keys/s and memory growth per key. */
async function measure(runner: Runner, keys: number): Promise<Sample> {
  const redis = await startLocalRedis();
  const target = new TcpTarget(redis.url);
  try {
    const before = usedMemory(await target.info(['memory']));
    const { seconds, rss } = await runner(redis.url);
    const [dbsize] = await target.exec([{ args: ['DBSIZE'] }]);
    if (typeof dbsize !== 'number' || dbsize === 0) throw new Error('nothing was loaded');
    const after = usedMemory(await target.info(['memory']));
    return { kps: keys / seconds, bytesPerKey: (after - before) / keys, ...(rss ? { rss } : {}) };
  } finally {
    await target.close();
    await redis.stop();
  }
}

async function main(args: Args): Promise<void> {
  const lines: string[] = [];
  if (args.cases.includes('kafka-lambda')) {
    lines.push(
      ...(await kafkaLambdaBench({ records: args.records, pairs: args.pairs, pin: args.pin === true })),
    );
  }
  if (args.cases.includes('kafka')) {
    lines.push(...(await kafkaConsumeBench({ records: args.records, pairs: args.pairs })));
  }
  if (args.cases.includes('cluster')) await clusterBench(args, lines);
  if (args.cases.includes('upstash')) {
    lines.push(...(await upstashBench({ records: args.records, pairs: args.pairs })));
  }
  if (args.cases.includes('scale')) lines.push(...(await scaleBench(args)));
  const csvCases = CASES.filter((x) => (args.cases.length === 0 ? true : args.cases.includes(x.name)));
  if (csvCases.length > 0) await csvBench(args, csvCases, lines);
  console.log();
  for (const line of lines) console.log(line);
}

async function csvBench(args: Args, cases: readonly Case[], lines: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-'));
  try {
    const csv = join(dir, 'data.csv');
    await writeSampleData(csv, args.keys);
    const ctx: Context = { dir, csv, keys: args.keys, buckets: new Map() };
    const size = (await stat(csv)).size;
    const { stdout: version } = await run('redis-server', ['--version']);
    process.stderr.write(`data: ${args.keys} rows, ${(size / 1e6).toFixed(1)} MB; ${version.trim()}\n`);
    const table: string[][] = [
      ['case', 'loader keys/s', 'ref', 'ref keys/s', 'ratio', 'bytes/key', 'loader RSS'],
    ];
    for (const c of cases) {
      const reference = await c.reference(ctx);
      const ours = loader(ctx, c.loaderArgs);
      const a: Sample[] = [];
      const b: Sample[] = [];
      for (let i = 0; i < args.pairs; i++) {
        a.push(await measure(ours, args.keys));
        b.push(await measure(reference, args.keys));
        process.stderr.write(
          `  ${c.name} pair ${i + 1}: ${Math.round(a[i]!.kps)} vs ${Math.round(b[i]!.kps)} keys/s\n`,
        );
      }
      const ratio = median(a.map((x, i) => x.kps / b[i]!.kps));
      const kps = median(a.map((x) => x.kps));
      const refKps = median(b.map((x) => x.kps));
      const bpk = median(a.map((x) => x.bytesPerKey));
      const rss = Math.max(...a.map((x) => x.rss ?? 0));
      table.push([
        c.name,
        String(Math.round(kps)),
        c.ref,
        String(Math.round(refKps)),
        ratio.toFixed(2),
        bpk.toFixed(1),
        `${(rss / 2 ** 20).toFixed(0)} MiB`,
      ]);
      lines.push(
        `BENCH case=${c.name} keys=${args.keys} loader_kps=${Math.round(kps)} ref=${c.ref} ref_kps=${Math.round(refKps)} ratio=${ratio.toFixed(2)} bytes_per_key=${bpk.toFixed(1)} loader_rss_mib=${(rss / 2 ** 20).toFixed(0)}`,
      );
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs on a fresh 3-master cluster (seeded by its first node) and measures keys/s and memory per key. */
async function measureCluster(runner: Runner, keys: number): Promise<Sample> {
  const cluster = await startLocalCluster();
  const targets = cluster.nodes.map((n) => new TcpTarget(n.url));
  try {
    const memory = async () => {
      let sum = 0;
      for (const t of targets) sum += usedMemory(await t.info(['memory']));
      return sum;
    };
    const before = await memory();
    const { seconds, rss } = await runner(cluster.url);
    let total = 0;
    for (const t of targets) {
      const [dbsize] = await t.exec([{ args: ['DBSIZE'] }]);
      if (typeof dbsize !== 'number' || dbsize === 0) throw new Error(`nothing was loaded on ${t.name}`);
      total += dbsize;
    }
    process.stderr.write(`    cluster: ${total} Redis keys over ${targets.length} masters\n`);
    return { kps: keys / seconds, bytesPerKey: ((await memory()) - before) / keys, ...(rss ? { rss } : {}) };
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    await cluster.stop();
  }
}

/**
 * The routing overhead of cluster mode: the same load into a 3-master cluster on this machine and into one
 * standalone server, alternated. On 2 cores the cluster cannot be faster (three servers share them).
 */
async function clusterBench(args: Args, lines: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-'));
  try {
    const csv = join(dir, 'data.csv');
    await writeSampleData(csv, args.keys);
    const ctx: Context = { dir, csv, keys: args.keys, buckets: new Map() };
    const table: string[][] = [['case', 'cluster keys/s', 'standalone keys/s', 'ratio', 'loader RSS']];
    for (const [name, extra] of [
      ['cluster-flat', ['--model', 'string']],
      ['cluster-bucketed', ['--model', 'bucketed']],
    ] as const) {
      const ours = loader(ctx, [...extra]);
      const a: Sample[] = [];
      const b: Sample[] = [];
      for (let i = 0; i < args.pairs; i++) {
        a.push(await measureCluster(ours, args.keys));
        b.push(await measure(ours, args.keys));
        process.stderr.write(
          `  ${name} pair ${i + 1}: ${Math.round(a[i]!.kps)} vs ${Math.round(b[i]!.kps)} keys/s\n`,
        );
      }
      const ratio = median(a.map((x, i) => x.kps / b[i]!.kps));
      const kps = median(a.map((x) => x.kps));
      const single = median(b.map((x) => x.kps));
      const rss = Math.max(...a.map((x) => x.rss ?? 0));
      table.push([
        name,
        String(Math.round(kps)),
        String(Math.round(single)),
        ratio.toFixed(2),
        `${(rss / 2 ** 20).toFixed(0)} MiB`,
      ]);
      lines.push(
        `BENCH case=${name} keys=${args.keys} cluster_kps=${Math.round(kps)} standalone_kps=${Math.round(single)} ratio=${ratio.toFixed(2)} loader_rss_mib=${(rss / 2 ** 20).toFixed(0)}`,
      );
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function usage(): string {
  return USAGE.replace('<standard>', CASES.map((c) => c.name).join(', ')).replace(
    '<groups>',
    GROUPS.join(', '),
  );
}

let parsed: Args | 'help' | undefined;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.message}\n\n${usage()}\n`);
  process.exitCode = 2;
}
if (parsed === 'help') console.log(usage());
else if (parsed !== undefined) await main(parsed);
