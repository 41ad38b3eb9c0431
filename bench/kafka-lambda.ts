/**
 * `npm run bench -- kafka-lambda`: the kafka-consumer handler on Lambda-shaped MSK events of 10,000 ~100-byte
 * JSON records over 4 partitions (bench/kafka-events.ts), against a fresh redis-server per run.
 *
 * - Variants, alternated within each pair (A B A B …, ../shared/BENCHMARKS.md), in reverse order every other
 *   pair, so that no variant always runs first or always right after a given one: the hash model `user:{id}`
 *   with watermarks (exactly-once effect) and without (at-least-once), and the counter model `clicks:{id}`
 *   with watermarks; each against `redis-cli --pipe` of the same records as plain `HSET`s / `INCRBY`s,
 *   generated before timing (decodes nothing, checks nothing: the ceiling of one connection).
 * - The watermark overhead is judged on the median of the per-pair ratios, printed with a distribution-free
 *   ~95 % interval of that median (bench/stats.ts): on this machine the same code moves ±20 % from pair to
 *   pair. It is given twice: as shipped (units of 500 sent while a partition is mapped) and with one unit per
 *   partition, which sends the writes as the plain path does, so that only the watermarks differ.
 * - Each handler run is a fresh Node process (bench/kafka-lambda-child.ts) with the flags the Lambda Node
 *   runtime passes for the function's memorySize in serverless.yml, calling the real handler in-process.
 *   records/s is records over the time spent inside the handler; CPU µs per record are given for the
 *   handler's process and for redis-server, which on a noisy machine move less than the rates.
 * - Every run is checked before it counts (bench/kafka-lambda-checks.ts): the handler's counts (all
 *   applied, nothing failed), the key count, the watermarks and every key's content; with watermarks, the
 *   last event delivered again must come back as duplicates only.
 * - Then the handler's peak RSS on one event of Lambda's 6 MiB payload limit in a fresh process, with no
 *   node flags and with Lambda's.
 *
 * - `--pin`: redis-server on CPU 1 and the handler (or `redis-cli`) on CPU 0, so Redis' time does not come out of
 *   the handler's core: as on Lambda, where the function and its Redis run on different machines.
 *
 *   npm run bench -- kafka-lambda [--records N] [--pairs P] [--pin]     (run from dist/: the children are built files)
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startLocalRedis } from '../cli/local-redis.js';
import {
  BATCH,
  MODELS,
  type ModelName,
  mskEvent,
  PARTITIONS,
  valueOf,
  writeRespFile,
} from './kafka-events.js';
import { expectCounts, redisCpu, verifyRedis } from './kafka-lambda-checks.js';
import type { ChildJob, ChildResult } from './kafka-lambda-child.js';
import { median, medianInterval } from './support.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'kafka-lambda-child.js');
/** Lambda's invocation payload limit. */
const EVENT_LIMIT = 6 * 2 ** 20;
const RSS_BUDGET_MIB = 256;
const TARGET_OVERHEAD_PCT = 10;

/**
 * The node flags the AWS Node runtime's bootstrap passes for kafka-consumer's memorySize (as
 * bench/chunk-memory.ts does for import-chunk): a tenth of the memory for the young generation.
 */
function lambdaFlags(): string[] {
  const yml = readFileSync(join(here, '..', '..', 'serverless.yml'), 'utf8');
  const block = /^ {2}kafka-consumer:\n([\s\S]*?)(?=^ {2}\S|^\S)/m.exec(yml)?.[1] ?? '';
  const memory = Number(/^\s+memorySize:\s*(\d+)/m.exec(block)?.[1] ?? 1024);
  const young = Math.floor(memory / 10);
  return [`--max-semi-space-size=${Math.floor(young / 2)}`, `--max-old-space-size=${memory - young}`];
}

/**
 * `--pin`: Redis on one CPU and the client (the handler, or `redis-cli`) on the other, as on Lambda where the
 * function and its Redis never share a core; without it both float over the 2 cores and Redis' work in the
 * scripts is taken from the handler too.
 */
const CLIENT_CPU = '0';
const REDIS_CPU = '1';

/** The command line of a client process, under `taskset` when pinned. */
function clientCommand(pin: boolean, command: string, args: readonly string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', CLIENT_CPU, command, ...args]] : [command, [...args]];
}

