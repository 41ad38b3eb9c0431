import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConsumerSpecInput, parseConsumerSpec } from '../../../shared/config/index.js';
import { createRecordMapper, type KafkaMessage, type RecordPlan } from '../../../shared/kafka/index.js';
import { type BucketParams, bucketOf } from '../../../shared/mapping/index.js';
import { kafkaMessage } from '../../support/kafka-messages.js';

type SpecInput = Omit<ConsumerSpecInput, 'key'> & { key?: string };

const mapper = (spec: SpecInput, buckets?: BucketParams) =>
  createRecordMapper(parseConsumerSpec({ key: 'user:{id}', ...spec }), buckets);
const at = (value: unknown, extra: Partial<Parameters<typeof kafkaMessage>[0]> = {}): KafkaMessage =>
  kafkaMessage({ offset: 7, value, ...extra });

const HASH_BUCKETS: BucketParams = {
  scheme: 'hash',
  prefix: 'user:bkt:',
  keyPrefix: 'user:',
  bucketCount: 8,
};
const RANGE_BUCKETS: BucketParams = {
  scheme: 'range',
  prefix: 'user:bkt:',
  keyPrefix: 'user:',
  bucketSize: 100,
};

/** The commands of a write plan as argument lists (fails the test for any other plan). */
function args(plan: RecordPlan): (string | Buffer)[][] {
  expect(plan.kind).toBe('write');
  return plan.kind === 'write' ? plan.commands.map((c) => [...c.args]) : [];
}

/** The reason of a reject plan (fails the test for any other plan). */
function reason(plan: RecordPlan): string {
  expect(plan).toMatchObject({ kind: 'reject', errorClass: 'InputError' });
  return plan.kind === 'reject' ? plan.reason : '';
}

describe('createRecordMapper: string', () => {
  it('SETs one field, or the whole value by default', () => {
    expect(mapper({ model: { type: 'string', value: 'name' } })(at({ id: 1, name: 'ada' }))).toEqual({
      kind: 'write',
      routeKey: 'user:1',
      commands: [{ key: 'user:1', args: ['SET', 'user:1', 'ada'] }],
    });
    expect(args(mapper({ model: { type: 'string' } })(at('{"id":2, "a":1}')))).toEqual([
      ['SET', 'user:2', '{"id":2, "a":1}'],
    ]);
  });

  it('stores several fields as a JSON object, a missing one as null', () => {
    expect(args(mapper({ model: { type: 'string', value: ['a', 'b'] } })(at({ id: 1, a: 1 })))).toEqual([
      ['SET', 'user:1', '{"a":1,"b":null}'],
    ]);
  });

  it('turns scalars and objects into text; a null value writes nothing', () => {
    const map = mapper({ model: { type: 'string', value: 'v' } });
    expect(args(map(at({ id: 1, v: false })))).toEqual([['SET', 'user:1', 'false']]);
    expect(args(map(at({ id: 1, v: { x: [1] } })))).toEqual([['SET', 'user:1', '{"x":[1]}']]);
    expect(map(at({ id: 1, v: null }))).toEqual({ kind: 'noop' });
  });

  it('adds EX with a TTL', () => {
    expect(
      args(mapper({ model: { type: 'string', value: 'v' }, ttl: { seconds: 60 } })(at({ id: 1, v: 'x' }))),
    ).toEqual([['SET', 'user:1', 'x', 'EX', '60']]);
  });
});

