/**
 * The data of the `kafka-lambda` bench, deterministic and computable from a record's index alone, so the
 * bench, its child processes, the `redis-cli --pipe` references and the Lua checks all agree without
 * sharing state.
 *
 * Record `i` (0-based, over the whole run) sits on partition `i % PARTITIONS` at offset `i / PARTITIONS`
 * (offsets grow across events, so watermarks really advance); its value is about 100 bytes of JSON for id
 * `u<i % DISTINCT>`, so later records update the keys of earlier ones.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { KafkaEvent } from '../functions/kafka-consumer/event.js';
import { type Command, encodeCommands } from '../shared/redis/index.js';

export const TOPIC = 'profiles';
export const PARTITIONS = 4;
/** Records per Lambda event. */
export const BATCH = 10_000;
/** Distinct ids: records `i` and `i + DISTINCT` write the same key. */
export const DISTINCT = 200_000;
/** The consumer group, part of every watermark key. */
export const GROUP = 'bench';

const NAMES = ['ada', 'grace', 'linus', 'barbara', 'ken', 'margaret', 'dennis', 'frances'];
const CITIES = ['Amsterdam', 'Berlin', 'Lisbon', 'Oslo', 'Porto', 'Vienna', 'Zagreb'];
const UPDATED = 1_764_000_000;
const TRACEPARENT = [...Buffer.from(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`)];

/** The counter amount of record `i` (the Lua check in kafka-lambda.ts computes it the same way). */
export const amountOf = (i: number): number => 1 + (i % 7);

/** The id of record `i`: `u000000` … `u199999`. */
export const idOf = (i: number): string => `u${String(i % DISTINCT).padStart(6, '0')}`;

/** The hash fields the hash model writes, in the value's order. */
export const HASH_FIELDS = ['name', 'city', 'plan', 'score', 'updated'] as const;

/** The value of record `i` as an object (its JSON is ~100 bytes). */
export function valueOf(i: number): Record<string, string | number> {
  return {
    id: idOf(i),
    name: NAMES[i % NAMES.length]!,
    city: CITIES[i % CITIES.length]!,
    plan: i % 3 === 0 ? 'pro' : 'free',
    score: (i * 7919) % 100_000,
    n: amountOf(i),
    updated: UPDATED + i,
  };
}

/** The `updated` field of the last record for id index `k` among `records` (what the key must hold at the end). */
export const lastUpdated = (k: number, records: number): number =>
  UPDATED + k + DISTINCT * Math.floor((records - 1 - k) / DISTINCT);

/**
 * The MSK event holding records `[start, end)` as Lambda delivers it: `eventSource: "aws:kafka"`, records
 * keyed `<topic>-<partition>`, key and value base64, a W3C `traceparent` header as a byte array.
 */
export function mskEvent(start: number, end: number): KafkaEvent {
  const records: Record<string, unknown[]> = {};
  for (let i = start; i < end; i++) {
    const partition = i % PARTITIONS;
    (records[`${TOPIC}-${partition}`] ??= []).push({
      topic: TOPIC,
      partition,
      offset: Math.floor(i / PARTITIONS),
      timestamp: UPDATED * 1000 + i,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(idOf(i)).toString('base64'),
      value: Buffer.from(JSON.stringify(valueOf(i))).toString('base64'),
      headers: [{ traceparent: TRACEPARENT }],
    });
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:eu-west-1:123456789012:cluster/bench/0f0f0f0f-0000-1111-2222-333333333333-1',
    bootstrapServers: 'b-1.bench.kafka.eu-west-1.amazonaws.com:9092',
    records,
  } as KafkaEvent;
}

/** The events of a run: `records` records in events of {@link BATCH}. */
export function* mskEvents(records: number): Generator<KafkaEvent> {
  for (let start = 0; start < records; start += BATCH)
    yield mskEvent(start, Math.min(records, start + BATCH));
}

/** The models the bench runs, as `CONSUMER_SPEC` objects. */
export const MODELS = {
  hash: { key: 'user:{id}', model: { type: 'hash', fields: [...HASH_FIELDS] } },
  counter: { key: 'clicks:{id}', model: { type: 'counter', by: 'n' } },
} as const;

export type ModelName = keyof typeof MODELS;

/** The plain commands equivalent to record `i` under a model (what `redis-cli --pipe` is fed). */
function plainCommand(model: ModelName, i: number): Command {
  const v = valueOf(i);
  if (model === 'counter') return { args: ['INCRBY', `clicks:${v.id}`, String(v.n)] };
  return { args: ['HSET', `user:${v.id}`, ...HASH_FIELDS.flatMap((f) => [f, String(v[f])])] };
}

/** Writes the RESP of every record's plain command to `path` (before timing starts). */
export async function writeRespFile(path: string, model: ModelName, records: number): Promise<void> {
  const out = createWriteStream(path);
  for (let start = 0; start < records; start += BATCH) {
    const cmds: Command[] = [];
    for (let i = start; i < Math.min(records, start + BATCH); i++) cmds.push(plainCommand(model, i));
    if (!out.write(encodeCommands(cmds))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
