import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConsumerSpec } from '../../../shared/config/index.js';
import { createConsumer } from '../../../shared/kafka/index.js';
import { TcpTarget, UpstashTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { counterMessages, counterTotals, memoryDeadLetters } from '../../support/kafka-messages.js';
import { useRedis } from '../../support/redis-server.js';
import { startUpstashBridge, type UpstashBridge } from '../../../cli/local-upstash.js';

// Kafka counters into Upstash: the watermark scripts go as EVAL over REST (the Upstash-compatible bridge in
// front of a real redis-server), and requests resent after a lost answer change nothing.
const redis = useRedis();
let bridge: UpstashBridge;
const closing: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  bridge = await startUpstashBridge({
    redisUrl: redis.server.url,
    // Every fourth request runs on Redis and then its answer is lost (HTTP 503): the target sends it again.
    fault: { status: 503, every: 4, afterExecute: true },
  });
});

afterAll(async () => {
  await Promise.all(closing.map((c) => c.close()));
  await bridge.stop();
});

describe('kafka counters into Upstash REST', () => {
  it('applies every batch once though each is delivered twice and some requests run twice', async () => {
    const prefix = randomPrefix();
    const upstash = new UpstashTarget(bridge.url, { token: bridge.token });
    closing.push(upstash);
    const consumer = createConsumer({
      spec: parseConsumerSpec({ key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' } }),
      group: 'g1',
      watermarkPrefix: `${prefix}wm:`,
      targets: [upstash],
      deadLetters: memoryDeadLetters(),
    });
    const batch = counterMessages(3_000);
    const first = await consumer.process(batch);
    // A unit whose answer was lost is sent again and then meets its own watermark: those records count as
    // duplicates of the first, unanswered, request.
    expect(first.counts).toMatchObject({ received: 3000, failed: 0, deadLettered: 0 });
    expect(first.counts.applied + first.counts.duplicate).toBe(3000);
    expect(first.counts.duplicate).toBeGreaterThan(0);
    const again = await consumer.process(batch);
    expect(again.counts).toMatchObject({ applied: 0, duplicate: 3000, failed: 0 });
    expect(bridge.stats.faults).toBeGreaterThan(0);

    const totals = counterTotals(batch);
    const reader = new TcpTarget(redis.server.url);
    closing.push(reader);
    const ids = [...totals.keys()];
    const [reply] = await reader.exec([{ args: ['MGET', ...ids.map((id) => `${prefix}c:${id}`)] }]);
    expect(new Map(ids.map((id, i) => [id, Number((reply as string[])[i])]))).toEqual(totals);
  });
});