describe('createRecordMapper: hash', () => {
  it('HSETs the named fields, or every field of the value', () => {
    expect(
      mapper({ model: { type: 'hash', fields: ['name', 'n'] } })(at({ id: 2, name: 'bo', n: 3 })),
    ).toEqual({
      kind: 'write',
      routeKey: 'user:2',
      commands: [{ key: 'user:2', args: ['HSET', 'user:2', 'name', 'bo', 'n', '3'] }],
    });
    // Every field means the value's own: the $ variables are not written unless named.
    expect(args(mapper({ model: { type: 'hash' } })(at({ id: 1, a: true }, { key: 'k' })))).toEqual([
      ['HSET', 'user:1', 'id', '1', 'a', 'true'],
    ]);
    expect(args(mapper({ model: { type: 'hash', fields: ['a', '$topic'] } })(at({ id: 1, a: 'x' })))).toEqual(
      [['HSET', 'user:1', 'a', 'x', '$topic', 'events']],
    );
  });

  it('skips nulls, or writes them as empty strings', () => {
    expect(
      args(mapper({ model: { type: 'hash', fields: ['a', 'b'] } })(at({ id: 1, a: null, b: 'x' }))),
    ).toEqual([['HSET', 'user:1', 'b', 'x']]);
    expect(mapper({ model: { type: 'hash', fields: ['a', 'b'] } })(at({ id: 1, a: null }))).toEqual({
      kind: 'noop',
    });
    expect(
      args(mapper({ model: { type: 'hash', fields: ['a', 'b'], nulls: 'empty' } })(at({ id: 1, a: null }))),
    ).toEqual([['HSET', 'user:1', 'a', '', 'b', '']]);
  });

  it('follows with EXPIRE when a TTL is set', () => {
    expect(args(mapper({ model: { type: 'hash' }, ttl: { seconds: 60 } })(at({ id: 4, a: 'x' })))).toEqual([
      ['HSET', 'user:4', 'id', '4', 'a', 'x'],
      ['EXPIRE', 'user:4', '60'],
    ]);
  });
});

describe('createRecordMapper: bucketed', () => {
  it('HSETs the value into the bucket and field readKey looks in (hash scheme)', () => {
    const map = mapper({ model: { type: 'bucketed', value: 'v', bucketCount: 8 } }, HASH_BUCKETS);
    for (const id of ['ab', '42', 'café']) {
      const where = bucketOf(`user:${id}`, HASH_BUCKETS);
      if (typeof where === 'string') throw new Error(where);
      expect(map(at({ id, v: 'x' }))).toEqual({
        kind: 'write',
        routeKey: where.bucket,
        commands: [{ key: where.bucket, args: ['HSET', where.bucket, id, 'x'] }],
      });
    }
  });

  it('puts id n into bucket floor(n / size), field n mod size (range scheme), with EXPIRE on the bucket', () => {
    const map = mapper({ model: { type: 'bucketed', scheme: 'range' }, ttl: { seconds: 30 } }, RANGE_BUCKETS);
    expect(args(map(at({ id: 250, v: 1 })))).toEqual([
      ['HSET', 'user:bkt:2', '50', '{"id":250,"v":1}'],
      ['EXPIRE', 'user:bkt:2', '30'],
    ]);
    expect(reason(map(at({ id: 'abc' })))).toBe(
      'range buckets need a non-negative integer id after "user:", got "abc"',
    );
  });

  it('refuses a record without the value field, and a missing bucket layout up front', () => {
    expect(reason(mapper({ model: { type: 'bucketed', value: 'v' } }, HASH_BUCKETS)(at({ id: 1 })))).toBe(
      "missing value field 'v'",
    );
    expect(() => mapper({ model: { type: 'bucketed' } })).toThrow(TypeError);
    expect(() => mapper({ model: { type: 'counter', by: 'n', buckets: {} } })).toThrow(TypeError);
  });
});

