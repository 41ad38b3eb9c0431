import type { MSKEvent, MSKRecord, MSKRecordHeader, SelfManagedKafkaEvent } from 'aws-lambda';
import type { IHeaders, KafkaMessage } from 'kafkajs';

/**
 * What a Kafka-triggered Lambda function may return to report a partial batch failure (`FunctionResponseTypes:
 * ReportBatchItemFailures`): per partition, the first offset that was not processed. `partition` is the event's
 * record key, `"<topic>-<partition>"`. Structurally identical to the canonical type in
 * `functions/kafka-consumer/event.ts`, so either can stand for the other.
 */
export type KafkaBatchResponse = {
  batchItemFailures?: Array<{ itemIdentifier: { partition: string; offset: number } }>;
};

/** `eventSource` of the two Kafka event shapes: Amazon MSK, or a self-managed cluster. */
export type KafkaEventSource = 'aws:kafka' | 'SelfManagedKafka';

/** Either Kafka event Lambda delivers. */
export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/** Records of one partition taken into one event, in offset order. */
export interface PartitionSlice {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
}

/** Where the event says its records come from. */
export interface EventOrigin {
  readonly eventSource: KafkaEventSource;
  /** Only in `aws:kafka` events. */
  readonly eventSourceArn: string;
  /** `host:port,host:port`. */
  readonly bootstrapServers: string;
}

/** How Lambda reads a handler's reply (see {@link readBatchResponse}). */
export type BatchVerdict =
  | { readonly kind: 'success' }
  /** Per event key (`<topic>-<partition>`), the offset delivery restarts at. */
  | { readonly kind: 'partial'; readonly restartAt: ReadonlyMap<string, number> }
  /** A reply Lambda treats as a failure of the whole batch. */
  | { readonly kind: 'invalid'; readonly reason: string };

/** The key of a partition's records in the event and in `itemIdentifier.partition`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** kafkajs keeps a record batch's timestamp type on each message (undeclared): 1 is LOG_APPEND_TIME. */
function timestampType(message: KafkaMessage): MSKRecord['timestampType'] {
  const context = (message as { batchContext?: { timestampType?: number } }).batchContext;
  return context?.timestampType === 1 ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
}

/**
 * Lambda's header list: one single-key object per header, its value as an array of bytes. kafkajs groups
 * repeated names into an array at the first one's place, so the order of interleaved repeated names is lost;
 * a null header value becomes an empty array.
 */
function lambdaHeaders(headers: IHeaders | undefined): MSKRecordHeader[] {
  const out: MSKRecordHeader[] = [];
  for (const [name, raw] of Object.entries(headers ?? {})) {
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      const bytes = value === undefined || value === null ? Buffer.alloc(0) : Buffer.from(value);
      out.push({ [name]: [...bytes] });
    }
  }
  return out;
}

/**
 * One record as Lambda delivers it: `offset` and `timestamp` as numbers, `key` and `value` base64; `key` is
 * left out when the record has none, and so is `value` for a tombstone (what Lambda sends: Powertools'
 * Kafka consumer had to learn to handle both a null and a missing `value`, aws-powertools/
 * powertools-lambda-typescript#4988 and #5016). @types/aws-lambda declares both as always present strings.
 */
export function lambdaRecord(topic: string, partition: number, message: KafkaMessage): MSKRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: timestampType(message),
    ...(message.key === null ? {} : { key: message.key.toString('base64') }),
    ...(message.value === null ? {} : { value: message.value.toString('base64') }),
    headers: lambdaHeaders(message.headers),
  } as MSKRecord;
}

/** The event for `slices`, in Lambda's shape: records grouped under `"<topic>-<partition>"`. */
export function buildKafkaEvent(origin: EventOrigin, slices: readonly PartitionSlice[]): KafkaEvent {
  const records: MSKEvent['records'] = {};
  for (const { topic, partition, messages } of slices) {
    records[partitionKey(topic, partition)] = messages.map((m) => lambdaRecord(topic, partition, m));
  }
  return origin.eventSource === 'aws:kafka'
    ? {
        eventSource: 'aws:kafka',
        eventSourceArn: origin.eventSourceArn,
        bootstrapServers: origin.bootstrapServers,
        records,
      }
    : { eventSource: 'SelfManagedKafka', bootstrapServers: origin.bootstrapServers, records };
}

function asOffset(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  // A handler in another language may send the offset as a string of digits.
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Reads a handler's reply as Lambda does: nothing, no `batchItemFailures`, or an empty or null list is a
 * success; otherwise every item must name a partition of the event (`"<topic>-<partition>"`) and the offset
 * of one of its records, or the whole batch has failed. Of several items for one partition the lowest offset
 * counts.
 */
export function readBatchResponse(response: unknown, slices: readonly PartitionSlice[]): BatchVerdict {
  if (response === undefined || response === null || typeof response !== 'object') return { kind: 'success' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid', reason: 'batchItemFailures is not an array' };
  if (failures.length === 0) return { kind: 'success' };
  const offsets = new Map<string, Set<number>>();
  for (const s of slices) {
    offsets.set(partitionKey(s.topic, s.partition), new Set(s.messages.map((m) => Number(m.offset))));
  }
  const restartAt = new Map<string, number>();
  for (const [index, item] of failures.entries()) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier as
      { partition?: unknown; offset?: unknown } | null | undefined;
    const partition = id?.partition;
    const offset = asOffset(id?.offset);
    const known = typeof partition === 'string' ? offsets.get(partition) : undefined;
    if (known === undefined || offset === undefined || !known.has(offset)) {
      return {
        kind: 'invalid',
        reason: `batchItemFailures[${index}] names no record of the batch: ${JSON.stringify(item)}`,
      };
    }
    const key = partition as string;
    restartAt.set(key, Math.min(offset, restartAt.get(key) ?? offset));
  }
  return { kind: 'partial', restartAt };
}
