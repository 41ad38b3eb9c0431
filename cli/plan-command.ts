import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ImportSpec } from '../shared/config/index.js';
import { ConfigError } from '../shared/errors/index.js';
import {
  billPrice,
  type CommandBill,
  commandBill,
  formatUsd,
  chooseBucketWrites,
  groupedChunking,
  planCommands,
  UPSTASH_PRICE_PER_100K,
} from '../shared/import/index.js';
import {
  assessPreflight,
  DEFAULT_MEMORY_LIMIT,
  type ModelProjection,
  type PreflightReport,
  readShard,
  sampleSource,
  type ShardProjection,
  type SourceSample,
} from '../shared/memory/index.js';
import { FileSource } from '../shared/records/index.js';
import { serversOf, type Target } from '../shared/redis/index.js';
import {
  addClusterOption,
  CLUSTER_HELP,
  type ClusterFlags,
  clusterMode,
  openCliTargets,
} from './redis-targets.js';
import { type BillFlags, PRICE_FLAG_HELP, priceOption } from './bill-options.js';
import { commandError, ExitCode, exitCodeFor } from './exit-codes.js';
import { bytes, duration, int } from './format.js';
import { resolveSpec, type SpecFlags } from './spec-options.js';
import { addTlsOptions, TLS_HELP, type TlsFlags, tlsOptions } from './tls-options.js';

/** Default chunk size of the Lambda import (one `import-chunk` invocation per chunk). */
const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
/** A grouped Lambda import's chunks at most, and import-chunk's /tmp in MiB (serverless.yml's defaults). */
const DEFAULT_GROUPED_CHUNK_BYTES = 1024 * 1024 * 1024;
const DEFAULT_CHUNK_TEMP_MIB = 10_240;

/** Chunks the Lambda import loads at once by default (`MAX_CONCURRENCY`). */
const DEFAULT_CONCURRENCY = 10;

/**
 * Keys per second of one loader process against one local redis-server, measured on a 2-core machine
 * (`npm run demo`, 1 M rows of id,score): a rough guide; `--rate` overrides it.
 */
export const DEFAULT_RATES = {
  string: 500_000,
  stringTtl: 300_000,
  hash: 300_000,
} as const;

interface PlanFlags extends SpecFlags, TlsFlags, ClusterFlags, BillFlags {
  redis?: string;
  chunkSize: number;
  concurrency: number;
  memoryLimit?: number;
  rate?: number;
  json: boolean;
}

