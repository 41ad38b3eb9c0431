import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, it, vi } from 'vitest';
import type { Context } from 'aws-lambda';
import {
  type KafkaEvent as MappingEvent,
  type KafkaMapping,
  type KafkaMappingOptions,
  startKafkaMapping,
} from '../../cli/local-stack/kafka-mapping.js';
import { consumerRuntime, createConsumerHandler } from '../../functions/kafka-consumer/handler.js';
import type { KafkaEvent } from '../../functions/kafka-consumer/event.js';
import { DEAD_LETTER_HEADERS } from '../../shared/kafka/index.js';
import { randomPrefix } from '../support/files.js';
import {
  committedOffsets,
  highWatermarks,
  produce,
  type TestMessage,
  until,
  useKafkaMock,
} from '../support/kafka-mock.js';
import { redisCli, useRedis } from '../support/redis-server.js';

/**
 * The Lambda path end to end: librdkafka's mock cluster, the local event-source mapping (kafkajs, Lambda's
 * event shape, `batchItemFailures` honoured), the real kafka-consumer handler built from its environment, a
 * real redis-server, and the dead-letter topic read back with `kcat`, independent of our code.
 */

vi.setConfig({ maxConcurrency: 4 });

const TUNING = { sessionTimeout: 4000, rebalanceTimeout: 4000, heartbeatInterval: 500, maxWaitTimeInMs: 100 };
const kafka = useKafkaMock();
const redis = useRedis();
const mappings: KafkaMapping[] = [];
afterAll(async () => {
  await Promise.all(mappings.map((m) => m.stop()));
});

type Handler = KafkaMappingOptions['handler'];

async function startMapping(options: Omit<KafkaMappingOptions, 'brokers'>): Promise<KafkaMapping> {
  const mapping = await startKafkaMapping({
    brokers: kafka.mock.brokers,
    consumer: TUNING,
    fromBeginning: true,
    retryDelayMs: 0,
    ...options,
  });
  mappings.push(mapping);
  return mapping;
}

/** The real handler over a runtime built from `env`, as the mapping calls it (no Lambda context). */
async function lambdaHandler(env: Record<string, string>): Promise<Handler> {
  const runtime = await consumerRuntime({ REDIS_URL: redis.server.url, ...env });
  const handler = createConsumerHandler(() => runtime);
  return (event: MappingEvent) => handler(event as KafkaEvent, undefined as unknown as Context);
}

/** Waits until `groupId` has committed every partition of `topic` up to its high watermark. */
async function caughtUp(groupId: string, topic: string, timeoutMs = 30_000): Promise<void> {
  await until(
    `${groupId} caught up on ${topic}`,
    async () => {
      const [high, committed] = await Promise.all([
        highWatermarks(kafka.mock.brokers, topic),
        committedOffsets(kafka.mock.brokers, groupId, topic),
      ]);
      return [...high].every(([p, h]) => h === 0 || committed.get(p) === h);
    },
    timeoutMs,
  );
}

/** A key per partition-key string of the event and the first offset of each: identifies a delivery. */
const deliveryId = (event: MappingEvent): string =>
  Object.entries(event.records)
    .map(([k, records]) => `${k}@${records[0]?.offset}`)
    .sort()
    .join(',');

interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

/** Every message of `topic`, read by kcat without a consumer group (`-J`: one JSON object per line). */
async function kcatRead(topic: string): Promise<KcatMessage[]> {
  const { stdout } = await promisify(execFile)(
    'kcat',
    ['-b', kafka.mock.brokers.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as KcatMessage);
}

/** kcat's `headers` list `[name, value, name, value, …]` as an object (the last value of a name wins). */
function headerObject(headers: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < headers.length; i += 2) out[headers[i]!] = headers[i + 1]!;
  return out;
}

