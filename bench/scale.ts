/**
 * `npm run bench -- scale [--keys N] [--pairs P]`: the bucketed model (hash scheme) at scale, written the way
 * `import` writes it by default (grouped from `GROUP_AUTO_MIN_ROWS` rows on), against `pipe-grouped`:
 * `redis-cli --pipe` of a RESP file generated before timing in which every bucket is one `HSET` holding all its
 * fields (the same buckets and fields as the loader; built here from the CSV, not with the loader's grouping
 * code). A fresh redis-server per run, alternating loader and reference; the ratio is the median of the
 * per-pair ratios. Each loader run is checked: every key written, the reference's bucket parameters.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { ImportSummary } from '../cli/import-run.js';
import { startLocalRedis } from '../cli/local-redis.js';
import { writeSampleData } from '../cli/sample-data.js';
import { parseImportSpec } from '../shared/config/index.js';
import { resolveBucketParams } from '../shared/import/index.js';
import { runPreflight, sampleSource } from '../shared/memory/index.js';
import { type BucketParams, fnv1a32 } from '../shared/mapping/index.js';
import { FileSource } from '../shared/records/index.js';
import { encodeCommands, TcpTarget, usedMemory } from '../shared/redis/index.js';
import { cli, cliFlags, median, timed } from './support.js';

const run = promisify(execFile);
const KEY = 'user:{id}';

/** One timed run on a fresh server. */
interface Sample {
  kps: number;
  bytesPerKey: number;
  summary?: ImportSummary;
}

/** Fixes the bucket parameters exactly as `import` does (sample, pre-flight, listpack fit) on a throwaway server. */
async function bucketParams(csv: string): Promise<BucketParams> {
  const spec = parseImportSpec({
    format: { type: 'csv' },
    key: KEY,
    model: { type: 'bucketed', value: 'score' },
  });
  const redis = await startLocalRedis();
  const target = new TcpTarget(redis.url);
  try {
    const source = new FileSource(csv);
    const sample = await sampleSource(source, spec);
    const preflight = await runPreflight({ spec, sample, targets: [target], limit: 0.85, force: true });
    return await resolveBucketParams(spec, [target], sample.records, preflight.listpack);
  } finally {
    await target.close();
    await redis.stop();
  }
}

/**
 * Writes the perfectly grouped reference: the sample data's rows (`<id>,<score>`, ids 0…keys-1) sorted by bucket
 * (FNV-1a of the key, as the bucketed model places it), source order within a bucket, one
 * `HSET user:bkt:<n> id score …` per bucket.
 */
