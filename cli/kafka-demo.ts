import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Context } from 'aws-lambda';
import type { KafkaEvent } from '../functions/kafka-consumer/event.js';
import { consumerRuntime, createConsumerHandler } from '../functions/kafka-consumer/handler.js';
import { parseConsumerSpec } from '../shared/config/index.js';
import {
  createConsumer,
  createKafkaDeadLetterSink,
  DEAD_LETTER_HEADERS,
  runGroupConsumer,
} from '../shared/kafka/index.js';
import { TcpTarget } from '../shared/redis/index.js';
import { duration, int } from './format.js';
import { startLocalRedis } from './local-redis.js';
import { type KafkaEvent as MappingEvent, startKafkaMapping } from './local-stack/kafka-mapping.js';
import { startKafkaMock } from './local-stack/local-kafka.js';

const run = promisify(execFile);

/** Options of {@link runKafkaDemo}. */
export interface KafkaDemoOptions {
  /** Records produced in all (half per path). */
  records: number;
  log: (line: string) => void;
}

const PAGES = 1_000;
/**
 * Topics per path: librdkafka's mock keeps only about the newest 140 k records of a partition (measured: of
 * 250 k produced, the earliest offset left was 100–108 k), so 1 M records are spread over 4 topics of 4
 * partitions per path.
 */
const TOPICS = 4;
/** One record in this many is poison: bad JSON, or an amount that is not an integer. */
const POISON_EVERY = 5_000;
/** The mock makes a member joining a group wait; a short session keeps the waits short. */
const TUNING = {
  sessionTimeout: 6000,
  rebalanceTimeout: 6000,
  heartbeatInterval: 1000,
  maxWaitTimeInMs: 200,
};

/**
 * Writes `count` click records as `key<TAB>value` lines for `kcat -P -K '\t'` and returns the totals per page
 * that Redis must end with: the poison records add nothing.
 */