async function child(flags: readonly string[], job: ChildJob, pin = false): Promise<ChildResult> {
  const [command, args] = clientCommand(pin, process.execPath, [...flags, CHILD, JSON.stringify(job)]);
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = await once(proc, 'close');
  if (code !== 0) throw new Error(`kafka-lambda child exited with ${String(code)}`);
  // The handler's own output (Powertools log lines and EMF, as on Lambda) comes first; the result is the last line.
  const last = out.trimEnd().split('\n').pop() ?? '';
  return JSON.parse(last) as ChildResult;
}

interface Variant {
  readonly name: string;
  readonly model: ModelName;
  /** Undefined for a `redis-cli --pipe` reference. */
  readonly watermarks?: boolean;
  /** The spec's `batch` (unit bounds), when not the default. */
  readonly batch?: { readonly maxRecords: number; readonly maxBytes: number };
  /** The reference the variant is compared with. */
  readonly ref?: string;
  readonly target?: string;
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'hash, watermarks',
    model: 'hash',
    watermarks: true,
    ref: 'pipe HSET',
    target: '>= 150,000 records/s',
  },
  { name: 'hash, no watermarks', model: 'hash', watermarks: false, ref: 'pipe HSET' },
  // Without watermarks a partition goes in one pipeline once it is mapped; with them, in units of 500 sent
  // while it is still mapped. One unit per partition sends the watermarked writes the way the plain ones go,
  // so that the comparison with `hash, no watermarks` is the watermarks' cost alone.
  {
    name: 'hash, watermarks, unit = partition',
    model: 'hash',
    watermarks: true,
    batch: { maxRecords: 100_000, maxBytes: 64 * 2 ** 20 },
    ref: 'hash, no watermarks',
  },
  { name: 'pipe HSET', model: 'hash' },
  { name: 'counter, watermarks', model: 'counter', watermarks: true, ref: 'pipe INCRBY' },
  { name: 'pipe INCRBY', model: 'counter' },
];

/** What one run of a variant measured. */
interface Sample {
  readonly rps: number;
  /** CPU µs per record of the handler's process (undefined for the references). */
  readonly nodeUs: number | undefined;
  /** CPU µs per record of redis-server. */
  readonly redisUs: number;
}

/** One timed run of a variant on a fresh redis-server, checked. */
async function runVariant(
  v: Variant,
  records: number,
  dir: string,
  flags: string[],
  pin: boolean,
): Promise<Sample> {
  const redis = await startLocalRedis();
  try {
    // Every thread of the server (its I/O and background threads too).
    if (pin) await run('taskset', ['-a', '-p', '-c', REDIS_CPU, String(redis.pid)]);
    let seconds: number;
    let nodeUs: number | undefined;
    const cpuBefore = await redisCpu(redis.port);
    if (v.watermarks === undefined) {
      const resp = join(dir, `${v.model}.resp`);
      const t = performance.now();
      const cli = pin ? `taskset -c ${CLIENT_CPU} redis-cli` : 'redis-cli';
      await run('sh', ['-c', `${cli} -p ${redis.port} --pipe < "${resp}" > /dev/null`]);
      seconds = (performance.now() - t) / 1000;
    } else {
      const spec = { ...MODELS[v.model], watermarks: v.watermarks, ...(v.batch ? { batch: v.batch } : {}) };
      const r = await child(flags, { url: redis.url, spec, records, replay: v.watermarks }, pin);
      expectCounts(v.name, r.counts, { received: records, applied: records });
      if (v.watermarks) {
        const last = records - Math.floor((records - 1) / BATCH) * BATCH;
        expectCounts(`${v.name}, replayed event`, r.replay, { received: last, duplicate: last });
      }
      seconds = r.seconds;
      nodeUs = (r.cpuSeconds / records) * 1e6;
    }
    // With watermarks this includes the replayed event (all duplicates: a fraction of one event's cost).
    const redisUs = (((await redisCpu(redis.port)) - cpuBefore) / records) * 1e6;
    await verifyRedis(redis.port, v.model, records, v.watermarks === true);
    return { rps: records / seconds, nodeUs, redisUs };
  } finally {
    await redis.stop();
  }
}

/** The largest event of the bench's records that fits Lambda's payload limit, written as JSON. */
async function writeLimitEvent(path: string): Promise<number> {
  const perRecord = Buffer.byteLength(JSON.stringify(mskEvent(0, 1_000))) / 1_000;
  let n = Math.floor(EVENT_LIMIT / perRecord);
  let text = JSON.stringify(mskEvent(0, n));
  while (Buffer.byteLength(text) > EVENT_LIMIT)
    text = JSON.stringify(mskEvent(0, (n = Math.floor(n * 0.99))));
  await writeFile(path, text);
  return n;
}