function positive(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be an integer >= 1`);
    return n;
  };
}

/** `--memory-limit 85` (percent) → 0.85. */
export function memoryLimitOption(text: string): number {
  const n = Number(text);
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('must be a percentage of maxmemory, 1-100');
  return n / 100;
}

/** The Redis commands one model's write path would send for the planned rows. */
export interface ModelCommands {
  /** The model as the memory lines name it. */
  readonly model: string;
  /** Loaded by one process (`import`). */
  readonly commands: number;
  readonly commandsPer100Keys: number;
  /**
   * Loaded by the Lambda import in `chunks` chunks: with a TTL, each chunk gives every bucket it touches its
   * own `EXPIRE`, so bucketed loads send more.
   */
  readonly lambda: {
    readonly chunks: number;
    readonly commands: number;
    readonly commandsPer100Keys: number;
  };
  /** `import` would write this model's buckets grouped (`groupBuckets`), one `HSET` per bucket. */
  readonly grouped?: boolean;
  /** The estimated bill for `commands` (and `lambda.commands`), with an Upstash URL or `--price-per-100k`. */
  readonly bill?: CommandBill;
  readonly lambdaBill?: CommandBill;
}

/** {@link ModelCommands} of each model of the pre-flight report: its own model first, then the alternatives. */
export function modelCommands(
  report: PreflightReport,
  sample: SourceSample,
  spec: ImportSpec,
  chunks: number,
  pricePer100k: number | undefined,
  groupedChunks: number = chunks,
): ModelCommands[] {
  return [report.model, ...report.alternatives].map((m) => {
    // Both paths group bucket writes as `import` and import-start would decide; the Lambda import in chunks of
    // its own size, each a grouped load.
    const grouped =
      m.type === 'bucketed' &&
      chooseBucketWrites(m.scheme ?? 'hash', spec, sample, { billedPerCommand: pricePer100k !== undefined })
        .path === 'grouped';
    const one = planCommands(m, sample, spec, 1, grouped);
    const lambdaChunks = grouped ? groupedChunks : chunks;
    const lambda = planCommands(m, sample, spec, lambdaChunks, grouped);
    return {
      model: m.label,
      ...(grouped ? { grouped } : {}),
      commands: Math.round(one.commands),
      commandsPer100Keys: one.per100Keys,
      lambda: {
        chunks: lambdaChunks,
        commands: Math.round(lambda.commands),
        commandsPer100Keys: lambda.per100Keys,
      },
      ...(pricePer100k === undefined
        ? {}
        : {
            bill: commandBill(one.commands, pricePer100k),
            lambdaBill: commandBill(lambda.commands, pricePer100k),
          }),
    };
  });
}

/** One `commands` line of the human plan. */
function describeCommands(c: ModelCommands): string {
  const bill = c.bill ? ` ≈ ${formatUsd(c.bill.usd)}` : '';
  const grouped = c.grouped ? ' (grouped bucket writes)' : '';
  let text = `${c.model}${grouped}: ${c.commandsPer100Keys.toFixed(1)} per 100 keys, ≈ ${int(c.commands)} commands${bill}`;
  // Only bucketed loads with a TTL differ: one EXPIRE per bucket per chunk.
  if (c.lambda.chunks > 1 && c.lambda.commands !== c.commands) {
    const lambdaBill = c.lambdaBill ? ` ≈ ${formatUsd(c.lambdaBill.usd)}` : '';
    text +=
      `; Lambda import in ${int(c.lambda.chunks)} chunks: ${c.lambda.commandsPer100Keys.toFixed(1)} per 100 keys, ` +
      `≈ ${int(c.lambda.commands)}${lambdaBill}`;
  }
  return text;
}

/** The `price` line of the human plan: what the bills above assume. */
function priceRow(price: number): [string, string] {
  const basis = price === UPSTASH_PRICE_PER_100K ? ' (Upstash pay-as-you-go list price)' : '';
  return ['price', `${formatUsd(price)} per 100 k commands${basis}`];
}

/** The expected rate of a model, keys per second. */
/**
 * Keys per second of the bucketed model's write paths against one local redis-server at several sizes,
 * measured on the 2-core benchmark machine (bench/RESULTS.md: the issue's direct figures, `scale` with `hset`
 * and `restore`, the 200 M recipe). The direct path slows as the keyspace grows; grouped writes pay a partition
 * pass first.
 */
export const BUCKETED_RATES: Readonly<
  Record<'direct' | 'hset' | 'restore', readonly (readonly [number, number])[]>
> = {
  direct: [
    [1e6, 900_000],
    [5e6, 750_000],
    [20e6, 537_000],
    [200e6, 414_000],
  ],
  hset: [
    [1e6, 480_000],
    [5e6, 890_000],
    [20e6, 1_080_000],
  ],
  restore: [
    [5e6, 1_130_000],
    [20e6, 1_710_000],
    [200e6, 1_830_000],
  ],
};

/** The rate at `keys` on a path's measured curve: interpolated on the log of the size, held at either end. */
export function rateAt(points: readonly (readonly [number, number])[], keys: number): number {
  if (keys <= points[0]![0]) return points[0]![1];
  for (let i = 1; i < points.length; i++) {
    const [k1, r1] = points[i]!;
    if (keys <= k1) {
      const [k0, r0] = points[i - 1]!;
      const t = (Math.log(keys) - Math.log(k0)) / (Math.log(k1) - Math.log(k0));
      return r0 + t * (r1 - r0);
    }
  }
  return points[points.length - 1]![1];
}

/** Which measured curve the rate came from, for the `time` row. */
function pathNote(path: 'direct' | 'hset' | 'restore' | undefined, given: number | undefined): string {
  if (given !== undefined || path === undefined) return '';
  return path === 'direct'
    ? ' (direct bucket writes)'
    : path === 'hset'
      ? ' (grouped, one HSET per bucket)'
      : ' (grouped, one RESTORE per bucket)';
}

/** What `import` would do with this load: the model, the TTL, and for buckets the write path it would take. */
function rateOf(
  model: ModelProjection,
  ttl: boolean,
  keys: number,
  bucketPath?: 'direct' | 'hset' | 'restore',
): number {
  if (model.type === 'bucketed') return rateAt(BUCKETED_RATES[bucketPath ?? 'direct'], keys);
  if (model.type === 'hash') return DEFAULT_RATES.hash;
  return ttl ? DEFAULT_RATES.stringTtl : DEFAULT_RATES.string;
}

function describeShard(p: ShardProjection, limit: number): string {
  const rss =
    p.projectedRss === undefined
      ? ''
      : `; RSS ${p.rss === undefined ? '' : `${bytes(p.rss)} → `}${bytes(p.projectedRss)} (growth × ${p.rssFactor})`;
  return describeUsed(p, limit) + rss;
}

function describeUsed(p: ShardProjection, limit: number): string {
  const used = p.usedMemory === undefined ? '?' : bytes(p.usedMemory);
  const growth = bytes(p.growth + p.transient);
  switch (p.verdict) {
    case 'unreachable':
      return 'unreachable: not checked';
    case 'unknown':
      return p.usedMemory === undefined
        ? `memory unreadable: not checked (+${growth})`
        : `used ${used} + ${growth}; maxmemory unreadable: not checked`;
    case 'no-limit':
      return `used ${used} + ${growth} → ${bytes(p.projected ?? 0)}; maxmemory 0 (no limit): at risk`;
    default: {
      const pct = `${((p.ratio ?? 0) * 100).toFixed(1)} % of maxmemory ${bytes(p.maxMemory ?? 0)}`;
      const verdict = p.verdict === 'overflow' ? `OVER the ${Math.round(limit * 100)} % limit` : 'fits';
      return `used ${used} + ${growth} → ${bytes(p.projected ?? 0)} = ${pct}: ${verdict}`;
    }
  }
}

function describeModel(m: ModelProjection): string {
  const e = m.estimate;
  const fits = m.fits === undefined ? '' : m.fits ? ', fits' : ', does NOT fit';
  const hashtable =
    e.hashtableShare !== undefined && e.hashtableShare >= 0.0005
      ? `, ≈ ${(e.hashtableShare * 100).toFixed(1)} % of hashes as hashtable`
      : '';
  return `${m.label}: ≈ ${bytes(e.bytes)} (${e.bytesPerKey.toFixed(1)} bytes/key, ${int(e.redisKeys)} Redis keys${hashtable})${fits}`;
}

/** The pre-flight report as aligned `label  text` lines (stderr for `import`, stdout for `plan`). */
export function formatPreflight(r: PreflightReport, extra: readonly [string, string][] = []): string {
  const approx = r.complete ? '' : '~';
  const rows: [string, string][] = [
    [
      'source',
      `${r.source}: ${bytes(r.bytes)}, ${approx}${int(r.records)} records (${r.bytesPerRecord.toFixed(1)} bytes/record` +
        `${r.complete ? ', read whole' : `, from a sample of ${int(r.sampledRecords)}`}), ${approx}${int(r.keys)} keys`,
    ],
    ['model', describeModel(r.model)],
    ...r.alternatives.map((a): [string, string] => ['instead', describeModel(a)]),
    [
      'listpack',
      `hash-max-listpack-entries ${r.listpack.entries}, -value ${r.listpack.value}` +
        (r.listpackSource === 'config'
          ? ' (CONFIG GET)'
          : ' (assumed: defaults of redis.conf and ElastiCache)'),
    ],
    ...r.shards.map((p): [string, string] => [
      'shard',
      p.usedMemory === undefined && p.verdict === 'unknown' && r.unread.length === 0
        ? `none read (no --redis): + ${bytes(p.growth + p.transient)} with the documented defaults, not checked`
        : `${p.shard}: ${describeShard(p, r.limit)}`,
    ]),
    ...r.warnings.map((w): [string, string] => ['warning', w]),
    ...r.unread.map((u): [string, string] => ['unread', u]),
  ];
  if (r.refusal) rows.push([r.forced ? 'forced' : 'refused', r.refusal]);
  if (r.suggestion) rows.push(['suggestion', r.suggestion]);
  rows.push(...extra);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

/** Registers `plan <file>`: rows, memory per model, chunks and time, without writing anything. */
export function registerPlan(program: Command): void {
  const command = program
    .command('plan')
    .summary('estimate rows, Redis memory per model, chunks and time; writes nothing')
    .description(
      'Sample the file (8 slices, one centred in each eighth, 1 MiB in all), estimate its rows, and project the Redis memory ' +
        'each data model would need, from the exact structure sizes of Redis 7 (jemalloc size classes, dict ' +
        'entries, SDS headers, listpack encodings, hash tables). With --redis (or REDIS_URL) it also reads each ' +
        "shard's used_memory, maxmemory and listpack settings and gives the import pre-flight's verdict. " +
        'Reads only; writes nothing anywhere.',
    )
    .argument('<file>', 'CSV (.csv, .tsv) or JSON Lines (.jsonl, .ndjson) file')
    .option(
      '-r, --redis <urls>',
      'comma-separated redis:// or rediss:// URLs, one per shard, or an Upstash REST https:// URL (default: env REDIS_URL or UPSTASH_REDIS_REST_URL; none: offline)',
    )
    .option('-s, --spec <file>', 'import spec JSON file')
    .addOption(
      new Option('--format <format>', 'input format (default: from the file name)').choices(['csv', 'jsonl']),
    )
    .option('--columns <names>', 'CSV column names, comma-separated, when the file has no header row')
    .option('--delimiter <char>', 'CSV delimiter')
    .option('-k, --key <template>', "key template over record fields, e.g. 'user:{id}'")
    .addOption(new Option('-m, --model <model>', 'data model').choices(['string', 'hash', 'bucketed']))
    .option('-v, --value <fields>', 'value field (string, bucketed)')
    .option('--fields <names>', 'hash model: fields to write (default: all)')
    .addOption(new Option('--bucket-scheme <scheme>', 'bucketed: hash or range').choices(['hash', 'range']))
    .option('--bucket-size <n>', 'bucketed: fields per bucket (default 100)', positive('--bucket-size'))
    .option('--bucket-count <n>', 'bucketed hash scheme: number of buckets', positive('--bucket-count'))
    .option('--bucket-prefix <prefix>', 'bucketed: bucket key prefix')
    .option('--ttl <seconds>', 'keys (buckets) expire: adds the expires dict', positive('--ttl'))
    .option('--ttl-jitter <percent>', 'TTL jitter', (t) => Number(t))
    .option(
      '--chunk-size <bytes>',
      "bytes per Lambda chunk (CHUNK_BYTES; a grouped bucketed load gets chunks sized for import-chunk's /tmp, up to 1 GiB)",
      positive('--chunk-size'),
      DEFAULT_CHUNK_BYTES,
    )
    .option(
      '--concurrency <n>',
      'Lambda chunks loaded at once',
      positive('--concurrency'),
      DEFAULT_CONCURRENCY,
    )
    .option(
      '--memory-limit <percent>',
      'share of maxmemory a shard may reach (default 85)',
      memoryLimitOption,
    )
    .option('--rate <keys/s>', 'expected keys per second of one loader process', positive('--rate'))
    .option('--price-per-100k <usd>', PRICE_FLAG_HELP, priceOption)
    .option('--json', 'print the plan as JSON on stdout', false);
  addClusterOption(addTlsOptions(command))
    .addHelpText(
      'after',
      `${TLS_HELP}
${CLUSTER_HELP}

Expected time assumes one loader process at a rate measured on a 2-core machine against a local Redis
(string ${int(DEFAULT_RATES.string)}/s, with TTL ${int(DEFAULT_RATES.stringTtl)}/s, hash ${int(DEFAULT_RATES.hash)}/s; bucketed
by the write path import would take and the row count: direct ${int(BUCKETED_RATES.direct[0]![1])}/s at 1 M rows
falling to ${int(BUCKETED_RATES.direct[3]![1])}/s at 200 M, grouped with HSET ${int(BUCKETED_RATES.hset[2]![1])}/s and with RESTORE
${int(BUCKETED_RATES.restore[1]![1])}/s at 20 M): pass --rate for yours.

Commands: per model, the Redis commands the write path sends per 100 keys (string: one SET, its TTL
included; hash: HSET, plus EXPIRE with a TTL; bucketed: one HSET per bucket and reader batch, or per key when
buckets are many, plus one EXPIRE per bucket and load with a TTL), and with --price-per-100k or an http(s)://
(Upstash REST) URL the estimated bill (Upstash lists $0.20 per 100,000 commands).

Exit codes: 0 the plan was printed (whatever its verdict); 2 bad command line or spec; 3 the file is unreadable.

Examples:
  redis-bulk-loader plan users.csv --key 'user:{id}' --value score
  redis-bulk-loader plan users.csv --key 'user:{id}' --value score --ttl 86400 --redis redis://10.0.0.5:6379`,
    )
    .action(async (file: string, flags: PlanFlags) => {
      process.exitCode = await planAction(file, flags);
    });
}

