/**
 * `npm run bench -- kafka`: `redis-bulk-loader consume` (watermarks on, every reply checked, offsets committed
 * after Redis confirmed) against `kcat -C -e | awk (to RESP) | redis-cli --pipe` (at-least-once, checks
 * nothing) on the same topic of the librdkafka mock cluster, each into a fresh redis-server, alternating A B.
 * The records are click counters `{"page":…,"n":…}` produced beforehand with `kcat -P`; both sides must end
 * with the exact totals. Our time includes the consumer group join, whose first round the broker (this mock,
 * like Kafka's `group.initial.rebalance.delay.ms`) holds for 3 s.
 *
 *   npm run bench -- kafka [--records N] [--pairs P]
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalRedis } from '../cli/local-redis.js';
import { startKafkaMock } from '../cli/local-stack/local-kafka.js';
import { TcpTarget } from '../shared/redis/index.js';
import { cli, cliFlags, median, timed } from './support.js';

const run = promisify(execFile);
const PAGES = 10_000;
/**
 * librdkafka's mock keeps only about the newest 140 k records of a partition, so the records are spread over
 * 4 topics of 4 partitions (62.5 k per partition at 1 M records).
 */
const TOPICS = ['clicks-0', 'clicks-1', 'clicks-2', 'clicks-3'];

// mawk has no capture groups: split the JSON value on its punctuation; $3 is the page, $5 the amount.
const AWK = `BEGIN { FS = "[\\":,{}]+" } { k = "clicks:" $3; printf "*3\\r\\n$6\\r\\nINCRBY\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n", length(k), k, length($5), $5 }`;