describe('createRecordMapper: counter', () => {
  it('INCRBYs the amount, with EXPIRE when a TTL is set', () => {
    expect(mapper({ model: { type: 'counter', by: 'n' } })(at({ id: 3, n: -4 }))).toEqual({
      kind: 'write',
      routeKey: 'user:3',
      commands: [{ key: 'user:3', args: ['INCRBY', 'user:3', '-4'] }],
    });
    expect(
      args(mapper({ model: { type: 'counter', by: 'n' }, ttl: { seconds: 9 } })(at({ id: 3, n: 2 }))),
    ).toEqual([
      ['INCRBY', 'user:3', '2'],
      ['EXPIRE', 'user:3', '9'],
    ]);
  });

  it('HINCRBYs the field of the bucket with buckets, and expires the bucket', () => {
    const map = mapper(
      { model: { type: 'counter', by: 'n', buckets: { scheme: 'range' } }, ttl: { seconds: 30 } },
      RANGE_BUCKETS,
    );
    expect(map(at({ id: 250, n: 5 }))).toEqual({
      kind: 'write',
      routeKey: 'user:bkt:2',
      commands: [
        { key: 'user:bkt:2', args: ['HINCRBY', 'user:bkt:2', '50', '5'] },
        { key: 'user:bkt:2', args: ['EXPIRE', 'user:bkt:2', '30'] },
      ],
    });
  });

  it('takes the integers Redis takes: safe numbers, and int64 strings', () => {
    const map = mapper({ model: { type: 'counter', by: 'n' } });
    for (const n of ['9223372036854775807', '-9223372036854775808', '0', '-1', '17']) {
      expect(args(map(at({ id: 1, n })))).toEqual([['INCRBY', 'user:1', n]]);
    }
    expect(args(map(at({ id: 1, n: Number.MAX_SAFE_INTEGER })))).toEqual([
      ['INCRBY', 'user:1', String(Number.MAX_SAFE_INTEGER)],
    ]);
  });

  it.each([
    [1.5, 'not an integer: 1.5'],
    [2 ** 53, 'not an integer: 9007199254740992'],
    [true, 'not an integer: true'],
    ['9223372036854775808', 'not an integer: "9223372036854775808"'],
    ['-9223372036854775809', 'not an integer: "-9223372036854775809"'],
    ['01', 'not an integer: "01"'],
    // Redis refuses "-0" (ERR value is not an integer): it must be a dead letter here, not a failed script.
    ['-0', 'not an integer: "-0"'],
    ['+1', 'not an integer: "+1"'],
    ['1e3', 'not an integer: "1e3"'],
    [' 1', 'not an integer: " 1"'],
    [{ n: 1 }, 'not an integer: {"n":1}'],
  ])('refuses the amount %j', (n, expected) => {
    expect(reason(mapper({ model: { type: 'counter', by: 'n' } })(at({ id: 1, n })))).toBe(
      `counter field 'n' is ${expected}`,
    );
  });

  it('refuses a missing or null amount', () => {
    const map = mapper({ model: { type: 'counter', by: 'n' } });
    expect(reason(map(at({ id: 1 })))).toBe("missing counter field 'n'");
    expect(reason(map(at({ id: 1, n: null })))).toBe("missing counter field 'n'");
  });

  it('sends any int64 amount as written (property)', () => {
    const map = mapper({ model: { type: 'counter', by: 'n' } });
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (big) => {
        expect(args(map(at({ id: 1, n: String(big) })))).toEqual([['INCRBY', 'user:1', String(big)]]);
      }),
    );
  });
});

describe('createRecordMapper: deletes', () => {
  it('DELs the key of a tombstone, found by Kafka key', () => {
    const byKey = mapper({ key: 'flag:{$key}', model: { type: 'string' } });
    expect(byKey(at(null, { key: 'dark-mode' }))).toEqual({
      kind: 'write',
      routeKey: 'flag:dark-mode',
      commands: [{ key: 'flag:dark-mode', args: ['DEL', 'flag:dark-mode'] }],
    });
    expect(
      args(mapper({ key: 'c:{$key}', model: { type: 'counter', by: 'n' } })(at(null, { key: '7' }))),
    ).toEqual([['DEL', 'c:7']]);
  });

  it('HDELs the field of a bucketed key', () => {
    const map = mapper({ key: 'user:{$key}', model: { type: 'bucketed', scheme: 'range' } }, RANGE_BUCKETS);
    expect(map(at(null, { key: '142' }))).toEqual({
      kind: 'write',
      routeKey: 'user:bkt:1',
      commands: [{ key: 'user:bkt:1', args: ['HDEL', 'user:bkt:1', '42'] }],
    });
  });

  it('refuses a tombstone whose key template needs value fields, and says how to fix it', () => {
    expect(reason(mapper({ model: { type: 'string' } })(at(null, { key: 'k' })))).toBe(
      "tombstone cannot be mapped to a key: missing key field 'id' " +
        '(a tombstone has no value fields: use {$key} in the key template to delete by Kafka key)',
    );
  });

  it('deletes on an op field saying one of the delete values, and writes otherwise', () => {
    const map = mapper({ model: { type: 'counter', by: 'n' }, op: { field: 'op', delete: ['del', 'rm'] } });
    expect(args(map(at({ id: 1, op: 'rm' })))).toEqual([['DEL', 'user:1']]);
    expect(args(map(at({ id: 1, op: 'del', n: 'junk' })))).toEqual([['DEL', 'user:1']]);
    expect(args(map(at({ id: 1, op: 'delete', n: 1 })))).toEqual([['INCRBY', 'user:1', '1']]);
    expect(args(map(at({ id: 1, n: 1 })))).toEqual([['INCRBY', 'user:1', '1']]);
    const byDefault = mapper({ model: { type: 'hash' }, op: { field: 'op' } });
    expect(args(byDefault(at({ id: 5, op: 'delete' })))).toEqual([['DEL', 'user:5']]);
    const bucketed = mapper(
      { model: { type: 'bucketed', scheme: 'range' }, op: { field: 'op' } },
      RANGE_BUCKETS,
    );
    expect(args(bucketed(at({ id: 3, op: 'delete' })))).toEqual([['HDEL', 'user:bkt:0', '3']]);
  });
});

