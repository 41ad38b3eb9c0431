import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64,
  decodeHeaders,
  type KafkaBatchResponse,
  kafkaEventSchema,
  kafkaEventZodSchema,
  isPlainValidEvent,
  kafkaItemIdentifier,
  parseKafkaEvent,
  partitionKey,
} from '../../../functions/kafka-consumer/event.js';
import { formatZodError } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { loadEvent } from '../../events/load-event.js';

/** What validateEvent would say after "Kafka event is invalid: ", or 'ok'. */
function problems(event: unknown): string {
  const result = kafkaEventSchema.safeParse(event);
  return result.success ? 'ok' : formatZodError(result.error);
}

/** A record as a test writes it, for events built in place. */
function record(topic: string, partition: number, offset: number, extra: Record<string, unknown> = {}) {
  return {
    topic,
    partition,
    offset,
    timestamp: 0,
    timestampType: 'CREATE_TIME',
    value: '',
    headers: [],
    ...extra,
  };
}

describe('kafka-consumer event schema: the documented sample events', () => {
  it('the Amazon MSK sample parses, and its value and header decode', async () => {
    const event = parseKafkaEvent(await loadEvent('msk-event'));
    expect(event.eventSource).toBe('aws:kafka');
    expect(event.eventSource === 'aws:kafka' && event.eventSourceArn).toMatch(/^arn:aws:kafka:/);
    const [r] = event.records['mytopic-0']!;
    expect(r).toMatchObject({ topic: 'mytopic', partition: 0, offset: 15, timestampType: 'CREATE_TIME' });
    expect(decodeBase64(r!.value)?.toString()).toBe('Hello, this is a test.');
    expect(decodeHeaders(r!.headers)).toEqual([{ key: 'headerKey', value: Buffer.from('headerValue') }]);
  });

  it('the self-managed Kafka sample parses, with no eventSourceArn', async () => {
    const event = parseKafkaEvent(await loadEvent('self-managed-kafka-event'));
    expect(event.eventSource).toBe('SelfManagedKafka');
    expect('eventSourceArn' in event).toBe(false);
    expect(Object.keys(event.records)).toEqual(['mytopic-0']);
  });

  it('tombstones, absent keys, signed header bytes and fields AWS adds later are accepted and kept', async () => {
    const event = parseKafkaEvent(await loadEvent('msk-tombstones'));
    const [first, second, third] = event.records['order-events-12']!;
    expect(decodeBase64(first!.value)?.toString()).toBe('{"id":41,"name":"café"}');
    expect(decodeHeaders(first!.headers)).toEqual([
      { key: 'producer', value: Buffer.from('café') },
      { key: 'producer', value: Buffer.from('b') },
    ]);
    expect(first!.valueSchemaMetadata?.dataFormat).toBe('AVRO');
    expect((first as Record<string, unknown>).futureField).toEqual({ added: 'later' });
    expect((event as Record<string, unknown>).futureTopLevel).toBe(true);
    expect(decodeBase64(second!.value)).toBeNull();
    expect(decodeBase64(second!.key)?.toString()).toBe('order:41');
    expect(decodeBase64(third!.key)).toBeNull();
    expect(decodeBase64(third!.value)).toBeNull();
  });
});

