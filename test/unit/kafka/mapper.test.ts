import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConsumerSpecInput, parseConsumerSpec } from '../../../shared/config/index.js';
import { createRecordMapper, type KafkaMessage } from '../../../shared/kafka/index.js';
import { parseUnitReply, unitCommand, watermarkKey } from '../../../shared/kafka/watermark.js';
import { ReplyError } from '../../../shared/redis/index.js';
import { kafkaMessage } from '../../support/kafka-messages.js';

const mapper = (spec: Omit<ConsumerSpecInput, 'key'> & { key?: string }) =>
  createRecordMapper(parseConsumerSpec({ key: 'user:{id}', ...spec }));
const at = (value: unknown, extra: Partial<Parameters<typeof kafkaMessage>[0]> = {}): KafkaMessage =>
  kafkaMessage({ offset: 7, value, ...extra });

describe('createRecordMapper', () => {
  it('maps each model to its commands', () => {
    expect(mapper({ model: { type: 'string', value: 'name' } })(at({ id: 1, name: 'ada' }))).toEqual({
      kind: 'write',
      routeKey: 'user:1',
      commands: [{ key: 'user:1', args: ['SET', 'user:1', 'ada'] }],
    });
    expect(
      mapper({ model: { type: 'hash', fields: ['name', 'n'] } })(at({ id: 2, name: 'bo', n: 3 })),
    ).toEqual({
      kind: 'write',
      routeKey: 'user:2',
      commands: [{ key: 'user:2', args: ['HSET', 'user:2', 'name', 'bo', 'n', '3'] }],
    });
    expect(mapper({ model: { type: 'counter', by: 'n' } })(at({ id: 3, n: -4 }))).toMatchObject({
      commands: [{ args: ['INCRBY', 'user:3', '-4'] }],
    });
    const ttl = mapper({ model: { type: 'hash' }, ttl: { seconds: 60 } })(at({ id: 4, a: 'x' }));
    expect(ttl).toMatchObject({
      commands: [{ args: ['HSET', 'user:4', 'id', '4', 'a', 'x'] }, { args: ['EXPIRE', 'user:4', '60'] }],
    });
  });

  it('deletes on a tombstone (by Kafka key) and on an op field', () => {
    const byKey = mapper({ key: 'flag:{$key}', model: { type: 'string' } });
    expect(byKey(at(null, { key: 'dark-mode' }))).toMatchObject({
      commands: [{ args: ['DEL', 'flag:dark-mode'] }],
    });
    const op = mapper({ model: { type: 'hash' }, op: { field: 'op' } });
    expect(op(at({ id: 5, op: 'delete' }))).toMatchObject({ commands: [{ args: ['DEL', 'user:5'] }] });
    expect(mapper({ model: { type: 'string' } })(at(null))).toMatchObject({
      kind: 'reject',
      reason: expect.stringMatching(/tombstone cannot be mapped to a key/),
    });
  });

  it('rejects bad JSON, a missing field, an oversized value and a non-integer counter, with the reason', () => {
    const counter = mapper({ model: { type: 'counter', by: 'n' }, limits: { maxValueBytes: 16 } });
    expect(counter(at('{"id": 1,'))).toMatchObject({
      kind: 'reject',
      reason: expect.stringMatching(/not valid JSON/),
    });
    expect(counter(at({ n: 1 }))).toMatchObject({ kind: 'reject', reason: expect.stringMatching(/id/) });
    expect(counter(at({ id: 1, n: 1.5 }))).toMatchObject({ reason: expect.stringMatching(/not an integer/) });
    expect(counter(at({ id: 1 }))).toMatchObject({ reason: "missing counter field 'n'" });
    expect(counter(at([1, 2]))).toMatchObject({ reason: expect.stringMatching(/JSON array, not an object/) });
    const small = mapper({ model: { type: 'string', value: 'v' }, limits: { maxValueBytes: 16 } });
    expect(small(at({ id: 1, v: 'x'.repeat(17) }))).toMatchObject({
      reason: expect.stringMatching(/17 bytes, limit 16/),
    });
  });

  it('never throws: any JSON object maps to writes under the template, a no-op or a reject (property)', () => {
    const map = mapper({ model: { type: 'hash' } });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
        fc.boolean(),
        (obj, withId) => {
          const value = withId ? { ...obj, id: 'x1' } : obj;
          const plan = map(at(value));
          if (plan.kind === 'write') {
            expect(plan.routeKey).toMatch(/^user:/);
            if (withId) expect(plan.routeKey).toBe('user:x1');
          } else if (plan.kind === 'reject') expect(plan.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('watermark units', () => {
  it('keys the watermark by topic, partition and group', () => {
    expect(watermarkKey('rbl:wm:', 'profiles', 'orders', 3)).toBe('rbl:wm:orders:3:profiles');
  });

  it('lays out EVAL arguments as the script reads them', () => {
    const cmd = unitCommand(
      'wm',
      [
        { offset: 10, commands: [{ key: 'a', args: ['SET', 'a', '1'] }] },
        {
          offset: 11,
          commands: [
            { key: 'b', args: ['HSET', 'b', 'f', 'v'] },
            { key: 'b', args: ['EXPIRE', 'b', '9'] },
          ],
        },
      ],
      9,
      undefined,
    );
    expect(cmd.args.slice(2)).toEqual([
      '3',
      'wm',
      'a',
      'b', // numkeys, the watermark, the written keys
      '9',
      '', // guard, cover
      '10',
      '1',
      '3',
      'SET',
      'a',
      '1',
      '11',
      '2',
      '4',
      'HSET',
      'b',
      'f',
      'v',
      '3',
      'EXPIRE',
      'b',
      '9',
    ]);
  });

  it('reads each script reply', () => {
    expect(parseUnitReply([0, 5, 2, -1, ''])).toEqual({ status: 'done', applied: 5, duplicates: 2 });
    expect(parseUnitReply([1, 0, 0, -1, '41'])).toEqual({ status: 'blocked', watermark: 41 });
    expect(parseUnitReply([2, 3, 0, 3, 'WRONGTYPE Operation'])).toEqual({
      status: 'stopped',
      applied: 3,
      duplicates: 0,
      index: 3,
      error: 'WRONGTYPE Operation',
    });
    expect(parseUnitReply(new ReplyError('LOADING Redis is loading'))).toEqual({
      status: 'refused',
      error: 'LOADING Redis is loading',
    });
    expect(parseUnitReply('OK')).toMatchObject({
      status: 'refused',
      error: expect.stringMatching(/unexpected script reply/),
    });
  });
});
