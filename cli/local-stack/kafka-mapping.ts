import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  logLevel as kafkaLogLevel,
} from 'kafkajs';
import { ConfigError } from '../../shared/errors/index.js';
import {
  type BatchVerdict,
  buildKafkaEvent,
  type EventOrigin,
  partitionKey,
  type PartitionSlice,
  readBatchResponse,
} from './kafka-event.js';
import { rejoinError } from '../../shared/kafka/group-consumer.js';
import { GroupLag } from '../../shared/kafka/group-lag.js';
import type {
  KafkaInvocation,
  KafkaMapping,
  KafkaMappingOptions,
  KafkaMappingStats,
} from './kafka-mapping-types.js';

export type { KafkaBatchResponse, KafkaEvent, KafkaEventSource } from './kafka-event.js';
export type {
  KafkaConsumerTuning,
  KafkaHandler,
  KafkaInvocation,
  KafkaMapping,
  KafkaMappingOptions,
  KafkaMappingStats,
} from './kafka-mapping-types.js';

/** Records of one partition handed to `eachBatch`, not all of them delivered yet. */
interface Part {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  messages: KafkaMessage[];
  readonly resolveOffset: (offset: string) => void;
  readonly heartbeat: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Taken {
  readonly part: Part;
  readonly slice: PartitionSlice;
}

type Settled = BatchVerdict | { readonly kind: 'discard' } | { readonly kind: 'aborted' };

const MAX_BATCH_SIZE = 10_000;
/** `eachBatch` calls kafkajs may have open at once: partitions fetched together can share one invocation. */
const PARTITIONS_GATHERED = 64;
const PLACEHOLDER_MSK_ARN =
  'arn:aws:kafka:us-east-1:000000000000:cluster/local/00000000-0000-0000-0000-000000000000-1';

const groupProtocolError = (err: unknown): unknown => rejoinError(err) ?? err;

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * A local Lambda event-source mapping for Kafka (MSK or self-managed): a kafkajs consumer in group `groupId`
 * polls `topics`, builds Lambda's event (records under `"<topic>-<partition>"`, offsets and timestamps as
 * numbers, key and value base64, headers as byte arrays), invokes `handler` in-process and commits only what
 * the handler settled:
 * - a reply without `batchItemFailures` commits every partition of the event past its last record;
 * - `batchItemFailures` commit each named partition up to (not including) the named offset and seek back to
 *   it, so delivery restarts there; partitions not named are committed in full;
 * - a throw, or an item naming no record of the event, fails the whole batch: it is delivered again, nothing
 *   committed, until it succeeds or `maxRetryAttempts` retries have failed; then it is committed past and
 *   counted as discarded.
 *
 * How it differs from Lambda's mapping:
 * - one poller and one invocation at a time per mapping (Lambda scales pollers with the lag, at most one
 *   concurrent invocation per partition); records of a partition still arrive in offset order;
 * - a failed batch is retried from the records in memory after a fixed `retryDelayMs`: the same records in
 *   the same event, as if the partitions were sought back to its first offsets (Lambda re-polls, with
 *   backoff); other partitions wait meanwhile, as they would behind a blocked Lambda poller; no bisecting, no
 *   `MaximumRecordAgeInSeconds`, no on-failure destination (see `stats.discarded` and `onInvoke`), no filter
 *   criteria, no schema registry;
 * - a `batchItemFailures` restart is fetched again at once and does not count against `maxRetryAttempts`;
 * - no payload limit (Lambda stops a batch at 6 MB); an event holds at most 64 partitions, those kafkajs
 *   fetched together; a rebalance during an invocation lets it finish and commit, then rejoins;
 * - the handler gets no Lambda `context`.
 *
 * @example
 * const mapping = await startKafkaMapping({ brokers, topics: ['orders'], groupId: 'loader', fromBeginning: true,
 *   handler: async (event) => ({ batchItemFailures: [] }) });
 * await mapping.waitForIdle();
 * await mapping.stop();
 */
export async function startKafkaMapping(options: KafkaMappingOptions): Promise<KafkaMapping> {
  if (options.brokers.length === 0) throw new ConfigError('brokers: at least one broker is needed');
  if (options.topics.length === 0) throw new ConfigError('topics: at least one topic is needed');
  const mapping = new LocalKafkaMapping(options);
  await mapping.start();
  return mapping;
}

