import type { ConsumerSpec } from '../config/index.js';
import {
  type BucketParams,
  type BucketSlot,
  compileTemplate,
  createTtl,
  exceedsBytes,
  locateBucket,
  valueToString,
} from '../mapping/index.js';
import type { Command } from '../redis/index.js';
import type { KafkaMessage, RecordPlan } from './types.js';

/** An integer as Redis parses one (`string2ll`): no sign on zero (`-0` is refused), no leading zeros. */
const INT64 = /^(0|-?[1-9][0-9]{0,18})$/;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;

/** The error class of records refused before Redis sees them. */
const INPUT = 'InputError';

function reject(reason: string): RecordPlan {
  return { kind: 'reject', errorClass: INPUT, reason };
}

/** Turns one Kafka record into its Redis commands (see {@link createRecordMapper}). */
export type RecordMapper = (message: KafkaMessage) => RecordPlan;

/**
 * Builds the mapper of a consumer spec. `buckets` is required for the `bucketed` model and a bucketed
 * `counter` (the dataset's parameters, fixed before the first record: see `resolveConsumerBuckets`).
 *
 * - `string`: `SET key value [EX ttl]`; `hash`: `HSET key f v …` then `EXPIRE key ttl`;
 *   `bucketed`: `HSET bucket field value` then `EXPIRE bucket ttl`;
 *   `counter`: `INCRBY key n` (or `HINCRBY bucket field n`) then `EXPIRE` when a TTL is set.
 * - A tombstone (null value), or an `op` field saying delete, deletes: `DEL key` (`HDEL bucket field`).
 * - Bad JSON, a missing key field, an oversized record, key or value, or a counter amount that is not an
 *   integer make a `reject` plan: the record goes to the dead letters.
 *
 * @example
 * const map = createRecordMapper(spec);
 * const plan = map({ topic: 'clicks', partition: 0, offset: 7, timestamp: 0, key: null, value: Buffer.from('{"id":1,"n":2}'), headers: [] });
 * // { kind: 'write', routeKey: 'clicks:1', commands: [{ key: 'clicks:1', args: ['INCRBY', 'clicks:1', '2'] }] }
 */
