import { z } from 'zod';
import { formatZodError, specErrorMap } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors/index.js';

// The two event forms of a Kafka event-source mapping, as the AWS Lambda Developer Guide shows them:
// https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html (Amazon MSK, test/events/msk-event.json) and
// https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html (self-managed, test/events/self-managed-kafka-event.json).

/**
 * One byte of a header value. Lambda serialises header values as a Java `byte[]`, so a byte of 0x80 or more
 * arrives negative (`ë` is `[-61, -85]`); unsigned bytes (what the samples and test tools write) are accepted
 * too. {@link decodeHeaders} keeps the low 8 bits of either.
 */
const headerByte = z.number().int().min(-128).max(255);

/** A header entry: one header name mapped to its value bytes. Names may repeat across entries, as in Kafka. */
const headerEntry = z.record(z.string(), z.array(headerByte));

const base64 = z.base64({
  error: (issue) => (issue.code === 'invalid_format' ? 'expected a base64 string' : undefined),
});

/** What Lambda adds to a record when the mapping uses a schema registry; not used here, only typed. */
const schemaMetadata = z.looseObject({ dataFormat: z.string().nullish(), schemaId: z.string().nullish() });

/** One Kafka record. Fields this project reads are checked; fields AWS adds later pass through untouched. */
const kafkaRecord = z.looseObject({
  topic: z.string().min(1),
  partition: z.number().int().min(0),
  /** A safe integer: an offset past 2^53 could not be reported back exactly, so it is refused. */
  offset: z.number().int().min(0),
  /** Milliseconds since the epoch (Kafka uses -1 for "no timestamp"). */
  timestamp: z.number().int(),
  timestampType: z.enum(['CREATE_TIME', 'LOG_APPEND_TIME']),
  /** Base64; absent or null when the record has no key. */
  key: base64.nullish(),
  /** Base64; absent or null for a tombstone. An empty string is an empty value, not a tombstone. */
  value: base64.nullish(),
  /** Absent in events from before Lambda passed headers on: read as no headers. */
  headers: z.array(headerEntry).default([]),
  keySchemaMetadata: schemaMetadata.nullish(),
  valueSchemaMetadata: schemaMetadata.nullish(),
});

/**
 * `records`, keyed by `<topic>-<partition>`. Topic names may contain `-`, so a key is never split: each
 * record's own topic and partition must rebuild the key it sits under.
 */
const recordsByPartition = z
  .record(z.string(), z.array(kafkaRecord), {
    // zod calls this type a record, a word that means something else here.
    error: (issue) => {
      if (issue.code !== 'invalid_type') return undefined;
      const expected = 'an object keyed by "<topic>-<partition>"';
      return issue.input === undefined ? `required (expected ${expected})` : `expected ${expected}`;
    },
  })
  .superRefine((records, ctx) => {
    for (const [key, list] of Object.entries(records)) {
      list.forEach((record, index) => {
        const own = partitionKey(record.topic, record.partition);
        if (own !== key) {
          ctx.addIssue({
            code: 'custom',
            path: [key, index],
            message: `topic ${JSON.stringify(record.topic)} partition ${record.partition} belongs under ${JSON.stringify(own)}, not ${JSON.stringify(key)}`,
          });
        }
      });
    }
  });

/** Amazon MSK: `eventSource: "aws:kafka"`, with the cluster's ARN. */
const mskEvent = z.looseObject({
  eventSource: z.literal('aws:kafka'),
  eventSourceArn: z.string().min(1),
  /** Comma-separated `host:port` list; informational, so not required. */
  bootstrapServers: z.string().optional(),
  records: recordsByPartition,
});

/** Self-managed Apache Kafka: `eventSource: "SelfManagedKafka"`, no ARN. */
const selfManagedEvent = z.looseObject({
  eventSource: z.literal('SelfManagedKafka'),
  bootstrapServers: z.string().optional(),
  records: recordsByPartition,
});

const kafkaEvent = z.discriminatedUnion('eventSource', [mskEvent, selfManagedEvent]);

/** A Kafka event from an event-source mapping, either form, as {@link kafkaEventSchema} returns it. */
export type KafkaEvent = z.output<typeof kafkaEvent>;

/** One record of a {@link KafkaEvent}: key and value still base64, headers still byte arrays. */
export type KafkaEventRecord = z.output<typeof kafkaRecord>;

/** A batch of thousands of bad records would make a message nobody reads; the first ones say enough. */
const MAX_REPORTED_PROBLEMS = 20;

/**
 * A zod path as the message shows it, rooted at `event`: `['records', 'orders-0', 3, 'offset']` becomes
 * `['event', 'records["orders-0"][3]', 'offset']`, which formatZodError joins to
 * `event.records["orders-0"][3].offset`. Map keys (a records key, a header name) are quoted in brackets,
 * since they may hold `-` or `.`.
 */