async function writeRecords(path: string, count: number, seed: number) {
  const totals = new Map<string, number>();
  const out = createWriteStream(path);
  let poison = 0;
  for (let i = 0; i < count; i++) {
    const page = `p${(i * 7919 + seed) % PAGES}`;
    const n = ((i * 31 + seed) % 9) + 1;
    let value: string;
    if (i % POISON_EVERY === POISON_EVERY - 1) {
      poison++;
      value =
        i % (2 * POISON_EVERY) === POISON_EVERY - 1
          ? `{"page":"${page}","n":`
          : `{"page":"${page}","n":${n}.5}`;
    } else {
      totals.set(page, (totals.get(page) ?? 0) + n);
      value = `{"page":"${page}","n":${n}}`;
    }
    if (!out.write(`${page}\t${value}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { totals, poison };
}

async function produceFile(brokers: readonly string[], topic: string, file: string): Promise<void> {
  const child = spawn('kcat', ['-P', '-b', brokers.join(','), '-t', topic, '-K', '\t', '-l', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`kcat -P ${topic} failed (exit ${code}): ${err.slice(-500)}`);
}

/** Dead letters of `topic` by reason (kcat, no consumer group). */
async function deadLetterReasons(brokers: readonly string[], topic: string): Promise<Map<string, number>> {
  const { stdout } = await run(
    'kcat',
    ['-b', brokers.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q'],
    {
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const reasons = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const headers = (JSON.parse(line) as { headers?: string[] }).headers ?? [];
    const reason = headers[headers.indexOf(DEAD_LETTER_HEADERS.reason) + 1] ?? 'unknown';
    // "value is not valid JSON: Unexpected end of JSON input" and the like: the part before the details.
    const kind = reason.replace(/:.*$/, '').replace(/'[^']*'/g, "'…'");
    reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
  }
  return reasons;
}

/**
 * The Kafka demo: a redis-server and librdkafka's mock cluster (kcat) on loopback ports, `records` click
 * counters (some poison) on two topics; one topic through the Lambda path (the local event-source mapping
 * invoking the real kafka-consumer handler, with every fifth response lost so batches come again), the other
 * through the standalone consumer (then replayed from the beginning in a new Kafka group); dead letters to a
 * topic. Prints what was applied, skipped and dead-lettered, and checks the counters in Redis against what was
 * produced. Returns the exit code: 0 when every total is exact.
 */
export async function runKafkaDemo(options: KafkaDemoOptions): Promise<number> {
  const { log } = options;
  const dir = await mkdtemp(join(tmpdir(), 'rbl-kafka-demo-'));
  const redis = await startLocalRedis();
  const kafka = await startKafkaMock().catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  const target = new TcpTarget(redis.url);
  try {
    log(
      `redis-server ${redis.url} (pid ${redis.pid}); Kafka mock cluster ${kafka.brokers.join(',')} (kcat pid ${kafka.pid})`,
    );
    const half = Math.floor(options.records / 2);
    const topics = (path: string) => Array.from({ length: TOPICS }, (_, i) => `clicks-${path}-${i}`);
    const produceAll = async (path: string, count: number, seed: number) => {
      const totals = new Map<string, number>();
      let poison = 0;
      for (const [i, topic] of topics(path).entries()) {
        const file = join(dir, `${topic}.tsv`);
        const share = Math.floor(count / TOPICS) + (i < count % TOPICS ? 1 : 0);
        const data = await writeRecords(file, share, seed + i * 17);
        for (const [page, n] of data.totals) totals.set(page, (totals.get(page) ?? 0) + n);
        poison += data.poison;
        await produceFile(kafka.brokers, topic, file);
      }
      return { totals, poison };
    };
    let t = Date.now();
    const lambdaData = await produceAll('lambda', half, 1);
    const consumeData = await produceAll('consume', options.records - half, 2);
    log(
      `produced ${int(options.records)} click records to clicks-lambda-0..${TOPICS - 1} and clicks-consume-0..${TOPICS - 1} ` +
        `in ${duration(Date.now() - t)} (${int(lambdaData.poison + consumeData.poison)} poison: bad JSON or a fractional amount)\n`,
    );

    // 1. The Lambda path: the local event-source mapping invokes the real handler.
    const runtime = await consumerRuntime({
      REDIS_URL: redis.url,
      CONSUMER_GROUP_ID: 'clicks-lambda-mapping',
      CONSUMER_SPEC: JSON.stringify({ key: 'lambda:clicks:{page}', model: { type: 'counter', by: 'n' } }),
      DEAD_LETTER_TOPIC: 'clicks.dlq',
      KAFKA_BROKERS: kafka.brokers.join(','),
    });
    const handler = createConsumerHandler(() => runtime);
    let invocations = 0;
    let lost = 0;
    const quiet = console.log;
    console.log = () => {}; // the handler's one info line per batch
    t = Date.now();
    try {
      const mapping = await startKafkaMapping({
        brokers: kafka.brokers,
        topics: topics('lambda'),
        groupId: 'clicks-lambda-mapping',
        fromBeginning: true,
        batchSize: 10_000,
        retryDelayMs: 0,
        consumer: TUNING,
        handler: async (event: MappingEvent) => {
          const reply = await handler(event as KafkaEvent, undefined as unknown as Context);
          // Every fifth invocation "dies" after its writes, before answering: the batch comes again.
          if (++invocations % 5 === 0) {
            lost++;
            throw new Error('function instance died after its Redis writes');
          }
          return reply;
        },
      });
      await mapping.waitForIdle({ timeoutMs: 600_000 });
      await mapping.stop();
      log(
        `Lambda path (local event-source mapping → kafka-consumer handler): ${int(half)} records in ` +
          `${duration(Date.now() - t)}, ${int(invocations)} invocations, ${int(lost)} responses lost and their batches delivered again`,
      );
    } finally {
      console.log = quiet;
      await (
        await runtime.consumerFor({ eventSource: 'SelfManagedKafka', records: {} } as KafkaEvent)
      ).close();
    }

    // 2. The standalone consumer, then the same topic again from the beginning in a new Kafka group.
    const consumeTarget = new TcpTarget(redis.url);
    const deadLetters = createKafkaDeadLetterSink({ brokers: kafka.brokers, topic: 'clicks.dlq' });
    const engine = createConsumer({
      spec: parseConsumerSpec({ key: 'consume:clicks:{page}', model: { type: 'counter', by: 'n' } }),
      group: 'clicks-consume',
      targets: [consumeTarget],
      deadLetters,
    });
    try {
      for (const [round, groupId] of [
        ['first run', 'clicks-consume'],
        ['replay from the beginning in a new Kafka group (offsets lost)', 'clicks-consume-replay'],
      ] as const) {
        t = Date.now();
        const summary = await runGroupConsumer({
          brokers: kafka.brokers,
          topics: topics('consume'),
          groupId,
          engine,
          fromBeginning: true,
          exitWhenIdleMs: 500,
          tuning: TUNING,
        });
        if (summary.error) throw summary.error;
        const c = summary.counts;
        log(
          `consume, ${round}: ${int(c.received)} records in ${duration(Date.now() - t)}: applied ${int(c.applied)}, ` +
            `duplicates skipped ${int(c.duplicate)}, dead letters ${int(c.deadLettered)}`,
        );
      }
    } finally {
      await engine.close();
    }

    // 3. What Redis holds, against what was produced.
    const check = async (prefix: string, totals: Map<string, number>) => {
      const pages = [...totals.keys()];
      const replies = await target.exec([{ args: ['MGET', ...pages.map((p) => `${prefix}${p}`)] }]);
      const values = replies[0] as (string | null)[];
      return pages.filter((p, i) => Number(values[i] ?? 0) !== totals.get(p)).length;
    };
    const wrongLambda = await check('lambda:clicks:', lambdaData.totals);
    const wrongConsume = await check('consume:clicks:', consumeData.totals);
    const reasons = await deadLetterReasons(kafka.brokers, 'clicks.dlq');
    log('\ndead letters in clicks.dlq, by reason:');
    for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1]))
      log(`  ${int(n).padStart(6)}  ${reason}`);
    const letters = [...reasons.values()].reduce((a, b) => a + b, 0);
    log(
      `\ncounter totals: ${wrongLambda === 0 ? 'exact' : `${wrongLambda} pages WRONG`} on the Lambda path, ` +
        `${wrongConsume === 0 ? 'exact' : `${wrongConsume} pages WRONG`} with consume ` +
        `(${int(PAGES)} pages each, every record applied once despite ${int(lost)} lost responses and a full replay)`,
    );
    log(
      `dead letters: ${int(letters)} (produced ${int(lambdaData.poison + consumeData.poison)} poison records; a lost ` +
        "response sends its batch's dead letters again: dead letters are at least once)",
    );
    return wrongLambda === 0 && wrongConsume === 0 ? 0 : 1;
  } finally {
    await target.close();
    await kafka.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