async function writeRecords(path: string, count: number): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) {
    const page = `p${(i * 7919) % PAGES}`;
    const n = (i % 9) + 1;
    totals.set(page, (totals.get(page) ?? 0) + n);
    if (!out.write(`${page}\t{"page":"${page}","n":${n}}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return totals;
}

/** A fresh redis-server for `work`; the counters must equal `totals` afterwards. */
async function onFreshRedis(
  totals: Map<string, number>,
  work: (url: string, port: number) => Promise<number>,
) {
  const redis = await startLocalRedis();
  const target = new TcpTarget(redis.url);
  try {
    const seconds = await work(redis.url, redis.port);
    const pages = [...totals.keys()];
    const [values] = await target.exec([{ args: ['MGET', ...pages.map((p) => `clicks:${p}`)] }]);
    const wrong = pages.filter((p, i) => Number((values as (string | null)[])[i]) !== totals.get(p)).length;
    if (wrong > 0) throw new Error(`${wrong} of ${pages.length} counters are wrong`);
    return seconds;
  } finally {
    await target.close();
    await redis.stop();
  }
}

export async function kafkaConsumeBench(options: { records: number; pairs: number }): Promise<string[]> {
  const { records, pairs } = options;
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-consume-'));
  const kafka = await startKafkaMock();
  try {
    const file = join(dir, 'clicks.tsv');
    const totals = await writeRecords(file, records);
    // Line i goes to topic i % 4: split the file, then one kcat producer per topic.
    const { stdout: split } = await run(
      'sh',
      ['-c', `awk -v dir="${dir}" '{ print > (dir "/t" (NR - 1) % 4 ".tsv") } END { print NR }' "${file}"`],
      { maxBuffer: 1024 * 1024 },
    );
    if (Number(split.trim()) !== records) throw new Error(`split ${split.trim()} of ${records} records`);
    for (const [i, topic] of TOPICS.entries()) {
      await run(
        'kcat',
        ['-P', '-b', kafka.brokers.join(','), '-t', topic, '-K', '\t', '-l', join(dir, `t${i}.tsv`)],
        {
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    }
    process.stderr.write(
      `kafka: ${records} records on ${TOPICS.join(',')} (4 partitions each) of the mock cluster\n`,
    );
    const ours: number[] = [];
    /** records/s from the group join (consume's "joined group" line) to the end. */
    const afterJoin: number[] = [];
    const ref: number[] = [];
    let peakRss = 0;
    for (let i = 0; i < pairs; i++) {
      ours.push(
        records /
          (await onFreshRedis(totals, async (url) => {
            let out = '';
            let joinedAt: number | undefined;
            const began = performance.now();
            const seconds = await timed(async () => {
              const child = spawn(
                process.execPath,
                [
                  ...cliFlags,
                  cli,
                  'consume',
                  ...[
                    '--brokers',
                    kafka.brokers.join(','),
                    '--topic',
                    TOPICS.join(','),
                    '--group',
                    `bench-${i}`,
                  ],
                  ...['--redis', url, '--key', 'clicks:{page}', '--model', 'counter', '--by', 'n'],
                  ...['--from-beginning', '--exit-when-idle', '0', '--json', '--no-progress'],
                  ...['--session-timeout', '6000', '--heartbeat-interval', '1000'],
                ],
                { stdio: ['ignore', 'pipe', 'pipe'] },
              );
              child.stdout.on('data', (d: Buffer) => (out += d.toString()));
              child.stderr.on('data', (d: Buffer) => {
                if (joinedAt === undefined && d.toString().includes('joined group'))
                  joinedAt = performance.now();
              });
              const [code] = await once(child, 'close');
              if (code !== 0) throw new Error(`consume exited with ${code}: ${out}`);
            });
            const summary = JSON.parse(out) as { counts: { applied: number }; peakRssBytes: number };
            if (summary.counts.applied !== records)
              throw new Error(`consume applied ${summary.counts.applied}`);
            peakRss = Math.max(peakRss, summary.peakRssBytes);
            if (joinedAt === undefined) throw new Error('consume never said it joined the group');
            afterJoin.push(records / (seconds - (joinedAt - began) / 1000));
            return seconds;
          })),
      );
      ref.push(
        records /
          (await onFreshRedis(totals, (_url, port) =>
            timed(() =>
              run('sh', [
                '-c',
                `( ${TOPICS.map((t) => `kcat -C -b ${kafka.brokers.join(',')} -t ${t} -o beginning -e -q -f '%s\\n'`).join('; ')} ) | awk '${AWK}' | redis-cli -p ${port} --pipe > /dev/null`,
              ]),
            ),
          )),
      );
      process.stderr.write(
        `  pair ${i + 1}: consume ${Math.round(ours[i]!)} (after the join ${Math.round(afterJoin[i]!)}), kcat-pipe ${Math.round(ref[i]!)} records/s\n`,
      );
    }
    const rps = median(ours);
    const refRps = median(ref);
    const ratio = median(ours.map((o, i) => o / ref[i]!));
    const joinRps = median(afterJoin);
    const joinRatio = median(afterJoin.map((o, i) => o / ref[i]!));
    const mib = (peakRss / 2 ** 20).toFixed(0);
    console.log(`kafka (counter model, ${records} records, 4 topics x 4 partitions, median of ${pairs})`);
    console.log(
      `  consume (exactly-once effect, replies checked)  ${Math.round(rps)} records/s  (target >= 100000)`,
    );
    console.log(`  kcat | awk | redis-cli --pipe (unchecked)       ${Math.round(refRps)} records/s`);
    console.log(`  ratio                                           ${ratio.toFixed(2)}  (target >= 1.0)`);
    console.log(`  consume after the group join                    ${Math.round(joinRps)} records/s`);
    console.log(`  ratio after the join                            ${joinRatio.toFixed(2)}`);
    console.log(`  consume peak RSS                                ${mib} MiB  (budget < 300 MiB)`);
    return [
      `BENCH case=kafka-consume records=${records} rps=${Math.round(rps)} ref=kcat-pipe ref_rps=${Math.round(refRps)} ratio=${ratio.toFixed(2)} rps_after_join=${Math.round(joinRps)} ratio_after_join=${joinRatio.toFixed(2)} peak_rss_mib=${mib}`,
    ];
  } finally {
    await kafka.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