function eventPath(path: readonly PropertyKey[]): string[] {
  const out = ['event'];
  path.forEach((part, i) => {
    const isMapKey = (i === 1 && path[0] === 'records') || (i >= 2 && path[i - 2] === 'headers');
    if (typeof part === 'number') out[out.length - 1] += `[${part}]`;
    else if (isMapKey) out[out.length - 1] += `[${JSON.stringify(String(part))}]`;
    else out.push(String(part));
  });
  return out;
}

/**
 * The schema of a Kafka event (Amazon MSK or self-managed), the one place its shape lives. Unknown fields
 * are kept (AWS adds fields over time); the fields used are checked, and every records key must equal
 * `${topic}-${partition}` of the records under it. A problem is named by its path and what was wrong, as
 * `validateEvent` then reports it: `event.records["orders-0"][3].offset: expected a number, got the string
 * "abc"`, `event.eventSource: required (expected one of "aws:kafka", "SelfManagedKafka")`.
 *
 * @example
 * export const handler = middy(run).use(validateEvent(kafkaEventSchema, 'Kafka event'));
 */
export const kafkaEventSchema = z.unknown().transform((input, ctx): KafkaEvent => {
  if (isPlainValidEvent(input)) return input;
  const result = kafkaEvent.safeParse(input, { error: specErrorMap });
  if (result.success) return result.data;
  const { issues } = result.error;
  for (const issue of issues.slice(0, MAX_REPORTED_PROBLEMS)) {
    ctx.addIssue({ code: 'custom', path: eventPath(issue.path), message: issue.message });
  }
  if (issues.length > MAX_REPORTED_PROBLEMS) {
    ctx.addIssue({
      code: 'custom',
      path: ['event'],
      message: `${issues.length - MAX_REPORTED_PROBLEMS} more problems not shown`,
    });
  }
  return z.NEVER;
});

const TIMESTAMP_TYPES = new Set(['CREATE_TIME', 'LOG_APPEND_TIME']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** 1 for each character of the base64 alphabet (`A–Z a–z 0–9 + /`), by char code. */
const ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
  ALPHABET[c.charCodeAt(0)] = 1;
const PAD = 61; // '='

/**
 * Exactly what zod's base64 pattern (`z.regexes.base64`, the schema's check) accepts: groups of four alphabet characters, the
 * last one ending in `=` or `==`. A loop over a table: the regex was most of the fast path's time.
 */
function isBase64(s: string): boolean {
  const n = s.length;
  if (n % 4 !== 0) return false;
  let end = n;
  if (n > 0 && s.charCodeAt(n - 1) === PAD) end = s.charCodeAt(n - 2) === PAD ? n - 2 : n - 1;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ALPHABET[c] === 0) return false;
  }
  return true;
}

const nullishBase64 = (v: unknown): boolean =>
  v === undefined || v === null || (typeof v === 'string' && isBase64(v));

const nullishText = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';

function plainValidHeaders(headers: unknown): boolean {
  if (!Array.isArray(headers)) return false;
  for (const entry of headers) {
    if (!isPlainObject(entry)) return false;
    for (const key in entry) {
      const bytes = entry[key];
      if (!Array.isArray(bytes)) return false;
      for (const b of bytes)
        if (!Number.isInteger(b) || (b as number) < -128 || (b as number) > 255) return false;
    }
  }
  return true;
}

/** The list key's topic and partition, once per list (building `${topic}-${partition}` per record allocated). */
interface ListKey {
  readonly key: string;
  topic: string | undefined;
  partition: number | undefined;
}

function plainValidRecord(r: unknown, list: ListKey): boolean {
  if (!isPlainObject(r)) return false;
  const { topic, partition, offset, timestamp, keySchemaMetadata: k, valueSchemaMetadata: v } = r;
  return (
    typeof topic === 'string' &&
    topic.length > 0 &&
    Number.isSafeInteger(partition) &&
    (partition as number) >= 0 &&
    Number.isSafeInteger(offset) &&
    (offset as number) >= 0 &&
    Number.isSafeInteger(timestamp) &&
    TIMESTAMP_TYPES.has(r.timestampType as string) &&
    nullishBase64(r.key) &&
    nullishBase64(r.value) &&
    (r.headers === undefined || plainValidHeaders(r.headers)) &&
    (k === undefined ||
      k === null ||
      (isPlainObject(k) && nullishText(k.dataFormat) && nullishText(k.schemaId))) &&
    (v === undefined ||
      v === null ||
      (isPlainObject(v) && nullishText(v.dataFormat) && nullishText(v.schemaId))) &&
    sameList(list, topic, partition as number)
  );
}

/** True when `<topic>-<partition>` is the list's key: built once, then compared field by field. */
function sameList(list: ListKey, topic: string, partition: number): boolean {
  if (list.topic === topic && list.partition === partition) return true;
  if (list.topic !== undefined || `${topic}-${partition}` !== list.key) return false;
  list.topic = topic;
  list.partition = partition;
  return true;
}

