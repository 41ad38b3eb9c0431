import type { ConnectionOptions } from 'node:tls';
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Producer, SASLOptions } from 'kafkajs';
import { type RetryPolicy, withRetry } from '../errors/index.js';
import { s3Sdk } from '../records/index.js';
import type { DeadLetter, DeadLetterSink, KafkaMessage } from './types.js';

/** Names of the headers a dead letter carries besides the record's own. */
export const DEAD_LETTER_HEADERS = {
  topic: 'rbl-dlq-topic',
  partition: 'rbl-dlq-partition',
  offset: 'rbl-dlq-offset',
  timestamp: 'rbl-dlq-timestamp',
  errorClass: 'rbl-dlq-error-class',
  reason: 'rbl-dlq-reason',
  traceId: 'rbl-dlq-trace-id',
} as const;

const SEND_RETRY: RetryPolicy = { retries: 3, baseMs: 100, maxMs: 2_000 };

/** A dead letter as one JSON object (the S3 and log form): key and value base64, so any bytes survive. */
export function deadLetterJson(letter: DeadLetter): Record<string, unknown> {
  const m = letter.message;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    ...(m.timestampType === undefined ? {} : { timestampType: m.timestampType }),
    key: m.key === null ? null : m.key.toString('base64'),
    value: m.value === null ? null : m.value.toString('base64'),
    headers: m.headers.map((h) => ({ key: h.key, value: h.value.toString('base64') })),
    errorClass: letter.errorClass,
    reason: letter.reason,
    ...(letter.traceId === undefined ? {} : { traceId: letter.traceId }),
  };
}

/**
 * A stable id for a batch: the same records give the same id, so the dead letters of a redelivered batch
 * overwrite their S3 object instead of adding a second one.
 */
export function deadLetterBatchId(messages: readonly KafkaMessage[]): string {
  const hash = createHash('sha256');
  for (const m of messages) hash.update(`${m.topic}\0${m.partition}\0${m.offset}\n`);
  const first = messages[0];
  const head = first === undefined ? 'empty' : `${first.topic}-${first.partition}-${first.offset}`;
  return `${head}-${hash.digest('hex').slice(0, 16)}`;
}

/** Settings of {@link createKafkaDeadLetterSink}. */
export interface KafkaDeadLetterOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** TLS to the brokers: `true` for the system CAs, or `tls.connect` options (a private CA). */
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
  /** @default 'redis-bulk-loader' */
  readonly clientId?: string;
}

/**
 * Dead letters to a Kafka topic through a kafkajs producer (created on first use, kept while warm): the
 * original key, value and headers, plus the `rbl-dlq-*` headers ({@link DEAD_LETTER_HEADERS}) naming where
 * the record came from and why it was refused. Sent with `acks: -1`; resolves only when every letter is stored.
 *
 * @example
 * const sink = createKafkaDeadLetterSink({ brokers: ['b-1:9092'], topic: 'orders.dlq' });
 */
export function createKafkaDeadLetterSink(options: KafkaDeadLetterOptions): DeadLetterSink {
  let producer: Promise<Producer> | undefined;
  const connect = async (): Promise<Producer> => {
    const { Kafka, logLevel, Partitioners } = await import('kafkajs');
    const kafka = new Kafka({
      clientId: options.clientId ?? 'redis-bulk-loader',
      brokers: [...options.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 10_000,
      ...(options.ssl ? { ssl: true } : {}),
      ...(options.sasl ? { sasl: options.sasl } : {}),
    });
    const p = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: true,
    });
    await p.connect();
    return p;
  };
  return {
    name: `kafka topic ${options.topic}`,
    async send(letters) {
      if (letters.length === 0) return;
      // kafkajs retries a failed send itself (5 times with backoff) before it rejects.
      producer ??= connect().catch((err: unknown) => {
        producer = undefined;
        throw err;
      });
      const p = await producer;
      await p.send({
        topic: options.topic,
        acks: -1,
        messages: letters.map((l) => {
          const m = l.message;
          const headers: Record<string, Buffer[] | string[]> = {};
          for (const h of m.headers) ((headers[h.key] ??= []) as Buffer[]).push(h.value);
          headers[DEAD_LETTER_HEADERS.topic] = [m.topic];
          headers[DEAD_LETTER_HEADERS.partition] = [String(m.partition)];
          headers[DEAD_LETTER_HEADERS.offset] = [String(m.offset)];
          headers[DEAD_LETTER_HEADERS.timestamp] = [String(m.timestamp)];
          headers[DEAD_LETTER_HEADERS.errorClass] = [l.errorClass];
          headers[DEAD_LETTER_HEADERS.reason] = [l.reason];
          if (l.traceId !== undefined) headers[DEAD_LETTER_HEADERS.traceId] = [l.traceId];
          return { key: m.key, value: m.value, headers };
        }),
      });
    },
    async close() {
      const p = producer;
      producer = undefined;
      if (p) await (await p.catch(() => undefined))?.disconnect();
    },
  };
}

/** Settings of {@link createS3DeadLetterSink}. */
export interface S3DeadLetterOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix, e.g. `dead-letters/`. */
  readonly prefix: string;
  /** The consumer group: part of the object key. */
  readonly group: string;
}

/**
 * Dead letters to S3: one JSONL object per batch at `<prefix><group>/<batch id>.jsonl`, a line per record
 * ({@link deadLetterJson}). The key depends only on the records, so a redelivery overwrites it.
 */
export function createS3DeadLetterSink(options: S3DeadLetterOptions): DeadLetterSink {
  return {
    name: `s3://${options.bucket}/${options.prefix}`,
    async send(letters, batchId) {
      if (letters.length === 0) return;
      const { PutObjectCommand } = await s3Sdk();
      const body = letters.map((l) => JSON.stringify(deadLetterJson(l))).join('\n') + '\n';
      const key = `${options.prefix}${options.group}/${batchId}.jsonl`;
      await withRetry(
        () =>
          options.s3.send(
            new PutObjectCommand({
              Bucket: options.bucket,
              Key: key,
              Body: body,
              ContentType: 'application/x-ndjson',
            }),
          ),
        SEND_RETRY,
      );
    },
    async close() {},
  };
}

/** Writes one warning with its fields: a structured logger's `warn`. */
export type WarnLog = (message: string, fields: Record<string, unknown>) => void;

/** A JSON line on stderr: `{"level":"warn","message":…,"deadLetter":{…}}`. */
const jsonLineWarn: WarnLog = (message, fields) =>
  console.warn(JSON.stringify({ level: 'warn', message, deadLetter: fields }));

/**
 * The fallback when no destination is configured: each dead letter is logged as one warning `dead letter`
 * with the whole record (key, value and headers base64) as its fields, so nothing is silently dropped.
 * Configure `DEAD_LETTER_TOPIC` or `DEAD_LETTER_S3` for anything that must be replayed.
 *
 * @example
 * createLogDeadLetterSink((message, fields) => logger.warn(message, fields)); // a Powertools logger
 */
export function createLogDeadLetterSink(warn: WarnLog = jsonLineWarn): DeadLetterSink {
  return {
    name: 'the log (no DEAD_LETTER_TOPIC or DEAD_LETTER_S3 set)',
    async send(letters) {
      for (const l of letters) warn('dead letter', deadLetterJson(l));
    },
    async close() {},
  };
}
