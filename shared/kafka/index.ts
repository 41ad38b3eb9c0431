/**
 * Kafka into Redis: record mapping, watermarked (exactly-once effect) writes, dead letters and trace ids,
 * shared by the kafka-consumer Lambda, the local event-source mapping and `consume`.
 *
 * @example
 * import { createConsumer, createLogDeadLetterSink } from '../kafka/index.js';
 * const consumer = createConsumer({ spec, group: 'profiles', targets, deadLetters: createLogDeadLetterSink() });
 * const result = await consumer.process(messages); // result.failures: first unconfirmed offset per partition
 *
 * @module
 */
export { resolveConsumerBuckets } from './buckets.js';
export {
  type Consumer,
  type ConsumerLog,
  type ConsumerOptions,
  createConsumer,
  type ProcessOptions,
} from './consumer.js';
export {
  createKafkaDeadLetterSink,
  createLogDeadLetterSink,
  createS3DeadLetterSink,
  DEAD_LETTER_HEADERS,
  deadLetterBatchId,
  deadLetterJson,
  type KafkaDeadLetterOptions,
  type S3DeadLetterOptions,
} from './dead-letter.js';
export { createRecordMapper, type RecordMapper } from './mapper.js';
export { traceIdOf } from './trace.js';
export type {
  BatchCounts,
  BatchResult,
  DeadLetter,
  DeadLetterSink,
  KafkaHeader,
  KafkaMessage,
  PartitionFailure,
  RecordPlan,
} from './types.js';
export {
  APPLY_SCRIPT,
  APPLY_UNIFORM_SCRIPT,
  pendingKey,
  slotWatermarkKey,
  streamKeys,
  watermarkKey,
} from './watermark.js';
export {
  type ConsumeProgress,
  type ConsumeSummary,
  type GroupConsumerOptions,
  type GroupTuning,
  type KafkaSasl,
  kafkaError,
  type PartitionProgress,
  runGroupConsumer,
} from './group-consumer.js';
export { GroupLag, type PartitionLag } from './group-lag.js';
