/**
 * `npm run bench -- kafka-lambda`: the kafka-consumer handler in-process on Lambda-shaped MSK events of
 * 10,000 ~100-byte JSON records (hash model, `user:{id}`), against a fresh redis-server per run, with
 * watermarks (exactly-once effect) and without (at-least-once), alternating A B A B. The reference is
 * `redis-cli --pipe` of the same `HSET`s generated before timing: the ceiling of one connection, which
 * decodes nothing and checks nothing. Then the handler's peak RSS on one 6 MB event (Lambda's payload
 * limit) in a fresh process.
 *
 *   npm run bench -- kafka-lambda [--records N] [--pairs P]
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Context } from 'aws-lambda';
import { startLocalRedis } from '../cli/local-redis.js';
import type { KafkaEvent } from '../functions/kafka-consumer/event.js';
import { consumerRuntime, createConsumerHandler } from '../functions/kafka-consumer/handler.js';
import { encodeCommands, TcpTarget } from '../shared/redis/index.js';
import { median } from './support.js';

const run = promisify(execFile);
const TOPIC = 'profiles';
const PARTITIONS = 4;
const BATCH = 10_000;
const NAMES = ['ada', 'grace', 'linus', 'barbara', 'ken', 'margaret', 'dennis', 'frances'];

/** Record `i`: about 100 bytes of JSON, ids repeating every 200 k so later records update earlier keys. */
function record(i: number): { id: string; value: string } {
  const id = `u${String(i % 200_000).padStart(7, '0')}`;
  const value = JSON.stringify({
    id,
    name: NAMES[i % NAMES.length],
    plan: i % 3 === 0 ? 'pro' : 'free',
    score: (i * 7919) % 100_000,
    updated: 1_764_000_000 + i,
  });
  return { id, value };
}