/**
 * The fast path of {@link kafkaEventSchema}: true only for an event the zod schema accepts as it is (plain
 * JSON objects, every checked field valid), which is then used without the copy zod would make; records
 * without `headers` get the schema's default `[]` in place. Anything else, valid or not, goes through zod,
 * which then has the last word and names the problems. zod on 10,000 records was most of the handler's
 * time (bench/RESULTS.md, kafka-lambda); test/unit/functions/kafka-consumer-event.test.ts checks by property
 * that this never accepts what zod refuses.
 */
export function isPlainValidEvent(input: unknown): input is KafkaEvent {
  if (!isPlainObject(input)) return false;
  const { eventSource, eventSourceArn, bootstrapServers, records } = input;
  if (eventSource === 'aws:kafka') {
    if (typeof eventSourceArn !== 'string' || eventSourceArn.length === 0) return false;
  } else if (eventSource !== 'SelfManagedKafka') return false;
  if (bootstrapServers !== undefined && typeof bootstrapServers !== 'string') return false;
  if (!isPlainObject(records)) return false;
  for (const key in records) {
    const list = records[key];
    if (!Array.isArray(list)) return false;
    const at: ListKey = { key, topic: undefined, partition: undefined };
    for (const r of list) if (!plainValidRecord(r, at)) return false;
  }
  for (const key in records) {
    for (const r of records[key] as Record<string, unknown>[]) r.headers ??= [];
  }
  return true;
}

/** The zod schema alone, without the fast path (for tests that compare the two). */
export const kafkaEventZodSchema = kafkaEvent;

/**
 * The event, checked by {@link kafkaEventSchema}; a bad one is a {@link ConfigError} worded as
 * `validateEvent` words it: `Kafka event is invalid: event.records["orders-0"][3].offset: …`.
 *
 * @example
 * const event = parseKafkaEvent(await loadEvent('msk-event'));
 */
export function parseKafkaEvent(event: unknown): KafkaEvent {
  const result = kafkaEventSchema.safeParse(event);
  if (!result.success) throw new ConfigError(`Kafka event is invalid: ${formatZodError(result.error)}`);
  return result.data;
}

/**
 * The key of `records` that a topic's partition sits under, and the `partition` of a batch item failure:
 * `partitionKey('order-events', 3)` is `'order-events-3'`.
 */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * The bytes of a base64 key or value; `null` for an absent or null one (no key, or a tombstone). An empty
 * string is an empty buffer, not null.
 */
export function decodeBase64(s: string | null | undefined): Buffer | null {
  return s === null || s === undefined ? null : Buffer.from(s, 'base64');
}

/**
 * A record's headers in order, one entry per header (a name may repeat). Each number is stored into a byte
 * as a `Uint8Array` stores it (its low 8 bits), so Java's signed bytes (-61) and unsigned ones (195) both
 * give 0xC3. A plain loop: `Buffer.from(array)` costs several times as much per header (bench/RESULTS.md,
 * kafka-lambda).
 */
export function decodeHeaders(
  headers: readonly Readonly<Record<string, readonly number[]>>[],
): Array<{ key: string; value: Buffer }> {
  const out: Array<{ key: string; value: Buffer }> = [];
  for (const entry of headers) {
    for (const key of Object.keys(entry)) {
      const bytes = entry[key]!;
      const value = Buffer.allocUnsafe(bytes.length);
      for (let i = 0; i < bytes.length; i++) value[i] = bytes[i]!;
      out.push({ key, value });
    }
  }
  return out;
}

// The partial batch response of a Kafka event-source mapping with `ReportBatchItemFailures` turned on, per
// https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html (partial batch response).
// Unlike SQS and Kinesis, the identifier is an object: the records key and the offset.

/** Which record failed: `partition` is the records key (`<topic>-<partition>`), `offset` the record's offset. */
export interface KafkaItemIdentifier {
  partition: string;
  offset: number;
}

/**
 * What a Kafka consumer returns so that Lambda retries only what failed: per partition, the first record
 * not confirmed (later ones in that partition are delivered again with it). An empty list means the whole
 * batch succeeded.
 *
 * @example
 * const response: KafkaBatchResponse = {
 *   batchItemFailures: failures.map((f) => ({ itemIdentifier: kafkaItemIdentifier(f.topic, f.partition, f.offset) })),
 * };
 */
export interface KafkaBatchResponse {
  batchItemFailures: { itemIdentifier: KafkaItemIdentifier }[];
}

/** The identifier of one record in a batch response: `{ partition: 'order-events-3', offset: 42 }`. */
export function kafkaItemIdentifier(topic: string, partition: number, offset: number): KafkaItemIdentifier {
  return { partition: partitionKey(topic, partition), offset };
}
