import type { Context } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import {
  type ConsumerEnv,
  consumerEnvSchema,
  type ConsumerSpec,
  loadConsumerSpec,
  parseEnv,
} from '../../shared/config/index.js';
import {
  checkRedisUrls,
  createTargets,
  loaderErrors,
  secretsRuntime,
  validateEvent,
} from '../../shared/import/index.js';
import {
  type Consumer,
  type ConsumerLog,
  createConsumer,
  createKafkaDeadLetterSink,
  createLogDeadLetterSink,
  createS3DeadLetterSink,
  type DeadLetterSink,
  type KafkaHeader,
  type KafkaMessage,
  resolveConsumerBuckets,
} from '../../shared/kafka/index.js';
import { createS3Client } from '../../shared/records/index.js';
import { createLogger, createMetrics } from '../../shared/telemetry/index.js';
import {
  decodeBase64,
  decodeHeaders,
  type KafkaBatchResponse,
  type KafkaEvent,
  type KafkaEventRecord,
  kafkaEventSchema,
  kafkaItemIdentifier,
} from './event.js';

const FUNCTION = 'kafka-consumer';

/** Configuration and engine of one kafka-consumer process, built at cold start. */
export interface ConsumerRuntime {
  readonly env: ConsumerEnv;
  readonly spec: ConsumerSpec;
  /** The engine; the dead-letter producer may need the event's brokers, so it is built on the first event. */
  consumerFor(event: KafkaEvent): Promise<Consumer>;
  /** Closes the engine if it was built (a runtime replaced after a secret rotation). */
  close(): Promise<void>;
}

const logger = createLogger(FUNCTION);
const metrics = createMetrics();
const log: ConsumerLog = (level, message, fields) => logger[level](message, fields);

/**
 * Builds a runtime from environment variables (`process.env` on Lambda; the local mapping and tests pass
 * their own). A bad `CONSUMER_SPEC` or variable fails here, at cold start, with the zod message.
 */
export async function consumerRuntime(source: Record<string, string | undefined>): Promise<ConsumerRuntime> {
  const env = parseEnv(consumerEnvSchema, source);
  const spec = await loadConsumerSpec(env.CONSUMER_SPEC);
  checkRedisUrls(env);
  let consumer: Promise<Consumer> | undefined;
  const sinkFor = async (event: KafkaEvent): Promise<DeadLetterSink> => {
    if (env.DEAD_LETTER_TOPIC !== undefined) {
      const brokers = env.KAFKA_BROKERS ?? event.bootstrapServers?.split(',').filter(Boolean) ?? [];
      const sasl =
        env.KAFKA_SASL_MECHANISM === undefined
          ? undefined
          : {
              mechanism: env.KAFKA_SASL_MECHANISM,
              username: env.KAFKA_SASL_USERNAME ?? '',
              password: env.KAFKA_SASL_PASSWORD ?? '',
            };
      return createKafkaDeadLetterSink({
        brokers,
        topic: env.DEAD_LETTER_TOPIC,
        ssl: env.KAFKA_TLS,
        ...(sasl ? { sasl } : {}),
      });
    }
    if (env.DEAD_LETTER_S3 !== undefined) {
      const s3 = await createS3Client(env.S3_ENDPOINT === undefined ? {} : { endpoint: env.S3_ENDPOINT });
      return createS3DeadLetterSink({ s3, ...env.DEAD_LETTER_S3, group: env.CONSUMER_GROUP_ID });
    }
    return createLogDeadLetterSink((message, fields) => logger.warn(message, fields));
  };
  return {
    env,
    spec,
    consumerFor(event) {
      // Redis is first contacted here: whether REDIS_URL is a cluster node, the bucket parameters. A failure
      // (Redis down) fails this event and is tried again on the next one.
      consumer ??= (async () => {
        const targets = await createTargets(env);
        const buckets = await resolveConsumerBuckets(spec, targets);
        return createConsumer({
          spec,
          group: env.CONSUMER_GROUP_ID,
          watermarkPrefix: env.WATERMARK_PREFIX,
          targets,
          ...(buckets ? { buckets } : {}),
          deadLetters: await sinkFor(event),
          traceHeader: env.TRACE_HEADER,
          log,
        });
      })().catch((err: unknown) => {
        consumer = undefined;
        throw err;
      });
      return consumer;
    },
    async close() {
      const built = consumer;
      consumer = undefined;
      if (built) await built.then((c) => c.close()).catch(() => undefined);
    },
  };
}

