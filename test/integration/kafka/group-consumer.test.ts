import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseConsumerSpec } from '../../../shared/config/index.js';
import { createConsumer, runGroupConsumer } from '../../../shared/kafka/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { memoryDeadLetters } from '../../support/kafka-messages.js';
import {
  committedOffsets,
  highWatermarks,
  produce,
  type TestMessage,
  useKafkaMock,
} from '../../support/kafka-mock.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

vi.setConfig({ maxConcurrency: 4 });

const TUNING = { sessionTimeout: 4000, rebalanceTimeout: 4000, heartbeatInterval: 500, maxWaitTimeInMs: 100 };
const kafka = useKafkaMock();
const redis = useRedis();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function counterRecords(count: number, keys: number) {
  const messages: TestMessage[] = [];
  const totals = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const id = String(i % keys);
    const n = (i % 5) + 1;
    totals.set(id, (totals.get(id) ?? 0) + n);
    messages.push({ key: id, value: JSON.stringify({ id, n }) });
  }
  return { messages, totals };
}

async function readCounters(prefix: string, ids: Iterable<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of ids) {
    const v = await redisCli(redis.server.port, 'GET', `${prefix}c:${id}`);
    out.set(id, v === '' ? 0 : Number(v));
  }
  return out;
}

function engine(prefix: string, group: string) {
  const target = new TcpTarget(redis.server.url);
  targets.push(target);
  return createConsumer({
    spec: parseConsumerSpec({ key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' } }),
    group,
    watermarkPrefix: `${prefix}wm:`,
    targets: [target],
    deadLetters: memoryDeadLetters(),
  });
}

describe.concurrent('runGroupConsumer (kafkajs group on the mock cluster)', () => {
  it('consumes from the beginning, commits up to the high watermarks and stops when idle', async () => {
    const p = randomPrefix();
    const topic = `${p}counters`;
    const { messages, totals } = counterRecords(5_000, 23);
    await produce(kafka.mock.brokers, topic, messages);

    const summary = await runGroupConsumer({
      brokers: kafka.mock.brokers,
      topics: [topic],
      groupId: `${p}g`,
      engine: engine(p, `${p}g`),
      fromBeginning: true,
      exitWhenIdleMs: 0,
      tuning: TUNING,
    });
    expect(summary.stoppedBy).toBe('idle');
    expect(summary.counts).toEqual({
      received: 5000,
      applied: 5000,
      duplicate: 0,
      deadLettered: 0,
      failed: 0,
    });
    expect(await readCounters(p, totals.keys())).toEqual(totals);
    expect(await committedOffsets(kafka.mock.brokers, `${p}g`, topic)).toEqual(
      await highWatermarks(kafka.mock.brokers, topic),
    );
  });

  it('a second group id over the same watermark group skips everything as duplicates', async () => {
    const p = randomPrefix();
    const topic = `${p}counters`;
    const { messages, totals } = counterRecords(2_000, 11);
    await produce(kafka.mock.brokers, topic, messages);
    const run = (kafkaGroup: string) =>
      runGroupConsumer({
        brokers: kafka.mock.brokers,
        topics: [topic],
        groupId: kafkaGroup,
        engine: engine(p, 'shared-watermarks'),
        fromBeginning: true,
        exitWhenIdleMs: 0,
        tuning: TUNING,
      });
    expect((await run(`${p}first`)).counts.applied).toBe(2000);
    const again = await run(`${p}second`);
    expect(again.counts).toMatchObject({ received: 2000, applied: 0, duplicate: 2000 });
    expect(await readCounters(p, totals.keys())).toEqual(totals);
  });
});