export function createRecordMapper(spec: ConsumerSpec, buckets?: BucketParams): RecordMapper {
  const template = compileTemplate(spec.key);
  const ttl = createTtl(spec.ttl);
  const { maxKeyBytes, maxValueBytes, maxRecordBytes } = spec.limits;
  const json = spec.format.type === 'json';
  const model = spec.model;
  const deletes = spec.op ? new Set(spec.op.delete) : undefined;
  const opField = spec.op?.field;
  const slot: BucketSlot = { field: '', reason: '' };
  // The `$` names (Kafka key, topic, …) the spec reads: only those are set on each record's values (adding
  // six properties to every parsed object was a sixth of the mapper's time).
  const reads = new Set<string>(template.fields);
  if (opField !== undefined) reads.add(opField);
  if (model.type === 'counter') reads.add(model.by);
  if (model.type === 'hash') for (const f of model.fields ?? []) reads.add(f);
  if (model.type === 'string' || model.type === 'bucketed') {
    for (const f of typeof model.value === 'string' ? [model.value] : model.value) reads.add(f);
  }
  const wants = {
    value: reads.has('$value'),
    key: reads.has('$key'),
    topic: reads.has('$topic'),
    partition: reads.has('$partition'),
    offset: reads.has('$offset'),
    timestamp: reads.has('$timestamp'),
  };
  const bucketed = model.type === 'bucketed' || (model.type === 'counter' && model.buckets !== false);
  if (bucketed && buckets === undefined) throw new TypeError('a bucketed model needs its bucket parameters');

  const sized = (text: string, label: string): string | undefined => {
    const bytes = exceedsBytes(text, maxValueBytes);
    return bytes === undefined ? undefined : `value of '${label}' is ${bytes} bytes, limit ${maxValueBytes}`;
  };

  const expire = (key: string): Command => ({ key, args: ['EXPIRE', key, ttl!(key)] });

  /** The bucket and field of a key, or the reason it does not fit the dataset's scheme. */
  const address = (key: string): { bucket: string; field: string } | string => {
    const index = locateBucket(key, buckets!, slot);
    return index < 0 ? slot.reason : { bucket: buckets!.prefix + index, field: slot.field };
  };

  return (message) => {
    const raw = message.value;
    if (raw !== null && raw.length > maxRecordBytes)
      return reject(`record value is ${raw.length} bytes, limit ${maxRecordBytes}`);

    let values: Record<string, unknown>;
    if (raw === null) {
      values = {};
    } else if (json) {
      const text = raw.toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        return reject(`value is not valid JSON: ${(err as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return reject(
          `value is a JSON ${parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed}, not an object`,
        );
      }
      values = parsed as Record<string, unknown>;
      if (wants.value) values.$value = text;
    } else {
      values = { $value: raw.toString('utf8') };
    }
    // Set whenever read, even to undefined, so a value field named `$key` cannot stand in for a missing
    // Kafka key.
    if (wants.key) values.$key = message.key === null ? undefined : message.key.toString('utf8');
    if (wants.topic) values.$topic = message.topic;
    if (wants.partition) values.$partition = message.partition;
    if (wants.offset) values.$offset = message.offset;
    if (wants.timestamp) values.$timestamp = message.timestamp;

    const key = template.render(values);
    if (typeof key !== 'string') {
      return reject(
        raw === null
          ? `tombstone cannot be mapped to a key: ${key.reason} (a tombstone has no value fields: use {$key} in the key template to delete by Kafka key)`
          : key.reason,
      );
    }
    const keyBytes = exceedsBytes(key, maxKeyBytes);
    if (keyBytes !== undefined) return reject(`key is ${keyBytes} bytes, limit ${maxKeyBytes}`);

    const remove = raw === null || (deletes !== undefined && deletes.has(String(values[opField!])));
    if (remove) {
      if (!bucketed) return { kind: 'write', routeKey: key, commands: [{ key, args: ['DEL', key] }] };
      const at = address(key);
      if (typeof at === 'string') return reject(at);
      return {
        kind: 'write',
        routeKey: at.bucket,
        commands: [{ key: at.bucket, args: ['HDEL', at.bucket, at.field] }],
      };
    }

    if (model.type === 'counter') {
      const amount = values[model.by];
      let n: string | undefined;
      if (typeof amount === 'number' && Number.isSafeInteger(amount)) n = String(amount);
      else if (typeof amount === 'string' && INT64.test(amount)) {
        const big = BigInt(amount);
        if (big <= INT64_MAX && big >= INT64_MIN) n = amount;
      }
      if (n === undefined) {
        return reject(
          amount === undefined || amount === null
            ? `missing counter field '${model.by}'`
            : `counter field '${model.by}' is not an integer: ${JSON.stringify(amount).slice(0, 40)}`,
        );
      }
      if (!bucketed) {
        const commands: Command[] = [{ key, args: ['INCRBY', key, n] }];
        if (ttl) commands.push(expire(key));
        return { kind: 'write', routeKey: key, commands };
      }
      const at = address(key);
      if (typeof at === 'string') return reject(at);
      const commands: Command[] = [{ key: at.bucket, args: ['HINCRBY', at.bucket, at.field, n] }];
      if (ttl) commands.push(expire(at.bucket));
      return { kind: 'write', routeKey: at.bucket, commands };
    }

    if (model.type === 'hash') {
      const args: string[] = ['HSET', key];
      const keep = model.nulls === 'empty';
      for (const field of model.fields ?? Object.keys(values)) {
        if (model.fields === undefined && field.startsWith('$')) continue;
        const text = valueToString(values[field]);
        if (text === undefined) {
          if (keep) args.push(field, '');
          continue;
        }
        const big = sized(text, field);
        if (big !== undefined) return reject(big);
        args.push(field, text);
      }
      if (args.length === 2) return { kind: 'noop' };
      const commands: Command[] = [{ key, args }];
      if (ttl) commands.push(expire(key));
      return { kind: 'write', routeKey: key, commands };
    }

    // string and bucketed: one value, from one field or (string model) several fields as a JSON object.
    let text: string | undefined;
    if (typeof model.value === 'string') {
      if (values[model.value] === undefined && !model.value.startsWith('$'))
        return reject(`missing value field '${model.value}'`);
      text = valueToString(values[model.value]);
    } else {
      const picked: Record<string, unknown> = {};
      for (const f of model.value) picked[f] = values[f] ?? null;
      text = JSON.stringify(picked);
    }
    if (text === undefined) return { kind: 'noop' };
    const big = sized(text, typeof model.value === 'string' ? model.value : 'value');
    if (big !== undefined) return reject(big);
    if (model.type === 'string') {
      const args = ttl ? ['SET', key, text, 'EX', ttl(key)] : ['SET', key, text];
      return { kind: 'write', routeKey: key, commands: [{ key, args }] };
    }
    const at = address(key);
    if (typeof at === 'string') return reject(at);
    const commands: Command[] = [{ key: at.bucket, args: ['HSET', at.bucket, at.field, text] }];
    if (ttl) commands.push(expire(at.bucket));
    return { kind: 'write', routeKey: at.bucket, commands };
  };
}
