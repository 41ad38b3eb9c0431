import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, it, vi } from 'vitest';
import {
  type KafkaBatchResponse,
  type KafkaEvent,
  type KafkaInvocation,
  type KafkaMapping,
  type KafkaMappingOptions,
  startKafkaMapping,
} from '../../../cli/local-stack/kafka-mapping.js';
import {
  committedOffsets,
  highWatermarks,
  partitionsOnOneBroker,
  produce,
  until,
  useKafkaMock,
} from '../../support/kafka-mock.js';

/**
 * The local event-source mapping against librdkafka's mock cluster, with handlers that only record what they
 * get. Every test has its own topic and consumer group, and they run concurrently: the mock makes the first
 * member of a group wait ~3 s before it is assigned partitions, and these waits overlap.
 */

// Eight tests, each mostly waiting for its group join: run them all at once rather than five at a time.
vi.setConfig({ maxConcurrency: 8 });

/**
 * Consumer settings that keep the mock's group protocol quick: the session must outlast the mock's fixed ~3 s
 * initial join delay (below that the member expires while it waits, and the join never completes); a member
 * joining after another left waits `sessionTimeout - 1000` ms; short fetch waits keep `stop()` short.
 */
const TUNING = { sessionTimeout: 4000, rebalanceTimeout: 4000, heartbeatInterval: 500, maxWaitTimeInMs: 100 };
const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/test/0f0f0f0f-0000-1111-2222-333333333333-1';

const kafka = useKafkaMock();
const started: KafkaMapping[] = [];
afterAll(async () => {
  await Promise.all(started.map((m) => m.stop()));
});

async function startMapping(options: Omit<KafkaMappingOptions, 'brokers'>): Promise<KafkaMapping> {
  const mapping = await startKafkaMapping({
    brokers: kafka.mock.brokers,
    consumer: TUNING,
    fromBeginning: true,
    retryDelayMs: 0,
    ...options,
  });
  started.push(mapping);
  return mapping;
}

type Reply = KafkaBatchResponse | void;

/** A handler that keeps a copy of every event and answers with `reply(event, call)`. */
function recorder(reply: (event: KafkaEvent, call: number) => Reply | Promise<Reply> = () => undefined) {
  const events: KafkaEvent[] = [];
  const handler = async (event: KafkaEvent): Promise<Reply> => {
    events.push(structuredClone(event));
    return reply(event, events.length - 1);
  };
  return { events, handler };
}