/** The MSK events of `records` records: batches of `BATCH`, round robin over the partitions. */
function events(records: number): KafkaEvent[] {
  const out: KafkaEvent[] = [];
  const next = new Array<number>(PARTITIONS).fill(0);
  for (let start = 0; start < records; start += BATCH) {
    const byKey: Record<string, unknown[]> = {};
    for (let i = start; i < Math.min(records, start + BATCH); i++) {
      const partition = i % PARTITIONS;
      const { id, value } = record(i);
      (byKey[`${TOPIC}-${partition}`] ??= []).push({
        topic: TOPIC,
        partition,
        offset: next[partition]!++,
        timestamp: 1_764_000_000_000 + i,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(id).toString('base64'),
        value: Buffer.from(value).toString('base64'),
        headers: [{ traceparent: [...Buffer.from(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`)] }],
      });
    }
    out.push({
      eventSource: 'aws:kafka',
      eventSourceArn:
        'arn:aws:kafka:eu-west-1:123456789012:cluster/bench/0f0f0f0f-0000-1111-2222-333333333333-1',
      bootstrapServers: 'b-1.bench.kafka.eu-west-1.amazonaws.com:9092',
      records: byKey,
    } as KafkaEvent);
  }
  return out;
}

const SPEC = (watermarks: boolean) =>
  JSON.stringify({
    key: 'user:{id}',
    model: { type: 'hash', fields: ['name', 'plan', 'score', 'updated'] },
    watermarks,
  });

/** The `HSET`s the hash model sends, as RESP, for the reference. */
async function respFile(path: string, records: number): Promise<void> {
  const out = createWriteStream(path);
  for (let start = 0; start < records; start += BATCH) {
    const cmds = [];
    for (let i = start; i < Math.min(records, start + BATCH); i++) {
      const { id, value } = record(i);
      const v = JSON.parse(value) as Record<string, string | number>;
      cmds.push({
        args: [
          'HSET',
          `user:${id}`,
          'name',
          String(v.name),
          'plan',
          String(v.plan),
          'score',
          String(v.score),
          'updated',
          String(v.updated),
        ],
      });
    }
    if (!out.write(encodeCommands(cmds))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** A fresh redis-server; `work` returns seconds; the key count is checked against `keys`. */
async function onFreshRedis(
  keys: number,
  work: (url: string, port: number) => Promise<number>,
): Promise<number> {
  const redis = await startLocalRedis();
  const target = new TcpTarget(redis.url);
  try {
    const seconds = await work(redis.url, redis.port);
    const [dbsize] = await target.exec([{ args: ['DBSIZE'] }]);
    // The watermark keys (one per partition) come on top of the records' keys.
    if (typeof dbsize !== 'number' || dbsize < keys || dbsize > keys + PARTITIONS)
      throw new Error(`expected ${keys} keys, found ${String(dbsize)}`);
    const [name] = await target.exec([{ args: ['HGET', 'user:u0000007', 'name'] }]);
    if (typeof name !== 'string') throw new Error('user:u0000007 was not written');
    return seconds;
  } finally {
    await target.close();
    await redis.stop();
  }
}

async function handlerRun(url: string, batches: readonly KafkaEvent[], watermarks: boolean): Promise<number> {
  const runtime = await consumerRuntime({
    REDIS_URL: url,
    CONSUMER_GROUP_ID: 'bench',
    CONSUMER_SPEC: SPEC(watermarks),
  });
  const handler = createConsumerHandler(() => runtime);
  const log = console.log;
  console.log = () => {}; // the handler's one info line per batch
  try {
    const t = performance.now();
    for (const event of batches) {
      const reply = await handler(event, undefined as unknown as Context);
      if (reply.batchItemFailures.length > 0) throw new Error(`batch failed: ${JSON.stringify(reply)}`);
    }
    return (performance.now() - t) / 1000;
  } finally {
    console.log = log;
    await (await runtime.consumerFor(batches[0]!)).close();
  }
}

/** In a child process: one ~6 MB event through a cold handler; prints the peak RSS in bytes. */
async function rssChild(url: string): Promise<void> {
  // As many records as fit in 6 MB of event JSON (Lambda's invocation payload limit).
  const perRecord = Buffer.byteLength(JSON.stringify(events(1_000)[0]!.records)) / 1_000;
  const one = events(Math.floor(6_000_000 / perRecord));
  const merged: KafkaEvent = { ...one[0]!, records: {} } as KafkaEvent;
  for (const e of one)
    for (const [k, list] of Object.entries(e.records)) (merged.records[k] ??= []).push(...list);
  const bytes = Buffer.byteLength(JSON.stringify(merged));
  await handlerRun(url, [merged], true);
  process.stdout.write(JSON.stringify({ eventBytes: bytes, maxRss: process.resourceUsage().maxRSS * 1024 }));
}

export async function kafkaLambdaBench(options: { records: number; pairs: number }): Promise<string[]> {
  const { records, pairs } = options;
  const keys = Math.min(records, 200_000);
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-kafka-'));
  try {
    const batches = events(records);
    const resp = join(dir, 'hset.resp');
    await respFile(resp, records);
    const { stdout: version } = await run('redis-server', ['--version']);
    process.stderr.write(
      `kafka-lambda: ${records} records in ${batches.length} events of ${BATCH}; ${version.trim()}\n`,
    );
    const withWm: number[] = [];
    const without: number[] = [];
    const ref: number[] = [];
    for (let i = 0; i < pairs; i++) {
      withWm.push(records / (await onFreshRedis(keys, (url) => handlerRun(url, batches, true))));
      without.push(records / (await onFreshRedis(keys, (url) => handlerRun(url, batches, false))));
      ref.push(
        records /
          (await onFreshRedis(keys, async (_url, port) => {
            const t = performance.now();
            await run('sh', ['-c', `redis-cli -p ${port} --pipe < "${resp}" > /dev/null`]);
            return (performance.now() - t) / 1000;
          })),
      );
      process.stderr.write(
        `  pair ${i + 1}: watermarks ${Math.round(withWm[i]!)}, none ${Math.round(without[i]!)}, pipe ${Math.round(ref[i]!)} records/s\n`,
      );
    }
    const rps = median(withWm);
    const rpsPlain = median(without);
    const overhead = median(withWm.map((w, i) => 1 - w / without[i]!)) * 100;
    const ratio = median(withWm.map((w, i) => w / ref[i]!));

    const redis = await startLocalRedis();
    let rss: { eventBytes: number; maxRss: number };
    try {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--rss-child', redis.url], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const [code] = await once(child, 'exit');
      if (code !== 0) throw new Error(`rss child exited with ${code}`);
      rss = JSON.parse(out) as { eventBytes: number; maxRss: number };
    } finally {
      await redis.stop();
    }
    const mib = (n: number) => (n / 2 ** 20).toFixed(0);
    console.log(`kafka-lambda (hash model, ${BATCH}-record events, ${records} records, median of ${pairs})`);
    console.log(`  with watermarks     ${Math.round(rps)} records/s   (target >= 150000)`);
    console.log(`  without watermarks  ${Math.round(rpsPlain)} records/s`);
    console.log(`  watermark overhead  ${overhead.toFixed(1)} %          (target <= 10 %)`);
    console.log(
      `  redis-cli --pipe    ${Math.round(median(ref))} records/s (same HSETs, pre-encoded: ceiling)`,
    );
    console.log(`  ratio to pipe       ${ratio.toFixed(2)}`);
    console.log(
      `  peak RSS, one ${(rss.eventBytes / 1e6).toFixed(1)} MB event: ${mib(rss.maxRss)} MiB (budget < 256 MiB)`,
    );
    return [
      `BENCH case=kafka-lambda records=${records} batch=${BATCH} rps=${Math.round(rps)} rps_no_watermarks=${Math.round(rpsPlain)} watermark_overhead_pct=${overhead.toFixed(1)} ref=pipe ref_rps=${Math.round(median(ref))} ratio=${ratio.toFixed(2)} event_mb=${(rss.eventBytes / 1e6).toFixed(1)} peak_rss_mib=${mib(rss.maxRss)}`,
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--rss-child') await rssChild(process.argv[3]!);