describe.concurrent('kafka-consumer behind the local event-source mapping', () => {
  it('keeps INCRBY totals exact when every batch is applied, the response lost, and the batch delivered again', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}counters`;
    const messages: TestMessage[] = [];
    const totals = new Map<string, number>();
    for (let i = 0; i < 3_000; i++) {
      const id = String(i % 37);
      const n = (i % 5) + 1;
      totals.set(id, (totals.get(id) ?? 0) + n);
      messages.push({ key: id, value: JSON.stringify({ id, n }) });
    }
    await produce(kafka.mock.brokers, topic, messages);

    const env = {
      CONSUMER_GROUP_ID: `${p}group`,
      WATERMARK_PREFIX: `${p}wm:`,
      CONSUMER_SPEC: JSON.stringify({ key: `${p}c:{id}`, model: { type: 'counter', by: 'n' } }),
    };
    const real = await lambdaHandler(env);
    // Lambda's worst case: the writes land, then the function dies before it answers; the batch comes again.
    const answered = new Set<string>();
    let lost = 0;
    const crashing: Handler = async (event) => {
      const reply = await real(event);
      const id = deliveryId(event);
      if (!answered.has(id)) {
        answered.add(id);
        lost++;
        throw new Error('function instance died after its Redis writes');
      }
      return reply;
    };
    await startMapping({ topics: [topic], groupId: `${p}mapping`, handler: crashing, batchSize: 250 });
    await caughtUp(`${p}mapping`, topic);
    expect(lost).toBeGreaterThanOrEqual(12); // 3000 records in batches of at most 250: every one lost once

    const read = async () => {
      const ids = [...totals.keys()];
      const values = (await redisCli(redis.server.port, 'MGET', ...ids.map((id) => `${p}c:${id}`))).split(
        '\n',
      );
      return new Map(ids.map((id, i) => [id, Number(values[i])]));
    };
    expect(await read()).toEqual(totals);

    // Offsets lost (a new mapping, so a new Kafka group, from the beginning): the same consumer group's
    // watermarks skip every record, and the totals stay.
    const again = await lambdaHandler(env);
    await startMapping({ topics: [topic], groupId: `${p}replay`, handler: again, batchSize: 1000 });
    await caughtUp(`${p}replay`, topic);
    expect(await read()).toEqual(totals);
  });

  it('sends bad JSON, a missing field, an oversized record and WRONGTYPE to the dead-letter topic with headers and reason, and applies what follows', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}profiles`;
    const dlq = `${p}profiles.dlq`;
    await redisCli(redis.server.port, 'SET', `${p}user:wrong`, 'a string, not a hash');
    const trace = (n: number) => `00-${String(n).padStart(32, '0')}-00f067aa0ba902b7-01`;
    const poison: Record<string, { value: string; errorClass: string; reason: RegExp }> = {
      'bad-json': { value: '{"id": "x1", "name": ', errorClass: 'InputError', reason: /JSON/i },
      'no-id': { value: JSON.stringify({ name: 'nobody' }), errorClass: 'InputError', reason: /id/ },
      huge: {
        value: JSON.stringify({ id: 'huge', name: 'x'.repeat(3000) }),
        errorClass: 'InputError',
        reason: /bytes|long|size/i,
      },
      wrong: {
        value: JSON.stringify({ id: 'wrong', name: 'w' }),
        errorClass: 'InputError',
        reason: /WRONGTYPE/,
      },
    };
    // All on partition 0, each between good records: what follows a poison record must still be applied.
    const messages: TestMessage[] = [];
    let n = 0;
    for (const [name, bad] of Object.entries(poison)) {
      messages.push({
        partition: 0,
        key: `k${n}`,
        value: JSON.stringify({ id: `ok${n}`, name: `before ${name}` }),
      });
      n++;
      messages.push({
        partition: 0,
        key: name,
        value: bad.value,
        headers: { traceparent: trace(n), origin: name },
      });
      n++;
    }
    messages.push({ partition: 0, key: 'last', value: JSON.stringify({ id: 'last', name: 'after all' }) });
    await produce(kafka.mock.brokers, topic, messages);

    const handler = await lambdaHandler({
      CONSUMER_GROUP_ID: `${p}group`,
      WATERMARK_PREFIX: `${p}wm:`,
      CONSUMER_SPEC: JSON.stringify({
        key: `${p}user:{id}`,
        model: { type: 'hash', fields: ['name'] },
        limits: { maxValueBytes: 1024 },
      }),
      DEAD_LETTER_TOPIC: dlq,
      KAFKA_BROKERS: kafka.mock.brokers.join(','),
    });
    await startMapping({ topics: [topic], groupId: `${p}mapping`, handler, batchSize: 3 });
    await caughtUp(`${p}mapping`, topic);

    for (const id of ['ok0', 'ok2', 'ok4', 'ok6', 'last']) {
      expect(await redisCli(redis.server.port, 'EXISTS', `${p}user:${id}`), id).toBe('1');
    }
    expect(await redisCli(redis.server.port, 'HGET', `${p}user:last`, 'name')).toBe('after all');
    expect(await redisCli(redis.server.port, 'GET', `${p}user:wrong`)).toBe('a string, not a hash');

    const letters = await kcatRead(dlq);
    expect(letters.map((l) => l.key).sort()).toEqual(Object.keys(poison).sort());
    for (const letter of letters) {
      const bad = poison[letter.key!]!;
      const h = headerObject(letter.headers);
      expect(letter.payload, letter.key!).toBe(bad.value);
      expect(h, letter.key!).toMatchObject({
        origin: letter.key,
        traceparent: expect.stringMatching(/^00-/),
        [DEAD_LETTER_HEADERS.topic]: topic,
        [DEAD_LETTER_HEADERS.partition]: '0',
        [DEAD_LETTER_HEADERS.errorClass]: bad.errorClass,
        [DEAD_LETTER_HEADERS.traceId]: h.traceparent?.split('-')[1],
      });
      expect(h[DEAD_LETTER_HEADERS.reason], letter.key!).toMatch(bad.reason);
      expect(Number(h[DEAD_LETTER_HEADERS.offset]), letter.key!).toBe(
        Object.keys(poison).indexOf(letter.key!) * 2 + 1,
      );
    }
  });
});
