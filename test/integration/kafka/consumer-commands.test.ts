import { afterAll, describe, expect, it } from 'vitest';
import { parseConsumerSpec } from '../../../shared/config/index.js';
import { createConsumer } from '../../../shared/kafka/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { commandCalls, resetCommandStats } from '../../support/commandstats.js';
import { randomPrefix } from '../../support/files.js';
import { counterMessages, memoryDeadLetters } from '../../support/kafka-messages.js';
import { useRedis } from '../../support/redis-server.js';

/** A batch's `commands` against what the server ran (`INFO commandstats`, read with redis-cli). */

const redis = useRedis();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

describe('the Kafka engine counts the commands it sends', () => {
  it.each([
    // One EVAL per unit of at most maxRecords records of a partition; the INCRBYs run inside it.
    ['with watermarks: one EVAL per unit', true, 'eval'],
    ['without watermarks: one INCRBY per record', false, 'incrby'],
  ] as const)('%s', async (_, watermarks, command) => {
    const prefix = randomPrefix();
    const target = new TcpTarget(redis.server.url);
    targets.push(target);
    const consumer = createConsumer({
      spec: parseConsumerSpec({
        key: `${prefix}c:{id}`,
        model: { type: 'counter', by: 'n' },
        watermarks,
        batch: { maxRecords: 100 },
      }),
      group: 'g',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target],
      deadLetters: memoryDeadLetters(),
    });
    const batch = counterMessages(4_000, { partitions: 4 });
    await target.exec([{ args: ['PING'] }]);
    await resetCommandStats([redis.server.port]);
    const result = await consumer.process(batch);
    expect(result.counts.applied).toBe(4_000);
    const calls = await commandCalls([redis.server.port]);
    expect(result.commands).toBe(calls.get(command));
    // 4 partitions of 1,000 records in units of 100: 40 scripts; or one command per record.
    expect(result.commands).toBe(watermarks ? 40 : 4_000);
  });
});