/** The handler's peak RSS on the one event in `file` (`n` records), in a fresh process; checked. */
async function peakRss(file: string, n: number, flags: string[]): Promise<ChildResult> {
  const redis = await startLocalRedis();
  try {
    const r = await child(flags, {
      url: redis.url,
      spec: { ...MODELS.hash, watermarks: true },
      eventFile: file,
    });
    expectCounts('6 MiB event', r.counts, { received: n, applied: n });
    await verifyRedis(redis.port, 'hash', n, true);
    return r;
  } finally {
    await redis.stop();
  }
}

const blank = (n: number): string[] => new Array<string>(n).fill('');

/** A watermark overhead: per pair, its median, the median's interval and the target's verdict. */
interface Overhead {
  readonly pcts: readonly number[];
  readonly median: number;
  readonly interval: ReturnType<typeof medianInterval>;
  readonly verdict: `${'met' | 'missed'}${'' | ' by the median'}`;
}

/**
 * The overhead in % of records/s from per-pair ratios (with / without watermarks). The target is judged on
 * the median, as every ratio here; the interval says how far this many pairs can be trusted on this machine,
 * where the same code moves ±20 % from pair to pair: a median on either side of the target with an interval
 * across it is "met by the median" or "missed by the median", not settled.
 */
function overheadOf(ratios: readonly number[]): Overhead {
  const pcts = ratios.map((r) => (1 - r) * 100);
  const m = median(pcts);
  const interval = medianInterval(pcts);
  const missed = m > TARGET_OVERHEAD_PCT;
  // Settled when the whole interval is on the median's side of the target.
  const settled =
    interval !== undefined &&
    (missed ? interval.low > TARGET_OVERHEAD_PCT : interval.high <= TARGET_OVERHEAD_PCT);
  const verdict = `${missed ? 'missed' : 'met'}${settled ? '' : ' by the median'}` as const;
  return { pcts, median: m, interval, verdict };
}

function overheadRow(label: string, o: Overhead): string[] {
  const i = o.interval;
  return [
    label,
    `${o.median.toFixed(1)} %`,
    o.pcts.map((p) => p.toFixed(1)).join(' '),
    i === undefined
      ? 'interval: needs >= 6 pairs'
      : `${Math.round(i.level * 100)} % interval ${i.low.toFixed(1)} to ${i.high.toFixed(1)} %`,
    ...blank(3),
    `<= ${TARGET_OVERHEAD_PCT} %: ${o.verdict}`,
  ];
}

function overheadFields(name: string, o: Overhead): string {
  const i = o.interval;
  return [
    `${name}_pct=${o.median.toFixed(1)}`,
    ...(i === undefined
      ? []
      : [
          `${name}_ci_low=${i.low.toFixed(1)} ${name}_ci_high=${i.high.toFixed(1)} ${name}_ci_level=${i.level}`,
        ]),
    `${name}_target=${o.verdict.replaceAll(' ', '_')}`,
  ].join(' ');
}
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (n: number): string => (n / 2 ** 20).toFixed(0);

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows)
    console.log(
      widths
        .map((w, i) => (row[i] ?? '').padEnd(w))
        .join('  ')
        .trimEnd(),
    );
}