/** The offsets of `key` (`"<topic>-<partition>"`) over all events, in delivery order. */
function offsetsOf(events: readonly KafkaEvent[], key: string): number[] {
  return events.flatMap((e) => (e.records[key] ?? []).map((r) => r.offset));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe.concurrent('local Kafka event-source mapping', () => {
  it('delivers the MSK event shape: base64 key and value, header bytes, "<topic>-<partition>" keys', async ({
    expect,
  }) => {
    const topic = 'shape';
    const sentAt = Date.now();
    await produce(kafka.mock.brokers, topic, [
      { key: 'k1', value: '{"id":1}', headers: { trace: 'abc', n: '1' }, partition: 2 },
      { key: Buffer.from([0xff, 0x00, 0x80]), value: Buffer.from([0x00, 0x01, 0xfe]), partition: 2 },
      { key: 'gone', value: null, partition: 2 },
      { value: 'no key', partition: 0 },
    ]);
    const { events, handler } = recorder();
    const mapping = await startMapping({ topics: [topic], groupId: 'shape', eventSourceArn: ARN, handler });
    await mapping.waitForIdle();
    await mapping.stop();

    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual([
        'bootstrapServers',
        'eventSource',
        'eventSourceArn',
        'records',
      ]);
      expect(event).toMatchObject({
        eventSource: 'aws:kafka',
        eventSourceArn: ARN,
        bootstrapServers: kafka.mock.brokers.join(','),
      });
    }
    const record = (partition: number, offset: number, fields: object) => ({
      topic,
      partition,
      offset,
      timestamp: expect.any(Number),
      timestampType: 'CREATE_TIME',
      headers: [],
      ...fields,
    });
    // toStrictEqual: a null key and a tombstone's value are absent, not null or undefined.
    expect(Object.assign({}, ...events.map((e) => e.records))).toStrictEqual({
      'shape-2': [
        record(2, 0, {
          key: 'azE=',
          value: 'eyJpZCI6MX0=',
          headers: [{ trace: [97, 98, 99] }, { n: [49] }],
        }),
        record(2, 1, { key: '/wCA', value: 'AAH+' }),
        record(2, 2, { key: 'Z29uZQ==' }),
      ],
      'shape-0': [record(0, 0, { value: 'bm8ga2V5' })],
    });
    for (const r of Object.values(events[0]!.records).flat()) {
      expect(r.timestamp).toBeGreaterThanOrEqual(sentAt);
      expect(r.timestamp).toBeLessThanOrEqual(Date.now());
    }
  });

  it('keeps each partition in offset order with at most batchSize records per event (self-managed shape)', async ({
    expect,
  }) => {
    const topic = 'order';
    await produce(
      kafka.mock.brokers,
      topic,
      range(0, 40).map((i) => ({ key: `k${i}`, value: `${i % 4}:${Math.floor(i / 4)}`, partition: i % 4 })),
    );
    const { events, handler } = recorder();
    const mapping = await startMapping({
      topics: [topic],
      groupId: 'order',
      eventSource: 'SelfManagedKafka',
      batchSize: 7,
      handler,
    });
    await mapping.waitForIdle();

    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual(['bootstrapServers', 'eventSource', 'records']);
      expect(event.eventSource).toBe('SelfManagedKafka');
      expect(Object.values(event.records).flat().length).toBeLessThanOrEqual(7);
    }
    for (const p of range(0, 4)) {
      const values = events.flatMap((e) =>
        (e.records[`${topic}-${p}`] ?? []).map((r) => Buffer.from(r.value, 'base64').toString()),
      );
      expect(offsetsOf(events, `${topic}-${p}`)).toEqual(range(0, 10));
      expect(values).toEqual(range(0, 10).map((i) => `${p}:${i}`));
    }
    expect(await committedOffsets(kafka.mock.brokers, 'order', topic)).toEqual(
      await highWatermarks(kafka.mock.brokers, topic),
    );
    expect(mapping.stats).toMatchObject({ records: 40, failures: 0, retries: 0, discarded: 0 });
    expect(mapping.stats.invocations).toBeGreaterThanOrEqual(6);
    await mapping.stop();
  });

  it('on batchItemFailures redelivers exactly the tail from the named offset; other partitions are committed', async ({
    expect,
  }) => {
    const topic = 'partial';
    const [a, b] = await partitionsOnOneBroker(kafka.mock.brokers, topic);
    const [keyA, keyB] = [`${topic}-${a}`, `${topic}-${b}`];
    await produce(kafka.mock.brokers, topic, [
      ...range(0, 8).map((i) => ({ value: `a${i}`, partition: a })),
      ...range(0, 3).map((i) => ({ value: `b${i}`, partition: b })),
    ]);
    const committedAtRedelivery: Array<Map<number, number>> = [];
    const { events, handler } = recorder(async (_event, call) => {
      if (call === 0) return { batchItemFailures: [{ itemIdentifier: { partition: keyA, offset: 5 } }] };
      if (call === 1) {
        committedAtRedelivery.push(await committedOffsets(kafka.mock.brokers, 'partial', topic));
      }
    });
    const invocations: KafkaInvocation[] = [];
    const mapping = await startMapping({
      topics: [topic],
      groupId: 'partial',
      handler,
      onInvoke: (i) => invocations.push(i),
    });
    await mapping.waitForIdle();
    await mapping.stop();

    expect(Object.keys(events[0]!.records).sort()).toEqual([keyA, keyB].sort());
    expect(offsetsOf(events, keyA)).toEqual([...range(0, 8), 5, 6, 7]);
    expect(offsetsOf(events, keyB)).toEqual([0, 1, 2]);
    expect(Object.keys(events[1]!.records)).toEqual([keyA]);
    // The head before the failed offset and the whole other partition were committed before the redelivery.
    expect(committedAtRedelivery[0]!.get(a)).toBe(5);
    expect(committedAtRedelivery[0]!.get(b)).toBe(3);
    expect(invocations.map((i) => i.outcome)).toEqual(['partial', 'success']);
    expect(invocations[0]!.restartAt).toEqual({ [keyA]: 5 });
    expect(mapping.stats).toMatchObject({ invocations: 2, records: 14, failures: 1, retries: 0 });
  });

  it('retries the same batch, committing nothing, after a throw or an item naming no record of it', async ({
    expect,
  }) => {
    const topic = 'retry';
    const [a, b] = await partitionsOnOneBroker(kafka.mock.brokers, topic);
    await produce(kafka.mock.brokers, topic, [
      ...range(0, 3).map((i) => ({ value: `a${i}`, partition: a })),
      ...range(0, 2).map((i) => ({ value: `b${i}`, partition: b })),
    ]);
    const committedDuringRetries: Array<Map<number, number>> = [];
    const { events, handler } = recorder(async (_event, call) => {
      if (call > 0) committedDuringRetries.push(await committedOffsets(kafka.mock.brokers, 'retry', topic));
      if (call === 0) throw new Error('Redis is loading');
      // Offset 99 is not in the batch: Lambda treats such a reply as a failure of the whole batch.
      if (call === 1)
        return { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-${a}`, offset: 99 } }] };
    });
    const invocations: KafkaInvocation[] = [];
    const mapping = await startMapping({
      topics: [topic],
      groupId: 'retry',
      handler,
      onInvoke: (i) => invocations.push(i),
    });
    await mapping.waitForIdle();
    await mapping.stop();

    expect(events).toHaveLength(3);
    expect(Object.values(events[0]!.records).flat()).toHaveLength(5);
    expect(events[1]).toStrictEqual(events[0]);
    expect(events[2]).toStrictEqual(events[0]);
    for (const committed of committedDuringRetries) expect([...committed.values()]).toEqual([-1, -1, -1, -1]);
    expect(invocations.map((i) => [i.outcome, i.attempt])).toEqual([
      ['error', 0],
      ['error', 1],
      ['success', 2],
    ]);
    expect(String(invocations[1]!.error)).toMatch(/names no record of the batch/);
    expect(mapping.stats).toMatchObject({
      invocations: 3,
      records: 15,
      failures: 2,
      retries: 2,
      discarded: 0,
    });
    const committed = await committedOffsets(kafka.mock.brokers, 'retry', topic);
    expect([committed.get(a), committed.get(b)]).toEqual([3, 2]);
  });

  it('discards a batch after maxRetryAttempts retries, commits past it and goes on', async ({ expect }) => {
    const topic = 'discard';
    await produce(kafka.mock.brokers, topic, [
      { value: 'poison', partition: 1 },
      { value: 'poison too', partition: 1 },
    ]);
    const { events, handler } = recorder((event) => {
      if (event.records[`${topic}-1`]?.[0]?.offset === 0) throw new Error('cannot apply');
    });
    const invocations: KafkaInvocation[] = [];
    const mapping = await startMapping({
      topics: [topic],
      groupId: 'discard',
      maxRetryAttempts: 1,
      handler,
      onInvoke: (i) => invocations.push(i),
    });
    await mapping.waitForIdle();
    expect(invocations.map((i) => [i.outcome, i.attempt, i.discarded])).toEqual([
      ['error', 0, false],
      ['error', 1, true],
    ]);
    expect(mapping.stats).toMatchObject({ invocations: 2, failures: 2, retries: 1, discarded: 1 });

    await produce(kafka.mock.brokers, topic, [{ value: 'fine', partition: 1 }]);
    await until('the record after the discarded batch is delivered', () => events.length === 3);
    await mapping.waitForIdle();
    expect(offsetsOf(events, `${topic}-1`)).toEqual([0, 1, 0, 1, 2]);
    expect((await committedOffsets(kafka.mock.brokers, 'discard', topic)).get(1)).toBe(3);
    await mapping.stop();
  });

  it('a new mapping in the same group resumes after the committed offsets, a failed tail included', async ({
    expect,
  }) => {
    const topic = 'resume';
    const [a, b] = await partitionsOnOneBroker(kafka.mock.brokers, topic);
    const [keyA, keyB] = [`${topic}-${a}`, `${topic}-${b}`];
    await produce(kafka.mock.brokers, topic, [
      ...range(0, 6).map((i) => ({ value: `a${i}`, partition: a })),
      ...range(0, 2).map((i) => ({ value: `b${i}`, partition: b })),
    ]);
    // The first instance can never get past offset 3 of partition a.
    const first = recorder((event) =>
      event.records[keyA]?.some((r) => r.offset === 3)
        ? { batchItemFailures: [{ itemIdentifier: { partition: keyA, offset: 3 } }] }
        : undefined,
    );
    const one = await startMapping({ topics: [topic], groupId: 'resume', handler: first.handler });
    await until('partition a redelivered from offset 3', () =>
      offsetsOf(first.events, keyA).slice(6).includes(3),
    );
    await expect(one.waitForIdle({ timeoutMs: 300 })).rejects.toThrow(`${keyA} at 3 of 6`);
    await one.stop();

    await produce(kafka.mock.brokers, topic, [{ value: 'b2', partition: b }]);
    const second = recorder();
    const two = await startMapping({ topics: [topic], groupId: 'resume', handler: second.handler });
    await two.waitForIdle();
    await two.stop();
    expect(offsetsOf(second.events, keyA)).toEqual([3, 4, 5]);
    expect(offsetsOf(second.events, keyB)).toEqual([2]);
  });

  it('keeps the group session alive while a handler runs longer than sessionTimeout', async ({ expect }) => {
    const topic = 'slow';
    // Records in every partition: every kafkajs fetcher waits for the invocation, none of them heartbeats.
    await produce(
      kafka.mock.brokers,
      topic,
      range(0, 4).map((p) => ({ value: 'slow', partition: p })),
    );
    const { events, handler } = recorder(async (_event, call) => {
      // A slow handler, not a wait for a condition: without heartbeats the mock would expire the member.
      if (call === 0) await delay(TUNING.sessionTimeout + 2000);
    });
    const mapping = await startMapping({ topics: [topic], groupId: 'slow', handler });
    await mapping.waitForIdle();
    await mapping.stop();
    for (const p of range(0, 4)) expect(offsetsOf(events, `${topic}-${p}`)).toEqual([0]);
    expect(mapping.stats.failures).toBe(0);
    expect([...(await committedOffsets(kafka.mock.brokers, 'slow', topic)).values()]).toEqual([1, 1, 1, 1]);
  });

  it('stop() waits for the invocation in flight and commits what it settled', async ({ expect }) => {
    const topic = 'stop';
    await produce(kafka.mock.brokers, topic, [
      { value: 'x', partition: 0 },
      { value: 'y', partition: 0 },
    ]);
    const steps: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mapping = await startMapping({
      topics: [topic],
      groupId: 'stop',
      handler: async () => {
        steps.push('invoked');
        await gate;
        steps.push('returned');
      },
    });
    await until('the handler is invoked', () => steps.includes('invoked'));
    const stopped = mapping.stop().then(() => steps.push('stopped'));
    // Time in which a stop() that did not wait for the handler would have finished (it takes ~100 ms).
    await delay(300);
    release();
    await stopped;
    expect(steps).toEqual(['invoked', 'returned', 'stopped']);
    expect((await committedOffsets(kafka.mock.brokers, 'stop', topic)).get(0)).toBe(2);
  });
});
