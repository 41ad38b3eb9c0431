import { afterAll, describe, expect, it } from 'vitest';
import { parseConsumerSpec } from '../../../shared/config/index.js';
import { createConsumer, type KafkaMessage, slotWatermarkKey } from '../../../shared/kafka/index.js';
import { ClusterTarget, keySlot, type Target } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { counterMessages, counterTotals, memoryDeadLetters } from '../../support/kafka-messages.js';
import { clusterReader, getAll, reshard, useCluster, waitForClusterOk } from '../../support/redis-cluster.js';

/**
 * Kafka counters (INCRBY: double-applying shows) into a real 3-master Redis Cluster. Each slot a partition
 * touches has its own watermark, hash-tagged into that slot, so every script stays in one slot (no
 * CROSSSLOT) and redelivery never changes a total, also while `redis-cli --cluster reshard` moves slots.
 */

const cluster = useCluster();
const opened: Target[] = [];
afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()));
});

function clusterTarget(): ClusterTarget {
  const t = new ClusterTarget(cluster.server.url);
  opened.push(t);
  return t;
}

async function totalsIn(prefix: string, ids: Iterable<string>): Promise<Map<string, number>> {
  const list = [...ids];
  const reader = clusterReader(cluster.server);
  try {
    const values = await getAll(
      reader,
      list.map((id) => `${prefix}c:${id}`),
    );
    const out = new Map<string, number>();
    values.forEach((v, i) => {
      if (v !== null) out.set(list[i]!, Number(v));
    });
    return out;
  } finally {
    await reader.quit();
  }
}

function batches(messages: readonly KafkaMessage[], size: number): KafkaMessage[][] {
  const out: KafkaMessage[][] = [];
  for (let i = 0; i < messages.length; i += size) out.push(messages.slice(i, i + size));
  return out;
}

describe('Kafka watermarks in a Redis Cluster', () => {
  it('applies every batch once when each is delivered twice, with a watermark per partition and slot', async () => {
    const prefix = randomPrefix();
    const consumer = createConsumer({
      spec: parseConsumerSpec({ key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' } }),
      group: 'g1',
      watermarkPrefix: `${prefix}wm:`,
      targets: [clusterTarget()],
      deadLetters: memoryDeadLetters(),
    });
    const messages = counterMessages(20_000, { keys: 3_000, partitions: 8 });
    let applied = 0;
    let duplicate = 0;
    for (const batch of batches(messages, 2_500)) {
      for (let delivery = 0; delivery < 2; delivery++) {
        const { counts, failures } = await consumer.process(batch);
        expect(failures).toEqual([]);
        expect(counts.failed + counts.deadLettered).toBe(0);
        applied += counts.applied;
        duplicate += counts.duplicate;
      }
    }
    expect({ applied, duplicate }).toEqual({ applied: 20_000, duplicate: 20_000 });
    const expected = counterTotals(messages);
    expect(await totalsIn(prefix, expected.keys())).toEqual(expected);
    // The watermark of partition 0 in the slot of counter 0 sits in that slot, and says how far it got.
    const slot = keySlot(`${prefix}c:0`);
    const key = slotWatermarkKey(`${prefix}wm:`, 'g1', 'events', 0, slot);
    expect(keySlot(key)).toBe(slot);
    const reader = clusterReader(cluster.server);
    try {
      expect(Number(await reader.get(key))).toBeGreaterThan(0);
    } finally {
      await reader.quit();
    }
    await consumer.close();
  });

  it('keeps totals exact under redelivery while slots move between masters', async () => {
    const prefix = randomPrefix();
    const target = clusterTarget();
    const consumer = createConsumer({
      spec: parseConsumerSpec({ key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' } }),
      group: 'g1',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target],
      deadLetters: memoryDeadLetters(),
    });
    const ports = cluster.server.nodes.map((n) => n.port);
    const messages = counterMessages(60_000, { keys: 2_000, partitions: 8 });
    let resharding = true;
    const moving = reshard(
      cluster.server,
      [
        [0, 1],
        [1, 2],
      ],
      800,
    ).finally(() => {
      resharding = false;
    });
    // Every batch is delivered twice, and the one before it once more: redelivery overlaps the moves.
    const all = batches(messages, 1_000);
    let applied = 0;
    let i = 0;
    for (; i < all.length; i++) {
      for (const batch of i > 0 ? [all[i]!, all[i - 1]!, all[i]!] : [all[i]!, all[i]!]) {
        const { counts, failures } = await consumer.process(batch);
        expect(failures).toEqual([]);
        applied += counts.applied;
      }
      // Keep the load going until the resharding is over (re-deliveries of the last batch).
      if (i === all.length - 1 && resharding) i--;
    }
    await moving;
    await waitForClusterOk(ports, 3);
    expect(applied).toBe(messages.length);
    expect(target.redirects.moved + target.redirects.ask).toBeGreaterThan(0);
    const expected = counterTotals(messages);
    expect(await totalsIn(prefix, expected.keys())).toEqual(expected);
    await consumer.close();
  });
});