async function planAction(file: string, flags: PlanFlags): Promise<number> {
  const urls = (flags.redis ?? (process.env.REDIS_URL || process.env.UPSTASH_REDIS_REST_URL) ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  const credentials = { username: process.env.REDIS_USERNAME, password: process.env.REDIS_PASSWORD };
  let targets: Target[] = [];
  try {
    const spec = await resolveSpec(file, flags);
    const source = new FileSource(file);
    await source.size().catch((err: unknown) => {
      throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
    });
    const tls = await tlsOptions(flags, urls);
    // A server that cannot be reached is still planned for: its reading says so.
    targets = await openCliTargets(urls, {
      credentials,
      tls,
      cluster: clusterMode(flags),
      connectTimeoutMs: 3000,
      lenient: true,
    });
    const sample = await sampleSource(source, spec);
    const readings = await Promise.all((await serversOf(targets)).map((t) => readShard(t)));
    // The bucketed model's rate (and its RSS) follows the write path `import` would take (RESTORE only where it
    // asks for it or loads a dataset version; the probe is import's).
    const path =
      spec.model.type === 'bucketed'
        ? chooseBucketWrites(spec.model.scheme, spec, sample, {
            billedPerCommand: billPrice(urls, flags.pricePer100k) !== undefined,
          }).path
        : undefined;
    const report = assessPreflight({
      spec,
      sample,
      readings,
      limit: flags.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
      writes: path === 'grouped' ? 'grouped' : 'direct',
    });
    // A grouped Lambda import cuts chunks for import-chunk's /tmp (serverless.yml's defaults), not --chunk-size.
    const groupedChunk =
      path === 'grouped'
        ? groupedChunking(spec, sample, {
            CHUNK_BYTES: flags.chunkSize,
            GROUPED_CHUNK_BYTES: DEFAULT_GROUPED_CHUNK_BYTES,
            CHUNK_TEMP_MIB: DEFAULT_CHUNK_TEMP_MIB,
          })
        : undefined;
    const chunkBytes = groupedChunk?.chunkBytes ?? flags.chunkSize;
    const chunks = Math.max(1, Math.ceil(sample.bytes / chunkBytes));
    const bucketPath =
      path === undefined
        ? undefined
        : path === 'direct'
          ? 'direct'
          : spec.bucketWrite === 'restore' || (spec.bucketWrite === 'auto' && spec.dataset !== undefined)
            ? 'restore'
            : 'hset';
    const rate = flags.rate ?? rateOf(report.model, spec.ttl !== false, sample.keys, bucketPath);
    const seconds = sample.keys / rate;
    // The Lambda import's chunks group with HSET (several chunks may write a bucket), or write directly.
    const lambdaPath = groupedChunk ? 'hset' : 'direct';
    const lambdaRate =
      flags.rate ?? (bucketPath ? rateOf(report.model, spec.ttl !== false, sample.keys, lambdaPath) : rate);
    const lambdaSeconds = sample.keys / lambdaRate / Math.min(chunks, flags.concurrency);
    const price = billPrice(urls, flags.pricePer100k);
    const directChunks = Math.max(1, Math.ceil(sample.bytes / flags.chunkSize));
    const commands = modelCommands(report, sample, spec, directChunks, price, chunks);
    const plan = {
      rows: sample.records,
      keys: sample.keys,
      chunks,
      chunkBytes: flags.chunkSize,
      expected: {
        ...(bucketPath ? { writePath: bucketPath } : {}),
        keysPerSecond: rate,
        seconds,
        lambdaSeconds,
        concurrency: Math.min(chunks, flags.concurrency),
      },
      commands,
      ...(price === undefined ? {} : { pricePer100k: price }),
      preflight: report,
    };
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    } else {
      const verdict =
        report.refusal === undefined
          ? urls.length === 0
            ? 'no --redis (or REDIS_URL): memory projected with documented defaults, not checked against a server'
            : 'import would proceed'
          : 'import would be REFUSED by the pre-flight (--force overrides)';
      const lambda = plan.expected.concurrency;
      process.stdout.write(
        `${formatPreflight(report, [
          [
            'chunks',
            `${int(chunks)} of ${bytes(chunkBytes)} (Lambda import: one import-chunk call each${groupedChunk ? ', sorted by bucket in its /tmp' : ''})`,
          ],
          [
            'time',
            `≈ ${duration(seconds * 1000)} in one process at ${int(rate)} keys/s${pathNote(bucketPath, flags.rate)}; ` +
              `≈ ${duration(lambdaSeconds * 1000)} on Lambda, ${lambda} chunk${lambda === 1 ? '' : 's'} at a time`,
          ],
          ...commands.map((c): [string, string] => ['commands', describeCommands(c)]),
          ...(price === undefined ? [] : [priceRow(price)]),
          ['verdict', verdict],
        ])}\n`,
      );
    }
    return ExitCode.Ok;
  } catch (err) {
    const e = commandError(err);
    process.stderr.write(`redis-bulk-loader plan: ${e.message}\n`);
    return exitCodeFor(e);
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}