/**
 * One record of a Lambda event as an engine message. Its key and headers are decoded on first use: most
 * records need neither (the trace header is read for a log line or a dead letter, the key when the
 * template names `{$key}`).
 */
class LambdaKafkaMessage implements KafkaMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: string;
  readonly value: Buffer | null;
  #record: KafkaEventRecord;
  #key: Buffer | null | undefined = undefined;
  #headers: KafkaHeader[] | undefined = undefined;

  constructor(r: KafkaEventRecord) {
    this.topic = r.topic;
    this.partition = r.partition;
    this.offset = r.offset;
    this.timestamp = r.timestamp;
    this.timestampType = r.timestampType;
    this.value = decodeBase64(r.value);
    this.#record = r;
  }

  /** Decoded on first use too: a key template over value fields never reads it. */
  get key(): Buffer | null {
    if (this.#key === undefined) this.#key = decodeBase64(this.#record.key);
    return this.#key;
  }

  get headers(): readonly KafkaHeader[] {
    return (this.#headers ??= decodeHeaders(this.#record.headers));
  }
}

/** The records of a Lambda Kafka event as the engine's messages, partition by partition in offset order. */
export function toKafkaMessages(event: KafkaEvent): KafkaMessage[] {
  const out: KafkaMessage[] = [];
  for (const records of Object.values(event.records)) {
    for (const r of records) out.push(new LambdaKafkaMessage(r));
  }
  return out;
}

/** Built once per process; again when a secret (`REDIS_SECRET_ARN`, `KAFKA_SASL_SECRET_ARN`) rotated. */
const lambdaRuntime = secretsRuntime(consumerRuntime, { dispose: (r) => r.close() });

/** The kafka-consumer handler over a runtime (the local event-source mapping passes its own). */
export function createConsumerHandler(
  runtime: () => ConsumerRuntime | Promise<ConsumerRuntime> = lambdaRuntime,
) {
  return middy(async (event: KafkaEvent, context?: Context): Promise<KafkaBatchResponse> => {
    const rt = await runtime();
    const consumer = await rt.consumerFor(event);
    // The local mapping invokes without a Lambda context: no deadline then.
    const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context : undefined;
    const result = await consumer.process(toKafkaMessages(event), {
      ...(remaining ? { remainingMs: () => remaining.getRemainingTimeInMillis() } : {}),
      marginMs: rt.env.TIMEOUT_MARGIN_MS,
    });
    log(result.failures.length > 0 ? 'warn' : 'info', 'batch done', {
      counts: result.counts,
      commands: result.commands,
      partitionsFailed: result.failures.length,
    });
    const c = result.counts;
    metrics.addMetric('RecordsReceived', MetricUnit.Count, c.received);
    metrics.addMetric('RecordsApplied', MetricUnit.Count, c.applied);
    metrics.addMetric('RecordsDuplicate', MetricUnit.Count, c.duplicate);
    metrics.addMetric('RecordsDeadLettered', MetricUnit.Count, c.deadLettered);
    metrics.addMetric('RecordsFailed', MetricUnit.Count, c.failed);
    return {
      batchItemFailures: result.failures.map((f) => ({
        itemIdentifier: kafkaItemIdentifier(f.topic, f.partition, f.offset),
      })),
    };
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(validateEvent(kafkaEventSchema, 'Kafka event'))
    .use(loaderErrors(FUNCTION, logger, metrics));
}

/**
 * Kafka (MSK or self-managed) → Redis behind an event-source mapping with `ReportBatchItemFailures`: records
 * applied with watermarks (exactly-once effect), poison records dead-lettered, and the first unconfirmed
 * offset per partition returned so only the tail is redelivered. Fatal errors (OOM, auth) throw.
 */
export const handler = createConsumerHandler();