describe('kafka-consumer event schema: a bad event names the field', () => {
  it('an offset that is not a number names its records key and index', async () => {
    expect(problems(await loadEvent('msk-bad-offset'))).toBe(
      'event.records["orders-0"][3].offset: expected a number, got the string "abc"',
    );
  });

  it('a header byte out of range names the header', async () => {
    expect(problems(await loadEvent('msk-bad-header-byte'))).toBe(
      'event.records["orders-1"][0].headers[1]["content-type"][1]: expected a number <= 255, got the number 300',
    );
  });

  it('a record under the wrong records key says where it belongs (topics may contain "-")', async () => {
    expect(problems(await loadEvent('self-managed-kafka-wrong-key'))).toBe(
      [
        'event.records["order-events-1"][1]: topic "order-events" partition 2 belongs under "order-events-2", not "order-events-1"',
        'event.records["order-events-1"][2]: topic "order-events-1" partition 1 belongs under "order-events-1-1", not "order-events-1"',
      ].join('; '),
    );
  });

  it('a missing or unknown eventSource says which ones there are', async () => {
    expect(problems(await loadEvent('self-managed-kafka-no-event-source'))).toBe(
      'event.eventSource: required (expected one of "aws:kafka", "SelfManagedKafka")',
    );
    expect(problems({ eventSource: 'aws:sqs', records: {} })).toBe(
      'event.eventSource: expected one of "aws:kafka", "SelfManagedKafka", got the string "aws:sqs"',
    );
    expect(problems(null)).toBe('event: expected an object, got null');
  });

  it('the MSK form needs its ARN; both need records; every field used is checked', () => {
    expect(problems({ eventSource: 'aws:kafka', records: {} })).toBe(
      'event.eventSourceArn: required (expected a string)',
    );
    expect(problems({ eventSource: 'SelfManagedKafka' })).toBe(
      'event.records: required (expected an object keyed by "<topic>-<partition>")',
    );
    expect(problems({ eventSource: 'SelfManagedKafka', records: [] })).toBe(
      'event.records: expected an object keyed by "<topic>-<partition>"',
    );
    const bad = record('t', 0, 1, {
      partition: -1,
      timestamp: 1.5,
      timestampType: 'NOW',
      key: 'not base64!',
      value: 7,
      headers: {},
    });
    expect(problems({ eventSource: 'SelfManagedKafka', records: { 't-0': [bad] } }).split('; ')).toEqual([
      'event.records["t-0"][0].partition: expected a number >= 0, got the number -1',
      'event.records["t-0"][0].timestamp: expected an integer, got the number 1.5',
      'event.records["t-0"][0].timestampType: expected one of "CREATE_TIME", "LOG_APPEND_TIME", got the string "NOW"',
      'event.records["t-0"][0].key: expected a base64 string',
      'event.records["t-0"][0].value: expected a string, got the number 7',
      'event.records["t-0"][0].headers: expected an array, got an object',
    ]);
  });

  it('parseKafkaEvent throws a ConfigError worded as validateEvent words it', async () => {
    const event = await loadEvent('msk-bad-offset');
    expect(() => parseKafkaEvent(event)).toThrow(ConfigError);
    expect(() => parseKafkaEvent(event)).toThrow(
      'Kafka event is invalid: event.records["orders-0"][3].offset: expected a number, got the string "abc"',
    );
  });

  it('a batch of many bad records reports the first twenty and counts the rest', () => {
    const list = Array.from({ length: 25 }, (_, i) => record('t', 0, i, { offset: String(i) }));
    const lines = problems({ eventSource: 'SelfManagedKafka', records: { 't-0': list } }).split('; ');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('event.records["t-0"][0].offset: expected a number, got the string "0"');
    expect(lines[20]).toBe('event: 5 more problems not shown');
  });
});

describe('kafka-consumer event: topics, keys and bytes', () => {
  it('a topic containing "-" is matched whole, never split at its last "-"', () => {
    expect(partitionKey('order-events', 12)).toBe('order-events-12');
    const event = parseKafkaEvent({
      eventSource: 'SelfManagedKafka',
      records: { 'a-b-c-0': [record('a-b-c', 0, 1)], 'a-b-c-10': [record('a-b-c', 10, 2)] },
    });
    expect(Object.keys(event.records)).toEqual(['a-b-c-0', 'a-b-c-10']);
  });

  it('base64 keys and values round-trip through the schema and decodeBase64 (empty is not null)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const encoded = Buffer.from(bytes).toString('base64');
        const event = parseKafkaEvent({
          eventSource: 'SelfManagedKafka',
          records: { 't-0': [record('t', 0, 1, { key: encoded, value: encoded })] },
        });
        const [r] = event.records['t-0']!;
        expect(decodeBase64(r!.key)).toEqual(Buffer.from(bytes));
        expect(decodeBase64(r!.value)).toEqual(Buffer.from(bytes));
      }),
    );
    expect(decodeBase64('')).toEqual(Buffer.alloc(0));
    expect(decodeBase64(null)).toBeNull();
    expect(decodeBase64(undefined)).toBeNull();
  });

  it('header bytes decode the same whether Lambda sends them signed (Java) or unsigned', () => {
    const headers = fc.array(
      fc.record({
        name: fc.string({ minLength: 1, maxLength: 12 }),
        bytes: fc.uint8Array({ maxLength: 40 }),
      }),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(headers, (list) => {
        const signed = list.map((h) => ({ [h.name]: Array.from(h.bytes, (b) => (b > 127 ? b - 256 : b)) }));
        const unsigned = list.map((h) => ({ [h.name]: Array.from(h.bytes) }));
        const expected = list.map((h) => ({ key: h.name, value: Buffer.from(h.bytes) }));
        for (const form of [signed, unsigned]) {
          const event = parseKafkaEvent({
            eventSource: 'SelfManagedKafka',
            records: { 't-0': [record('t', 0, 1, { headers: form })] },
          });
          expect(decodeHeaders(event.records['t-0']![0]!.headers)).toEqual(expected);
        }
      }),
    );
  });

  it('headers are optional (older events): read as none', () => {
    const bare = record('t', 0, 1);
    delete (bare as Partial<typeof bare>).headers;
    const event = parseKafkaEvent({ eventSource: 'SelfManagedKafka', records: { 't-0': [bare] } });
    expect(event.records['t-0']![0]!.headers).toEqual([]);
  });
});