describe('createRecordMapper: rejects', () => {
  const map = mapper({
    model: { type: 'string', value: 'v' },
    limits: { maxKeyBytes: 8, maxValueBytes: 16, maxRecordBytes: 64 },
  });

  it('refuses what is not a JSON object', () => {
    expect(reason(map(at('{"id": 1,')))).toMatch(/^value is not valid JSON: /);
    expect(reason(map(at([1, 2])))).toBe('value is a JSON array, not an object');
    expect(reason(map(at('"text"')))).toBe('value is a JSON string, not an object');
    expect(reason(map(at('7')))).toBe('value is a JSON number, not an object');
    expect(reason(map(at('null')))).toBe('value is a JSON null, not an object');
  });

  it('refuses a missing, empty or non-scalar key field', () => {
    expect(reason(map(at({ v: 'x' })))).toBe("missing key field 'id'");
    expect(reason(map(at({ id: '', v: 'x' })))).toBe("key field 'id' is empty");
    expect(reason(map(at({ id: [1], v: 'x' })))).toBe("key field 'id' is not a scalar");
  });

  it('refuses an oversized record, key or value, with the size and the limit', () => {
    expect(reason(map(at({ id: 1, v: 'x'.repeat(80) })))).toBe('record value is 95 bytes, limit 64');
    expect(reason(map(at({ id: 'abcd', v: 'x' })))).toBe('key is 9 bytes, limit 8');
    expect(reason(map(at({ id: 1, v: 'é'.repeat(9) })))).toBe("value of 'v' is 18 bytes, limit 16");
    expect(
      reason(mapper({ model: { type: 'hash' }, limits: { maxValueBytes: 4 } })(at({ id: 1, name: 'abcde' }))),
    ).toBe("value of 'name' is 5 bytes, limit 4");
  });
});

describe('createRecordMapper: key templates', () => {
  it('reads $key, $topic, $partition, $offset, $timestamp and value fields', () => {
    const map = mapper({
      key: '{$topic}/{$partition}/{$offset}/{$timestamp}/{$key}/{shop}',
      model: { type: 'string', value: 'v' },
    });
    expect(
      args(map(at({ shop: 's1', v: 'x' }, { topic: 'orders', partition: 3, offset: 42, key: 'k1' }))),
    ).toEqual([['SET', 'orders/3/42/1700000000042/k1/s1', 'x']]);
  });

  it('reads a string value as $value', () => {
    const map = mapper({ key: 'flag:{$key}', format: { type: 'string' }, model: { type: 'string' } });
    expect(args(map(at('on', { key: 'dark-mode' })))).toEqual([['SET', 'flag:dark-mode', 'on']]);
    expect(
      args(mapper({ key: 'v:{$value}', format: { type: 'string' }, model: { type: 'string' } })(at('x'))),
    ).toEqual([['SET', 'v:x', 'x']]);
  });

  it('refuses a record without a Kafka key when the template needs $key', () => {
    const map = mapper({ key: 'user:{$key}', model: { type: 'hash' } });
    expect(reason(map(at({ a: 1 })))).toBe("missing key field '$key'");
    expect(reason(map(at({ a: 1 }, { key: '' })))).toBe("key field '$key' is empty");
  });

  it('takes $key from the Kafka key only, never from a value field of that name', () => {
    const map = mapper({ key: 'user:{$key}', model: { type: 'hash' } });
    expect(args(map(at({ $key: 'spoof', a: 1 }, { key: 'real' })))).toEqual([
      ['HSET', 'user:real', 'a', '1'],
    ]);
    expect(reason(map(at({ $key: 'spoof', a: 1 })))).toBe("missing key field '$key'");
  });
});

