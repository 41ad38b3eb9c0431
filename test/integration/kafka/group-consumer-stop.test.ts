import { afterAll, describe, expect, it } from 'vitest';
import { parseConsumerSpec } from '../../../shared/config/index.js';
import { createConsumer, runGroupConsumer } from '../../../shared/kafka/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { memoryDeadLetters } from '../../support/kafka-messages.js';
import { produce, type TestMessage, until, useKafkaMock } from '../../support/kafka-mock.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

// A cluster of its own: this file freezes it with SIGSTOP.
const kafka = useKafkaMock();
const redis = useRedis();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

describe('runGroupConsumer stopping against a broker that stopped answering', () => {
  it('returns within its shutdown deadline with the applied records kept, instead of waiting on Kafka', async () => {
    const p = randomPrefix();
    const topic = `${p}counters`;
    const messages: TestMessage[] = [];
    for (let i = 0; i < 1000; i++)
      messages.push({ key: String(i % 7), value: JSON.stringify({ id: i % 7, n: 1 }) });
    await produce(kafka.mock.brokers, topic, messages);

    const target = new TcpTarget(redis.server.url);
    targets.push(target);
    const engine = createConsumer({
      spec: parseConsumerSpec({ key: `${p}c:{id}`, model: { type: 'counter', by: 'n' } }),
      group: `${p}g`,
      watermarkPrefix: `${p}wm:`,
      targets: [target],
      deadLetters: memoryDeadLetters(),
    });
    const abort = new AbortController();
    let applied = 0;
    const run = runGroupConsumer({
      brokers: kafka.mock.brokers,
      topics: [topic],
      groupId: `${p}g`,
      engine,
      fromBeginning: true,
      signal: abort.signal,
      shutdownTimeoutMs: 3_000,
      tuning: { sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 },
      onProgress: (progress) => (applied = progress.counts.applied),
    });
    await until('all 1000 records applied', () => applied === 1000, 60_000);

    // The broker freezes (a partition, a hung host): every request to it now waits for its timeout.
    process.kill(kafka.mock.pid, 'SIGSTOP');
    try {
      const stopAsked = Date.now();
      abort.abort();
      const outcome = await Promise.race([
        run.then((summary) => ({ summary })),
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref()),
      ]);
      expect(outcome, 'runGroupConsumer still waiting on the frozen broker 20 s after the stop').not.toBe(
        'hung',
      );
      const { summary } = outcome as { summary: Awaited<typeof run> };
      expect(summary.stoppedBy).toBe('signal');
      expect(summary.counts).toMatchObject({ received: 1000, applied: 1000, failed: 0 });
      expect(Date.now() - stopAsked).toBeLessThan(15_000);
    } finally {
      process.kill(kafka.mock.pid, 'SIGCONT');
    }
    let total = 0;
    for (let id = 0; id < 7; id++) total += Number(await redisCli(redis.server.port, 'GET', `${p}c:${id}`));
    expect(total).toBe(1000);
  }, 90_000);
});
