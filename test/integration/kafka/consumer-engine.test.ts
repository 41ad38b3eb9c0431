import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConsumerSpec, type ConsumerSpecInput } from '../../../shared/config/index.js';
import { createConsumer, type DeadLetterSink, type KafkaMessage } from '../../../shared/kafka/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import {
  counterMessages,
  counterTotals,
  kafkaMessage,
  memoryDeadLetters,
} from '../../support/kafka-messages.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});
function target(port: number): TcpTarget {
  const t = new TcpTarget(`redis://127.0.0.1:${port}`);
  targets.push(t);
  return t;
}

const counterSpec = (prefix: string, extra: Partial<ConsumerSpecInput> = {}) =>
  parseConsumerSpec({ key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' }, ...extra });

/** A consumer of {@link counterSpec} on one server, group `g`, its watermarks under `<prefix>wm:`. */
const counterConsumer = (
  prefix: string,
  port: number,
  deadLetters: DeadLetterSink,
  extra: Partial<ConsumerSpecInput> = {},
) =>
  createConsumer({
    spec: counterSpec(prefix, extra),
    group: 'g',
    watermarkPrefix: `${prefix}wm:`,
    targets: [target(port)],
    deadLetters,
  });

/** The counters `<prefix>c:<id>` found on any of the servers (one MGET each). */
async function readCounters(
  ports: number | number[],
  prefix: string,
  ids: Iterable<string>,
): Promise<Map<string, number>> {
  const list = [...ids];
  const out = new Map<string, number>();
  if (list.length === 0) return out;
  for (const port of Array.isArray(ports) ? ports : [ports]) {
    const [reply] = await target(port).exec([{ args: ['MGET', ...list.map((id) => `${prefix}c:${id}`)] }]);
    (reply as (string | null)[]).forEach((v, i) => {
      if (v !== null) out.set(list[i]!, Number(v));
    });
  }
  return out;
}

describe('counters under redelivery (one shard)', () => {
  const redis = useRedis();

  it('applies a batch delivered twice exactly once and counts the second delivery as duplicates', async () => {
    const prefix = randomPrefix();
    const consumer = createConsumer({
      spec: counterSpec(prefix),
      group: 'g1',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target(redis.server.port)],
      deadLetters: memoryDeadLetters(),
    });
    const batch = counterMessages(2_000);
    const first = await consumer.process(batch);
    expect(first.counts).toEqual({ received: 2000, applied: 2000, duplicate: 0, deadLettered: 0, failed: 0 });
    expect(first.failures).toEqual([]);
    const second = await consumer.process(batch);
    expect(second.counts).toEqual({
      received: 2000,
      applied: 0,
      duplicate: 2000,
      deadLettered: 0,
      failed: 0,
    });
    expect(await readCounters(redis.server.port, prefix, counterTotals(batch).keys())).toEqual(
      counterTotals(batch),
    );
    expect(first.confirmed.get('events-0')).toBe(500);
  });

  it('keeps totals exact for any redelivery pattern, overlapping deliveries included (property)', async () => {
    // Kafka's contract, which Lambda's mapping and consumer groups keep: a delivery of a partition starts at
    // or before its first unconfirmed offset (the committed offset); it may go back any distance and two
    // deliveries may overlap in time (a rebalance).
    const port = redis.server.port;
    const t = target(port);
    const partitions = 3;
    const all = counterMessages(400, { keys: 9, partitions });
    const byPartition = (p: number) => all.filter((m) => m.partition === p);
    const delivery = (committed: number[], back: number, len: number) =>
      committed.flatMap((c, p) =>
        byPartition(p).filter((m) => m.offset >= c - back && m.offset < c - back + len),
      );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.nat(40),
            fc.integer({ min: 1, max: 80 }),
            fc.option(fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 80 }))),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        async (steps) => {
          const prefix = randomPrefix();
          const consumer = createConsumer({
            spec: counterSpec(prefix, { batch: { maxRecords: 7 } }),
            group: 'prop',
            watermarkPrefix: `${prefix}wm:`,
            targets: [t],
            deadLetters: memoryDeadLetters(),
          });
          const committed = new Array<number>(partitions).fill(0);
          const commit = (confirmed: ReadonlyMap<string, number>) => {
            for (const [id, offset] of confirmed) {
              const p = Number(id.slice(id.lastIndexOf('-') + 1));
              committed[p] = Math.max(committed[p]!, offset);
            }
          };
          for (const [back, len, overlap] of steps) {
            const runs = [delivery(committed, back, len)];
            if (overlap) runs.push(delivery(committed, overlap[0], overlap[1]));
            for (const r of await Promise.all(runs.map((m) => consumer.process(m)))) commit(r.confirmed);
          }
          const rest = await consumer.process(delivery(committed, 0, 400));
          expect(rest.failures).toEqual([]);
          expect(await readCounters(port, prefix, counterTotals(all).keys())).toEqual(counterTotals(all));
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('three shards', () => {
  const shards = [useRedis(), useRedis(), useRedis()];

  it('keeps a watermark per shard and stays exact under redelivery', async () => {
    const prefix = randomPrefix();
    const consumer = createConsumer({
      spec: counterSpec(prefix),
      group: 'g3',
      watermarkPrefix: `${prefix}wm:`,
      targets: shards.map((s) => target(s.server.port)),
      deadLetters: memoryDeadLetters(),
    });
    const batch = counterMessages(3_000, { keys: 300, partitions: 2 });
    await consumer.process(batch.slice(0, 2_000));
    const again = await consumer.process(batch);
    expect(again.counts).toMatchObject({ applied: 1000, duplicate: 2000, failed: 0 });
    const totals = counterTotals(batch);
    for (const s of shards) {
      // Every shard holds some counters and its own watermark for each partition.
      expect(await redisCli(s.server.port, 'GET', `${prefix}wm:events:0:g3`)).toMatch(/^\d+$/);
      expect(Number(await redisCli(s.server.port, 'DBSIZE'))).toBeGreaterThan(50);
    }
    const ports = shards.map((s) => s.server.port);
    const got = await readCounters(ports, prefix, totals.keys());
    expect(got).toEqual(totals);
  });
});

describe('models, order and deletes', () => {
  const redis = useRedis();

  it('ends with the last of three updates, deletes on a tombstone, and keeps an update and a delete in order', async () => {
    const prefix = randomPrefix();
    const consumer = createConsumer({
      spec: parseConsumerSpec({ key: `${prefix}u:{$key}`, model: { type: 'string', value: 'name' } }),
      group: 'g',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target(redis.server.port)],
      deadLetters: memoryDeadLetters(),
    });
    const result = await consumer.process([
      kafkaMessage({ offset: 0, key: 'a', value: { name: 'one' } }),
      kafkaMessage({ offset: 1, key: 'b', value: { name: 'bee' } }),
      kafkaMessage({ offset: 2, key: 'a', value: { name: 'two' } }),
      kafkaMessage({ offset: 3, key: 'a', value: { name: 'three' } }),
      kafkaMessage({ offset: 4, key: 'b', value: null }),
      kafkaMessage({ offset: 5, key: 'c', value: { name: 'sea' } }),
      kafkaMessage({ offset: 6, key: 'c', value: null }),
      kafkaMessage({ offset: 7, key: 'd', value: null }),
      kafkaMessage({ offset: 8, key: 'd', value: { name: 'dee' } }),
    ]);
    expect(result.counts).toMatchObject({ received: 9, applied: 9, failed: 0 });
    expect(await redisCli(redis.server.port, 'GET', `${prefix}u:a`)).toBe('three');
    expect(await redisCli(redis.server.port, 'EXISTS', `${prefix}u:b`)).toBe('0');
    expect(await redisCli(redis.server.port, 'EXISTS', `${prefix}u:c`)).toBe('0');
    expect(await redisCli(redis.server.port, 'GET', `${prefix}u:d`)).toBe('dee');
  });

  it('deletes on an op field, writes hashes with a TTL, and bucketed counters with HINCRBY', async () => {
    const prefix = randomPrefix();
    const port = redis.server.port;
    const hashes = createConsumer({
      spec: parseConsumerSpec({
        key: `${prefix}p:{id}`,
        model: { type: 'hash', fields: ['name', 'plan'] },
        ttl: { seconds: 3600, jitterPercent: 10 },
        op: { field: 'op' },
      }),
      group: 'g',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target(port)],
      deadLetters: memoryDeadLetters(),
    });
    await hashes.process([
      kafkaMessage({ offset: 0, value: { id: 1, name: 'ann', plan: 'pro' } }),
      kafkaMessage({ offset: 1, value: { id: 2, name: 'bob', plan: 'free' } }),
      kafkaMessage({ offset: 2, value: { id: 2, op: 'delete' } }),
    ]);
    expect(await redisCli(port, 'HGET', `${prefix}p:1`, 'plan')).toBe('pro');
    const ttl = Number(await redisCli(port, 'TTL', `${prefix}p:1`));
    expect(ttl).toBeGreaterThan(3000);
    expect(ttl).toBeLessThanOrEqual(3960);
    expect(await redisCli(port, 'EXISTS', `${prefix}p:2`)).toBe('0');

    const counters = createConsumer({
      spec: parseConsumerSpec({
        key: `${prefix}k:{id}`,
        model: { type: 'counter', by: 'n', buckets: { scheme: 'range', bucketSize: 10 } },
      }),
      group: 'g-counters',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target(port)],
      deadLetters: memoryDeadLetters(),
      buckets: { scheme: 'range', prefix: `${prefix}k:bkt:`, keyPrefix: `${prefix}k:`, bucketSize: 10 },
    });
    const batch = [
      kafkaMessage({ offset: 0, value: { id: 12, n: 5 } }),
      kafkaMessage({ offset: 1, value: { id: 12, n: '7' } }),
      kafkaMessage({ offset: 2, value: { id: 3, n: -2 } }),
    ];
    await counters.process(batch);
    await counters.process(batch);
    expect(await redisCli(port, 'HGET', `${prefix}k:bkt:1`, '2')).toBe('12');
    expect(await redisCli(port, 'HGET', `${prefix}k:bkt:0`, '3')).toBe('-2');
  });
});

