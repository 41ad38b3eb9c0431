import type { Command } from '../redis/index.js';

/** One Kafka record header (a name may repeat). */
export interface KafkaHeader {
  readonly key: string;
  readonly value: Buffer;
}

/**
 * One Kafka record as the engine sees it, whatever delivered it (a Lambda event, `consume`, the local
 * event-source mapping). `value: null` is a tombstone.
 */
export interface KafkaMessage {
  readonly topic: string;
  readonly partition: number;
  /** A safe integer (Kafka offsets are int64; real ones stay far below 2^53). */
  readonly offset: number;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly timestampType?: string | undefined;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly KafkaHeader[];
}

/**
 * What one record becomes: the commands that apply it (one shard: `routeKey` picks it), nothing at all
 * (`noop`: e.g. a hash update whose fields are all null), or a dead letter with its reason.
 */
export type RecordPlan =
  | { readonly kind: 'write'; readonly routeKey: string; readonly commands: readonly Command[] }
  | { readonly kind: 'noop' }
  | { readonly kind: 'reject'; readonly errorClass: string; readonly reason: string };

/** A record that could not be applied because of its content, on its way to the dead-letter destination. */
export interface DeadLetter {
  readonly message: KafkaMessage;
  /** `InputError` for a record the mapper refused, or the Redis data error's class. */
  readonly errorClass: string;
  readonly reason: string;
  readonly traceId?: string | undefined;
}

/** Where dead letters go: a Kafka topic or S3. `send` resolves once every letter is durably stored. */
export interface DeadLetterSink {
  /** Shown in logs, e.g. `kafka topic orders.dlq` or `s3://bucket/dead-letters/`. */
  readonly name: string;
  send(letters: readonly DeadLetter[], batchId: string): Promise<void>;
  close(): Promise<void>;
}

/** How one batch went. Counts reconcile: `received = applied + duplicate + deadLettered + failed`. */
export interface BatchCounts {
  received: number;
  /** Written (or nothing to write) and confirmed by Redis. */
  applied: number;
  /** At or below the shard's watermark: applied by an earlier delivery, skipped. */
  duplicate: number;
  deadLettered: number;
  /** Not confirmed: delivered again from the partition's first failed offset. */
  failed: number;
}

/** The first record of a partition that is not confirmed: delivery must restart here. */
export interface PartitionFailure {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Why it is not confirmed (the transient error). */
  readonly reason: string;
}

/** The outcome of {@link processBatch}. */
export interface BatchResult {
  readonly counts: BatchCounts;
  /** One entry per partition whose tail is not confirmed; empty when the whole batch is settled. */
  readonly failures: readonly PartitionFailure[];
  /** Per partition (`topic-partition`), the offset after the confirmed prefix (commit point). */
  readonly confirmed: ReadonlyMap<string, number>;
  readonly deadLetters: readonly DeadLetter[];
  /**
   * Data commands sent to Redis for the batch, retries included: one `EVAL` per watermarked unit, or the
   * commands of its transaction (its writes and six more) and one `EVAL` after it to move its pending mark;
   * the plain commands without watermarks. Control commands (a restarted shard's watermark check) are not counted.
   */
  readonly commands: number;
}