export async function kafkaLambdaBench(options: {
  records: number;
  pairs: number;
  pin?: boolean;
}): Promise<string[]> {
  const { records, pairs } = options;
  const pin = options.pin === true;
  const flags = lambdaFlags();
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-kafka-'));
  try {
    for (const model of Object.keys(MODELS) as ModelName[])
      await writeRespFile(join(dir, `${model}.resp`), model, records);
    const eventFile = join(dir, 'limit-event.json');
    const limitRecords = await writeLimitEvent(eventFile);
    let valueBytes = 0;
    for (let i = 0; i < 1000; i++) valueBytes += Buffer.byteLength(JSON.stringify(valueOf(i))) / 1000;
    const { stdout: version } = await run('redis-server', ['--version']);
    process.stderr.write(
      `kafka-lambda: ${records} records (${valueBytes.toFixed(0)}-byte JSON values) in events of ${BATCH} over ` +
        `${PARTITIONS} partitions, ${pairs} pairs${pin ? `, pinned (redis-server on CPU ${REDIS_CPU}, clients on CPU ${CLIENT_CPU})` : ''}; handler: node ${flags.join(' ')}; ${version.trim()}\n`,
    );

    if (pairs % 2 === 1)
      process.stderr.write(
        `  (${pairs} pairs: the forward order runs once more than the reverse; an even count balances them)\n`,
      );
    const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.name, []]));
    for (let i = 0; i < pairs; i++) {
      // Counterbalanced (A B … then … B A): a same-code A/A on this machine moves ±20 % per pair, and a
      // fixed order would add whatever the position costs to one variant. Watermarks and none are always
      // neighbours, each first in half the pairs (with an even count); what runs before the pair still
      // differs (the other variants, a redis-cli run), as in any order of more than two.
      for (const v of i % 2 === 0 ? VARIANTS : [...VARIANTS].reverse())
        samples.get(v.name)!.push(await runVariant(v, records, dir, flags, pin));
      const line = VARIANTS.map((v) => `${v.name} ${fmt(samples.get(v.name)![i]!.rps)}`).join(', ');
      process.stderr.write(`  pair ${i + 1}: ${line} records/s\n`);
    }
    const rps = (name: string) => samples.get(name)!.map((s) => s.rps);
    const perPair = (a: string, b: string) => rps(a).map((x, i) => x / rps(b)[i]!);
    const ratio = (a: string, b: string) => median(perPair(a, b)).toFixed(2);
    const cpu = (name: string, side: 'nodeUs' | 'redisUs') => {
      const xs = samples.get(name)!.map((s) => s[side]);
      return xs.every((x) => x !== undefined) ? median(xs).toFixed(1) : '';
    };
    const shipped = overheadOf(perPair('hash, watermarks', 'hash, no watermarks'));
    const sameUnits = overheadOf(perPair('hash, watermarks, unit = partition', 'hash, no watermarks'));

    const rss = [
      { label: 'no node flags', r: await peakRss(eventFile, limitRecords, []) },
      { label: 'Lambda flags', r: await peakRss(eventFile, limitRecords, flags) },
    ];
    const eventMb = (rss[0]!.r.eventBytes! / 1e6).toFixed(1);

    printTable([
      ['kafka-lambda', 'records/s', 'per pair', 'ref', 'ratio', 'node µs/rec', 'redis µs/rec', 'target'],
      ...VARIANTS.map((v) => [
        v.name,
        fmt(median(rps(v.name))),
        rps(v.name).map(fmt).join(' '),
        v.ref ?? '',
        v.ref === undefined ? '' : ratio(v.name, v.ref),
        cpu(v.name, 'nodeUs'),
        cpu(v.name, 'redisUs'),
        v.target ?? '',
      ]),
      overheadRow('watermark overhead', shipped),
      overheadRow('  with unit = partition', sameUnits),
      ...rss.map(({ label, r }) => [
        `peak RSS, ${eventMb} MB event`,
        `${mib(r.maxRssBytes)} MiB`,
        `${limitRecords} records, ${label}, ${mib(r.baseRssBytes)} MiB at start`,
        ...blank(4),
        `< ${RSS_BUDGET_MIB} MiB`,
      ]),
    ]);

    const int = (n: number) => String(Math.round(n));
    const wm = 'hash, watermarks';
    const plain = 'hash, no watermarks';
    return [
      [
        `BENCH case=kafka-lambda records=${records} batch=${BATCH}${pin ? ' pinned=1' : ''}`,
        `rps=${int(median(rps(wm)))} rps_no_watermarks=${int(median(rps(plain)))}`,
        overheadFields('watermark_overhead', shipped),
        overheadFields('unit_partition_overhead', sameUnits),
        `ref=pipe ref_rps=${int(median(rps('pipe HSET')))} ratio=${ratio(wm, 'pipe HSET')}`,
        `counter_rps=${int(median(rps('counter, watermarks')))}`,
        `counter_ref_rps=${int(median(rps('pipe INCRBY')))} counter_ratio=${ratio('counter, watermarks', 'pipe INCRBY')}`,
        `node_us=${cpu(wm, 'nodeUs')} redis_us=${cpu(wm, 'redisUs')}`,
        `node_us_no_watermarks=${cpu(plain, 'nodeUs')} redis_us_no_watermarks=${cpu(plain, 'redisUs')}`,
        `event_mb=${eventMb} event_records=${limitRecords}`,
        `peak_rss_mib=${mib(rss[0]!.r.maxRssBytes)} peak_rss_lambda_flags_mib=${mib(rss[1]!.r.maxRssBytes)}`,
      ].join(' '),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