async function groupedResp(csv: string, keys: number, buckets: BucketParams, path: string): Promise<void> {
  if (buckets.scheme !== 'hash') throw new Error('the scale case is the hash scheme');
  const ids = new Uint32Array(keys);
  const scores = new Uint16Array(keys);
  const bucketOf = new Uint32Array(keys);
  let n = 0;
  const lines = createInterface({ input: createReadStream(csv), crlfDelay: Number.POSITIVE_INFINITY });
  let header = true;
  for await (const line of lines) {
    if (header || line === '') {
      header = false;
      continue;
    }
    const comma = line.indexOf(',');
    const id = line.slice(0, comma);
    ids[n] = Number(id);
    scores[n] = Number(line.slice(comma + 1));
    bucketOf[n] = fnv1a32(`user:${id}`) % buckets.bucketCount;
    n++;
  }
  if (n !== keys) throw new Error(`read ${n} rows, expected ${keys}`);
  const starts = new Uint32Array(buckets.bucketCount + 1);
  for (let i = 0; i < n; i++) starts[bucketOf[i]! + 1]!++;
  for (let b = 1; b <= buckets.bucketCount; b++) starts[b]! += starts[b - 1]!;
  const order = new Uint32Array(n);
  const next = starts.slice(0, buckets.bucketCount);
  for (let i = 0; i < n; i++) order[next[bucketOf[i]!]!++] = i;
  const out = createWriteStream(path);
  for (let b = 0; b < buckets.bucketCount; b++) {
    if (starts[b] === starts[b + 1]) continue;
    const args = ['HSET', `${buckets.prefix}${b}`];
    for (let k = starts[b]!; k < starts[b + 1]!; k++)
      args.push(String(ids[order[k]!]), String(scores[order[k]!]));
    if (!out.write(encodeCommands([{ args }]))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Runs `work` on a fresh redis-server; keys/s and Redis memory growth per key. */
async function onFreshRedis(
  keys: number,
  work: (url: string, port: number) => Promise<{ seconds: number; summary?: ImportSummary }>,
): Promise<Sample> {
  const redis = await startLocalRedis();
  const target = new TcpTarget(redis.url);
  try {
    const before = usedMemory(await target.info(['memory']));
    const { seconds, summary } = await work(redis.url, redis.port);
    const [dbsize] = await target.exec([{ args: ['DBSIZE'] }]);
    if (typeof dbsize !== 'number' || dbsize === 0) throw new Error('nothing was loaded');
    const after = usedMemory(await target.info(['memory']));
    return { kps: keys / seconds, bytesPerKey: (after - before) / keys, ...(summary ? { summary } : {}) };
  } finally {
    await target.close();
    await redis.stop();
  }
}

/** The built CLI, as installed, with the default write path (grouped at scale); its JSON summary. */
async function loader(
  csv: string,
  url: string,
  keys: number,
  expected: BucketParams,
  bucketWrite: string | undefined,
) {
  let stdout = '';
  const seconds = await timed(async () => {
    const child = spawn(
      process.execPath,
      [
        ...cliFlags,
        cli,
        'import',
        csv,
        '--redis',
        url,
        '--key',
        KEY,
        '--value',
        'score',
        '--model',
        'bucketed',
        '--json',
        '--no-progress',
        ...(bucketWrite ? ['--bucket-write', bucketWrite] : []),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = await once(child, 'close');
    if (code !== 0) throw new Error(`loader exited with ${code}`);
  });
  const summary = JSON.parse(stdout) as ImportSummary;
  if (summary.counts.written !== keys) throw new Error(`loader wrote ${summary.counts.written} of ${keys}`);
  if (JSON.stringify(summary.buckets) !== JSON.stringify(expected)) {
    throw new Error(
      `the loader used ${JSON.stringify(summary.buckets)}, the reference ${JSON.stringify(expected)}`,
    );
  }
  return { seconds, summary };
}

function secondsOf(ms: number | undefined): string {
  return ms === undefined ? '-' : (ms / 1000).toFixed(1);
}

/** The `scale` group: one BENCH line per run of it. */
export async function scaleBench(args: {
  keys: number;
  pairs: number;
  bucketWrite?: string;
}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-scale-'));
  try {
    const csv = join(dir, 'data.csv');
    await writeSampleData(csv, args.keys);
    const size = (await stat(csv)).size;
    const { stdout: version } = await run('redis-server', ['--version']);
    process.stderr.write(`data: ${args.keys} rows, ${(size / 1e6).toFixed(1)} MB; ${version.trim()}\n`);
    const buckets = await bucketParams(csv);
    const resp = join(dir, 'grouped.resp');
    await groupedResp(csv, args.keys, buckets, resp);
    process.stderr.write(`pipe-grouped: ${((await stat(resp)).size / 1e6).toFixed(1)} MB of RESP\n`);
    const a: Sample[] = [];
    const b: Sample[] = [];
    for (let i = 0; i < args.pairs; i++) {
      a.push(await onFreshRedis(args.keys, (url) => loader(csv, url, args.keys, buckets, args.bucketWrite)));
      b.push(
        await onFreshRedis(args.keys, async (_url, port) => ({
          seconds: await timed(() =>
            run('sh', ['-c', `redis-cli -p ${port} --pipe < "${resp}" > /dev/null`]),
          ),
        })),
      );
      const g = a[i]!.summary?.writePath?.grouped;
      process.stderr.write(
        `  scale pair ${i + 1}: ${Math.round(a[i]!.kps)} vs ${Math.round(b[i]!.kps)} keys/s` +
          ` (${a[i]!.summary?.writePath?.path ?? '?'}, ${a[i]!.summary?.writePath?.bucketWrite?.write ?? '-'}; partition ${secondsOf(g?.partitionMs)} s, load ${secondsOf(g?.loadMs)} s)\n`,
      );
    }
    const ratio = median(a.map((x, i) => x.kps / b[i]!.kps));
    const kps = median(a.map((x) => x.kps));
    const refKps = median(b.map((x) => x.kps));
    const bpk = median(a.map((x) => x.bytesPerKey));
    const rss = Math.max(...a.map((x) => x.summary?.peakRssBytes ?? 0)) / 2 ** 20;
    const temp = Math.max(...a.map((x) => x.summary?.writePath?.grouped?.tempBytes ?? 0)) / size;
    const g = a[0]!.summary?.writePath;
    const table = [
      [
        'case',
        'keys',
        'write path',
        'loader keys/s',
        'ref',
        'ref keys/s',
        'ratio',
        'bytes/key',
        'loader RSS',
        'temp disk',
      ],
      [
        'bucketed-scale',
        String(args.keys),
        g?.grouped ? `grouped, ${g.grouped.partitions} partitions` : (g?.path ?? '?'),
        String(Math.round(kps)),
        'pipe-grouped',
        String(Math.round(refKps)),
        ratio.toFixed(2),
        bpk.toFixed(1),
        `${rss.toFixed(0)} MiB`,
        `${temp.toFixed(2)} × input`,
      ],
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
    return [
      `BENCH case=bucketed-scale keys=${args.keys} bucket_write=${g?.bucketWrite?.write ?? '-'} loader_kps=${Math.round(kps)} ref=pipe-grouped ref_kps=${Math.round(refKps)} ratio=${ratio.toFixed(2)} bytes_per_key=${bpk.toFixed(1)} loader_rss_mib=${rss.toFixed(0)} temp_disk_ratio=${temp.toFixed(2)}`,
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