describe('createRecordMapper: TTL jitter', () => {
  it('gives each key seconds plus at most jitterPercent more, the same on every replay (property)', () => {
    const seconds = 1000;
    const map = mapper({ model: { type: 'string', value: 'v' }, ttl: { seconds, jitterPercent: 10 } });
    const ttlOf = (id: string) => Number(args(map(at({ id, v: 'x' })))[0]![4]);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), (id) => {
        const ttl = ttlOf(id);
        expect(ttl).toBeGreaterThanOrEqual(seconds);
        expect(ttl).toBeLessThanOrEqual(seconds + 100);
        expect(ttlOf(id)).toBe(ttl);
      }),
    );
  });
});

describe('createRecordMapper: any record (property)', () => {
  const models = {
    string: [{ model: { type: 'string' } }],
    hash: [{ model: { type: 'hash' } }],
    fields: [
      { model: { type: 'hash', fields: ['a', 'b'], nulls: 'empty' }, ttl: { seconds: 5, jitterPercent: 50 } },
    ],
    counter: [{ model: { type: 'counter', by: 'n' }, op: { field: 'op' } }],
    bucketed: [{ model: { type: 'bucketed', bucketCount: 8 } }, HASH_BUCKETS],
    bucketedCounter: [{ model: { type: 'counter', by: 'n', buckets: { scheme: 'range' } } }, RANGE_BUCKETS],
  } as const satisfies Record<string, readonly [SpecInput, BucketParams?]>;
  const mappers = Object.fromEntries(
    Object.entries(models).map(([name, [spec, buckets]]) => [name, mapper(spec as SpecInput, buckets)]),
  );

  /** The key the template gives a record whose `id` is `id` (after the JSON round trip), or undefined. */
  function expectedKey(id: unknown): string | undefined {
    const v: unknown = JSON.parse(JSON.stringify(id) ?? 'null');
    if (typeof v === 'string') return v === '' ? undefined : `user:${v}`;
    if (typeof v === 'number' || typeof v === 'boolean') return `user:${String(v)}`;
    return undefined;
  }

  it('with the key field present: writes under the template, a no-op, or a reject with a reason; never throws', () => {
    const field = fc.oneof(
      fc.constantFrom('a', 'b', 'n', 'op', '$key', '$value'),
      fc.string({ maxLength: 6 }),
    );
    const amount = fc.oneof(fc.integer(), fc.constantFrom('5', '-0', '1.5'), fc.jsonValue({ maxDepth: 1 }));
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(models)),
        fc.dictionary(field, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
        fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.jsonValue({ maxDepth: 1 })),
        fc.option(amount, { nil: undefined }),
        fc.option(fc.string({ maxLength: 8 }), { nil: null }),
        (name, fields, id, n, kafkaKey) => {
          const model = models[name as keyof typeof models];
          const record = n === undefined ? { ...fields, id } : { ...fields, id, n };
          const plan = mappers[name]!(at(record, { key: kafkaKey }));
          const key = expectedKey(id);
          if (plan.kind === 'reject') {
            expect(plan.errorClass).toBe('InputError');
            expect(plan.reason.length).toBeGreaterThan(0);
            if (key === undefined) expect(plan.reason).toMatch(/key field 'id'/);
            return;
          }
          expect(key).toBeDefined();
          if (plan.kind === 'noop') {
            expect(['string', 'hash', 'fields']).toContain(name);
            return;
          }
          const buckets = model[1];
          const where = buckets === undefined ? { bucket: key!, field: undefined } : bucketOf(key!, buckets);
          if (typeof where === 'string') throw new Error(`wrote a key that fits no bucket: ${key}`);
          expect(plan.routeKey).toBe(where.bucket);
          for (const c of plan.commands) {
            expect(c.key).toBe(where.bucket);
            expect(c.args[1]).toBe(where.bucket);
          }
          if (where.field !== undefined && plan.commands[0]!.args[0] !== 'EXPIRE') {
            expect(plan.commands[0]!.args[2]).toBe(where.field);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('any bytes as key and value: a plan, never a throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(models)),
        fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
        fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }),
        (name, value, key) => {
          const plan = mappers[name]!({
            ...at(null),
            value: value === null ? null : Buffer.from(value),
            key: key === null ? null : Buffer.from(key),
          });
          expect(['write', 'noop', 'reject']).toContain(plan.kind);
        },
      ),
    );
  });
});
