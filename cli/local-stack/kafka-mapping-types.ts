import type { logLevel } from 'kafkajs';
import type { GroupTuning } from '../../shared/kafka/group-consumer.js';
import type { KafkaBatchResponse, KafkaEvent, KafkaEventSource } from './kafka-event.js';

/** A Kafka-triggered Lambda handler, called in-process. */
export type KafkaHandler = (event: KafkaEvent) => Promise<KafkaBatchResponse | void | undefined>;

/** kafkajs consumer settings worth tuning (group joins, rebalances, how long a fetch waits for data). */
export type KafkaConsumerTuning = GroupTuning;

/** Options of `startKafkaMapping`. */
export interface KafkaMappingOptions {
  readonly brokers: readonly string[];
  readonly topics: readonly string[];
  /** The consumer group, as `ConsumerGroupId` of the mapping (Lambda's default is the mapping's UUID). */
  readonly groupId: string;
  readonly handler: KafkaHandler;
  /** @default 'aws:kafka' */
  readonly eventSource?: KafkaEventSource;
  /** Only in `aws:kafka` events. @default a placeholder MSK cluster ARN */
  readonly eventSourceArn?: string;
  /** Records per invocation, 1 to 10000. @default 100 (Lambda's default) */
  readonly batchSize?: number;
  /**
   * How long to gather records before invoking, unless `batchSize` records are there first
   * (`MaximumBatchingWindowInSeconds`, in ms). 0 invokes with what one round of fetches returned.
   * @default 0
   */
  readonly batchWindowMs?: number;
  /**
   * Start at the earliest offset where the group has none committed (`StartingPosition: TRIM_HORIZON`).
   * @default false (LATEST)
   */
  readonly fromBeginning?: boolean;
  /** Retries of a failed batch before it is discarded; -1 retries until it succeeds. @default -1 */
  readonly maxRetryAttempts?: number;
  /** Pause before each retry of a failed batch. @default 100 */
  readonly retryDelayMs?: number;
  readonly consumer?: KafkaConsumerTuning;
  /** @default ERROR */
  readonly logLevel?: logLevel;
  /** Told about every invocation once its outcome is known; must not throw. */
  readonly onInvoke?: (info: KafkaInvocation) => void;
}

/** One invocation of the handler. */
export interface KafkaInvocation {
  readonly event: KafkaEvent;
  readonly records: number;
  /** 0 for the first delivery of a batch, n for its n-th retry after a failure. */
  readonly attempt: number;
  /**
   * `success`: everything committed. `partial`: `batchItemFailures` named offsets, delivery of those partitions
   * restarts there. `error`: the handler threw or replied with an invalid `batchItemFailures`.
   */
  readonly outcome: 'success' | 'partial' | 'error';
  /** With `partial`: per `"<topic>-<partition>"`, the offset delivery restarts at. */
  readonly restartAt?: Readonly<Record<string, number>>;
  readonly error?: unknown;
  /** With `error`: the last allowed attempt failed, the batch is committed past and dropped. */
  readonly discarded?: boolean;
  readonly durationMs: number;
}

/** Counters of a mapping (retries count in `invocations` too). */
export interface KafkaMappingStats {
  invocations: number;
  /** Records handed to the handler, redeliveries included. */
  records: number;
  /** Invocations that threw, replied invalidly or reported `batchItemFailures`. */
  failures: number;
  /** Invocations that repeated a batch after the handler threw or replied invalidly. */
  retries: number;
  /** Batches dropped after `maxRetryAttempts` (Lambda would send them to the on-failure destination). */
  discarded: number;
}

/** A running local event-source mapping. */
export interface KafkaMapping {
  /** Stops fetching, waits for the invocation in flight (and its commit), leaves the group, disconnects. */
  stop(): Promise<void>;
  /**
   * Resolves once the group's committed offset of every partition assigned to this mapping has reached the
   * partition's high watermark (a partition without a commit counts from where the mapping started it:
   * its low watermark with `fromBeginning`, else its high watermark when it was assigned).
   * Rejects after `timeoutMs` naming the partitions still behind.
   */
  waitForIdle(options?: { timeoutMs?: number }): Promise<void>;
  readonly stats: Readonly<KafkaMappingStats>;
}