class LocalKafkaMapping implements KafkaMapping {
  readonly stats: KafkaMappingStats = { invocations: 0, records: 0, failures: 0, retries: 0, discarded: 0 };
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly lag: GroupLag;
  private readonly origin: EventOrigin;
  private readonly batchSize: number;
  private readonly batchWindowMs: number;
  private readonly maxRetryAttempts: number;
  private readonly retryDelayMs: number;
  private readonly heartbeatMs: number;
  private readonly pending: Part[] = [];
  private loop: Promise<void> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  /** Ends a batching window or retry pause early (enough records, or stopping). */
  private wake: (() => void) | undefined;
  private gathering = false;
  /** A heartbeat failed during an invocation (usually a rebalance): rejoin once it is settled. */
  private groupError: unknown;
  private lastError: unknown;

  constructor(private readonly options: KafkaMappingOptions) {
    this.batchSize = integer('batchSize', options.batchSize ?? 100, 1, MAX_BATCH_SIZE);
    this.batchWindowMs = integer('batchWindowMs', options.batchWindowMs ?? 0, 0, 300_000);
    this.maxRetryAttempts = integer('maxRetryAttempts', options.maxRetryAttempts ?? -1, -1, 10_000);
    this.retryDelayMs = integer('retryDelayMs', options.retryDelayMs ?? 100, 0, 900_000);
    const tuning = options.consumer ?? {};
    this.heartbeatMs = tuning.heartbeatInterval ?? 3000;
    this.origin = {
      eventSource: options.eventSource ?? 'aws:kafka',
      eventSourceArn: options.eventSourceArn ?? PLACEHOLDER_MSK_ARN,
      bootstrapServers: options.brokers.join(','),
    };
    this.kafka = new Kafka({
      clientId: `rbl-local-esm-${options.groupId}`,
      brokers: [...options.brokers],
      logLevel: options.logLevel ?? kafkaLogLevel.ERROR,
      connectionTimeout: 10_000,
    });
    this.consumer = this.kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: 500,
      ...tuning,
      allowAutoTopicCreation: true,
    });
    this.lag = new GroupLag(this.kafka, options.groupId, options.fromBeginning === true);
  }

  async start(): Promise<void> {
    const { consumer } = this;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.lag.assigned(payload.memberAssignment));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.lastError = payload.error;
    });
    await consumer.connect();
    try {
      await consumer.subscribe({
        topics: [...this.options.topics],
        fromBeginning: this.options.fromBeginning,
      });
      // Resolves once the group is joined and the partitions are assigned.
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: PARTITIONS_GATHERED,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect();
      throw err;
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    // consumer.stop() stops the fetchers at once; they end when the batches they handed over are settled.
    const stopping = this.consumer.stop();
    for (const part of this.pending.splice(0)) part.resolve();
    await stopping;
    await this.consumer.disconnect();
    await this.lag.close();
  }

  waitForIdle(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.lag.waitForIdle(
      options.timeoutMs ?? 30_000,
      () => this.stopping,
      () => this.lastError,
    );
  }

  /** kafkajs' `eachBatch`: hands the records to the invocation loop; settles once they are all settled. */
  private onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.stopping || batch.messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        topic: batch.topic,
        partition: batch.partition,
        key: partitionKey(batch.topic, batch.partition),
        messages: [...batch.messages],
        resolveOffset: payload.resolveOffset,
        heartbeat: payload.heartbeat,
        resolve,
        reject,
      });
      if (this.gathering && this.pendingRecords() >= this.batchSize) this.wake?.();
      this.kick();
    });
  }

  private pendingRecords(): number {
    return this.pending.reduce((n, p) => n + p.messages.length, 0);
  }

  private kick(): void {
    if (this.loop !== undefined) return;
    this.loop = this.drain()
      .catch((err: unknown) => {
        this.lastError = err;
        for (const part of this.pending.splice(0)) part.reject(err);
      })
      .finally(() => {
        this.loop = undefined;
        if (this.pending.length > 0 && !this.stopping) this.kick();
      });
  }

  /** Invokes the handler until every pending record is settled (one invocation at a time). */
  private async drain(): Promise<void> {
    await this.gather();
    while (!this.stopping && this.pending.length > 0) {
      const taken = this.take();
      const settled = await this.invoke(taken);
      if (settled.kind !== 'aborted') await this.settle(taken, settled);
      if (this.groupError !== undefined) {
        // kafkajs rejoins the group when eachBatch fails with the rebalance error; unsettled records are
        // fetched again from the committed offsets.
        const err = this.groupError;
        this.groupError = undefined;
        throw err;
      }
      if (settled.kind === 'aborted') return;
    }
  }

  /** The batching window: wait for `batchSize` records or `batchWindowMs`, whichever comes first. */
  private async gather(): Promise<void> {
    if (this.batchWindowMs === 0) {
      // Batches kafkajs hands over from one round of fetches arrive within the same turn of the event loop.
      await nextTurn();
      return;
    }
    if (this.pendingRecords() >= this.batchSize) return;
    this.gathering = true;
    try {
      await this.pause(this.batchWindowMs);
    } finally {
      this.gathering = false;
    }
  }

  private async pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  /** Up to `batchSize` records, whole partitions first in arrival order. */
  private take(): Taken[] {
    let room = this.batchSize;
    const taken: Taken[] = [];
    for (const part of this.pending) {
      if (room === 0) break;
      const messages = part.messages.slice(0, room);
      room -= messages.length;
      taken.push({ part, slice: { topic: part.topic, partition: part.partition, messages } });
    }
    return taken;
  }

  /** Invokes the handler with `taken` until it succeeds, the batch is discarded, or the mapping stops. */
  private async invoke(taken: readonly Taken[]): Promise<Settled> {
    const slices = taken.map((t) => t.slice);
    const records = slices.reduce((n, s) => n + s.messages.length, 0);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        await this.pause(this.retryDelayMs);
        if (this.stopping || this.groupError !== undefined) return { kind: 'aborted' };
        this.stats.retries++;
      }
      // A fresh event per attempt: the handler may have changed the last one.
      const event = buildKafkaEvent(this.origin, slices);
      this.stats.invocations++;
      this.stats.records += records;
      const started = Date.now();
      let verdict: BatchVerdict;
      let error: unknown;
      try {
        verdict = readBatchResponse(await this.withHeartbeats(() => this.options.handler(event)), slices);
        if (verdict.kind === 'invalid') error = new Error(verdict.reason);
      } catch (err) {
        verdict = { kind: 'invalid', reason: String(err) };
        error = err;
      }
      const durationMs = Date.now() - started;
      if (verdict.kind === 'success') {
        this.report({ event, records, attempt, outcome: 'success', durationMs });
        return verdict;
      }
      this.stats.failures++;
      if (verdict.kind === 'partial') {
        const restartAt = Object.fromEntries(verdict.restartAt);
        this.report({ event, records, attempt, outcome: 'partial', restartAt, durationMs });
        return verdict;
      }
      const discarded = this.maxRetryAttempts >= 0 && attempt >= this.maxRetryAttempts;
      this.report({ event, records, attempt, outcome: 'error', error, discarded, durationMs });
      if (discarded) {
        this.stats.discarded++;
        return { kind: 'discard' };
      }
    }
  }

  /** Keeps the group session alive while the handler runs (kafkajs heartbeats only between batches). */
  private async withHeartbeats<T>(run: () => Promise<T>): Promise<T> {
    let beating: Promise<void> | undefined;
    const timer = setInterval(() => {
      const part = this.pending[0];
      if (beating !== undefined || part === undefined) return;
      beating = part
        .heartbeat()
        .catch((err: unknown) => {
          this.groupError ??= groupProtocolError(err);
        })
        .finally(() => {
          beating = undefined;
        });
    }, this.heartbeatMs);
    try {
      return await run();
    } finally {
      clearInterval(timer);
      await beating;
    }
  }

  /** Commits what the verdict settled, seeks partitions with failures back, and releases finished batches. */
  private async settle(
    taken: readonly Taken[],
    settled: Exclude<Settled, { kind: 'aborted' }>,
  ): Promise<void> {
    const restartAt = settled.kind === 'partial' ? settled.restartAt : new Map<string, number>();
    const commits = taken.map(({ part, slice }) => {
      const restart = restartAt.get(part.key);
      const next = restart ?? Number(slice.messages[slice.messages.length - 1]!.offset) + 1;
      return { topic: part.topic, partition: part.partition, offset: String(next) };
    });
    try {
      await this.consumer.commitOffsets(commits);
    } catch (err) {
      throw groupProtocolError(err);
    }
    for (const { part, slice } of taken) {
      const restart = restartAt.get(part.key);
      if (restart !== undefined) {
        // Drop what is left of this fetch: kafkajs fetches the partition again from the restart offset.
        this.consumer.seek({ topic: part.topic, partition: part.partition, offset: String(restart) });
        part.messages = [];
      } else {
        part.resolveOffset(slice.messages[slice.messages.length - 1]!.offset);
        part.messages.splice(0, slice.messages.length);
      }
    }
    // Finished batches are released to kafkajs; partially delivered ones go to the back, for fairness.
    const unfinished = this.pending.filter((p) => p.messages.length > 0);
    const touched = new Set(taken.map((t) => t.part));
    for (const part of this.pending) if (part.messages.length === 0) part.resolve();
    this.pending.splice(
      0,
      this.pending.length,
      ...unfinished.filter((p) => !touched.has(p)),
      ...unfinished.filter((p) => touched.has(p)),
    );
  }

  private report(info: KafkaInvocation): void {
    try {
      this.options.onInvoke?.(info);
    } catch (err) {
      process.emitWarning(`kafka mapping onInvoke threw: ${String(err)}`);
    }
  }
}