describe('poison records', () => {
  const redis = useRedis();

  it('dead-letters bad JSON, a missing field, an oversized record and WRONGTYPE, and applies the records after them', async () => {
    const prefix = randomPrefix();
    const port = redis.server.port;
    await redisCli(port, 'HSET', `${prefix}c:7`, 'f', 'v');
    const sink = memoryDeadLetters();
    const consumer = counterConsumer(prefix, port, sink, { limits: { maxRecordBytes: 100 } });
    const batch: KafkaMessage[] = [
      kafkaMessage({ offset: 0, value: { id: 1, n: 1 } }),
      kafkaMessage({
        offset: 1,
        value: '{"id": 1, "n": ',
        headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      }),
      kafkaMessage({ offset: 2, value: { n: 1 } }),
      kafkaMessage({ offset: 3, value: { id: 1, n: 1, pad: 'x'.repeat(200) } }),
      kafkaMessage({ offset: 4, value: { id: 7, n: 1 } }),
      kafkaMessage({ offset: 5, value: { id: 1, n: 1.5 } }),
      kafkaMessage({ offset: 6, value: { id: 1, n: 10 } }),
      kafkaMessage({ offset: 7, value: { id: 7, n: 1 } }),
      kafkaMessage({ offset: 8, value: { id: 1, n: 100 } }),
    ];
    const result = await consumer.process(batch);
    expect(result.counts).toEqual({ received: 9, applied: 3, duplicate: 0, deadLettered: 6, failed: 0 });
    expect(result.failures).toEqual([]);
    expect(await redisCli(port, 'GET', `${prefix}c:1`)).toBe('111');
    const byOffset = new Map(sink.letters.map((l) => [l.message.offset, l]));
    expect([...byOffset.keys()].sort()).toEqual([1, 2, 3, 4, 5, 7]);
    expect(byOffset.get(1)).toMatchObject({
      errorClass: 'InputError',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(byOffset.get(1)!.reason).toMatch(/not valid JSON/);
    expect(byOffset.get(2)!.reason).toMatch(/missing key field 'id'/);
    expect(byOffset.get(3)!.reason).toMatch(/bytes, limit 100/);
    expect(byOffset.get(4)!.reason).toMatch(/WRONGTYPE/);
    expect(byOffset.get(5)!.reason).toMatch(/not an integer/);
    // Redelivery: the WRONGTYPE record is covered by the watermark; only the mapper's rejects are sent again.
    const again = await consumer.process(batch);
    expect(again.counts).toMatchObject({ applied: 0, duplicate: 5, deadLettered: 4 });
    expect(await redisCli(port, 'GET', `${prefix}c:1`)).toBe('111');
  });

  it('without watermarks, dead-letters a record once when one of its commands fails, and applies the rest', async () => {
    // At-least-once mode sends every record's commands in one pipeline: INCRBY then EXPIRE here. On a hash
    // the INCRBY fails with WRONGTYPE while its EXPIRE still runs (on the hash); the record is dead-lettered
    // once and counted only as such.
    const prefix = randomPrefix();
    const port = redis.server.port;
    await redisCli(port, 'HSET', `${prefix}c:7`, 'f', 'v');
    await redisCli(port, 'SET', `${prefix}c:8`, 'text');
    const sink = memoryDeadLetters();
    const consumer = counterConsumer(prefix, port, sink, { watermarks: false, ttl: { seconds: 600 } });
    const batch: KafkaMessage[] = [
      kafkaMessage({ offset: 0, value: { id: 1, n: 1 } }),
      kafkaMessage({ offset: 1, value: { id: 7, n: 1 } }),
      kafkaMessage({ offset: 2, value: { id: 1, n: 10 } }),
      kafkaMessage({ partition: 1, offset: 0, value: { id: 8, n: 1 } }),
      kafkaMessage({ partition: 1, offset: 1, value: { id: 2, n: 5 } }),
    ];
    const result = await consumer.process(batch);
    expect(result.failures).toEqual([]);
    expect(result.counts).toEqual({ received: 5, applied: 3, duplicate: 0, deadLettered: 2, failed: 0 });
    expect(sink.letters.map((l) => `${l.message.partition}/${l.message.offset}`).sort()).toEqual([
      '0/1',
      '1/0',
    ]);
    const reasons = new Map(sink.letters.map((l) => [l.message.partition, l.reason]));
    expect(reasons.get(0)).toMatch(/WRONGTYPE/);
    expect(reasons.get(1)).toMatch(/not an integer/);
    expect(await readCounters(port, prefix, ['1', '2'])).toEqual(
      new Map([
        ['1', 11],
        ['2', 5],
      ]),
    );
    expect(Number(await redisCli(port, 'TTL', `${prefix}c:2`))).toBeGreaterThan(500);
    // No watermark is kept in this mode.
    expect(await redisCli(port, 'KEYS', `${prefix}wm:*`)).toBe('');
  });

  it('applies around data errors and rejects wherever they fall among units sent ahead (property)', async () => {
    // Units of a partition go out while it is still being mapped (sendAhead): a WRONGTYPE or a mapper reject
    // in any unit, at any unit size, must leave exactly the good records applied, each bad one dead-lettered.
    const port = redis.server.port;
    const t = target(port);
    type Kind = 'good' | 'json' | 'wrongtype';
    const record = fc.record({
      kind: fc.constantFrom<Kind>('good', 'good', 'good', 'json', 'wrongtype'),
      id: fc.integer({ min: 0, max: 4 }),
      n: fc.integer({ min: 1, max: 9 }),
      partition: fc.integer({ min: 0, max: 1 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 6 }),
        async (records, maxRecords) => {
          const prefix = randomPrefix();
          await t.exec([{ args: ['HSET', `${prefix}c:w`, 'f', 'v'] }]);
          const sink = memoryDeadLetters();
          const consumer = createConsumer({
            spec: counterSpec(prefix, { batch: { maxRecords } }),
            group: 'ahead',
            watermarkPrefix: `${prefix}wm:`,
            targets: [t],
            deadLetters: sink,
          });
          const next = [0, 0];
          const batch = records.map((r) =>
            kafkaMessage({
              partition: r.partition,
              offset: next[r.partition]!++,
              value:
                r.kind === 'json' ? '{"id":' : { id: r.kind === 'wrongtype' ? 'w' : String(r.id), n: r.n },
            }),
          );
          const good = new Map<string, number>();
          records.forEach((r) => {
            if (r.kind === 'good') good.set(String(r.id), (good.get(String(r.id)) ?? 0) + r.n);
          });
          const bad = batch.filter((_, i) => records[i]!.kind !== 'good');
          const result = await consumer.process(batch);
          expect(result.failures).toEqual([]);
          expect(result.counts).toEqual({
            received: batch.length,
            applied: batch.length - bad.length,
            duplicate: 0,
            deadLettered: bad.length,
            failed: 0,
          });
          const key = (m: KafkaMessage) => `${m.partition}/${m.offset}`;
          expect(sink.letters.map((l) => key(l.message)).sort()).toEqual(bad.map(key).sort());
          expect(await readCounters(port, prefix, good.keys())).toEqual(good);
          const again = await consumer.process(batch);
          expect(again.counts.applied).toBe(0);
          expect(await readCounters(port, prefix, good.keys())).toEqual(good);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('treats a record whose dead letter cannot be written as not applied', async () => {
    const prefix = randomPrefix();
    const port = redis.server.port;
    await redisCli(port, 'SET', `${prefix}c:9`, 'text');
    const sink = memoryDeadLetters();
    sink.fail = true;
    const consumer = createConsumer({
      spec: parseConsumerSpec({ key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' } }),
      group: 'g',
      watermarkPrefix: `${prefix}wm:`,
      targets: [target(port)],
      deadLetters: sink,
    });
    const batch = [
      kafkaMessage({ offset: 10, value: { id: 1, n: 1 } }),
      kafkaMessage({ offset: 11, value: { id: 9, n: 1 } }),
      kafkaMessage({ offset: 12, value: { id: 1, n: 1 } }),
    ];
    const result = await consumer.process(batch);
    expect(result.failures).toEqual([
      { topic: 'events', partition: 0, offset: 11, reason: expect.stringMatching(/dead letter not written/) },
    ]);
    expect(result.counts).toEqual({ received: 3, applied: 1, duplicate: 0, deadLettered: 0, failed: 2 });
    expect(await redisCli(port, 'GET', `${prefix}c:1`)).toBe('1');
    sink.fail = false;
    const redelivered = await consumer.process(batch.slice(1));
    expect(redelivered.counts).toEqual({ received: 2, applied: 1, duplicate: 0, deadLettered: 1, failed: 0 });
    expect(await redisCli(port, 'GET', `${prefix}c:1`)).toBe('2');
  });
});