describe('kafka-consumer partial batch response', () => {
  it('names a failed record by its records key and offset, the shape Lambda documents for Kafka', () => {
    expect(kafkaItemIdentifier('order-events', 3, 42)).toEqual({ partition: 'order-events-3', offset: 42 });
    const response: KafkaBatchResponse = {
      batchItemFailures: [{ itemIdentifier: kafkaItemIdentifier('mytopic', 0, 15) }],
    };
    expect(JSON.parse(JSON.stringify(response))).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'mytopic-0', offset: 15 } }],
    });
  });
});

describe('the fast path of the event schema', () => {
  /** Field values that are valid, and some that are not (a wrong type, out of range, bad base64). */
  const fieldValue = {
    topic: fc.oneof(fc.constantFrom('orders', 'a-b', 'x'), fc.constantFrom('', 7, null)),
    partition: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(-1, 1.5, '0', 2 ** 53)),
    offset: fc.oneof(fc.nat(), fc.constantFrom(-1, 0.5, '3', Number.MAX_SAFE_INTEGER + 2)),
    timestamp: fc.oneof(fc.integer(), fc.constantFrom(1.5, null, '1')),
    timestampType: fc.constantFrom('CREATE_TIME', 'LOG_APPEND_TIME', 'NO_TIMESTAMP_TYPE', undefined),
    key: fc.oneof(
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('base64')),
      fc.constantFrom(undefined, null, '', 'not base64!', 'YQ', 5),
    ),
    value: fc.oneof(
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('base64')),
      fc.constantFrom(undefined, null, '', 'YWJj=', 'Zm9v'),
    ),
    headers: fc.oneof(
      fc.array(
        fc.dictionary(fc.constantFrom('traceparent', 'h'), fc.array(fc.integer({ min: -128, max: 255 }))),
      ),
      fc.constantFrom(undefined, null, [{ h: [256] }], [{ h: [-129] }], [{ h: 'x' }], [[1]], {}),
    ),
    valueSchemaMetadata: fc.constantFrom(
      undefined,
      null,
      { dataFormat: 'AVRO', schemaId: '1' },
      { schemaId: 5 },
      'x',
    ),
  };
  const anyRecord = fc.record(fieldValue, { requiredKeys: ['topic', 'partition', 'offset'] });
  const anyEvent = fc.record({
    eventSource: fc.constantFrom('aws:kafka', 'SelfManagedKafka', 'aws:sqs', undefined),
    eventSourceArn: fc.constantFrom('arn:aws:kafka:eu-west-1:1:cluster/x/y', '', undefined, 3),
    bootstrapServers: fc.constantFrom('b-1:9092', undefined, 9092),
    records: fc.array(anyRecord, { maxLength: 4 }).map((list) => {
      const out: Record<string, unknown[]> = {};
      // Mostly under their own key, sometimes under another one.
      list.forEach((r, i) => {
        const key = i === 3 ? 'other-0' : `${String(r.topic)}-${String(r.partition)}`;
        (out[key] ??= []).push(r);
      });
      return out;
    }),
  });

  it('never accepts an event the zod schema refuses, and returns what zod would (property)', () => {
    let accepted = 0;
    let valid = 0;
    fc.assert(
      fc.property(anyEvent, (event) => {
        const copy = structuredClone(event);
        const zod = kafkaEventZodSchema.safeParse(copy);
        if (zod.success) valid++;
        if (isPlainValidEvent(event)) {
          accepted++;
          expect(zod.success).toBe(true);
          expect(event).toEqual(zod.data);
        }
      }),
      { numRuns: 3000 },
    );
    // The generator reaches both sides, and the fast path takes the valid plain events.
    expect(valid).toBeGreaterThan(100);
    expect(accepted).toBe(valid);
  });

  it('takes every documented sample event', async () => {
    for (const name of ['msk-event', 'self-managed-kafka-event', 'msk-tombstones']) {
      expect(isPlainValidEvent(await loadEvent(name)), name).toBe(true);
    }
  });
});
