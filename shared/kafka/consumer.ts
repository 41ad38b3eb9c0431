import { randomBytes } from 'node:crypto';
import type { ConsumerSpec } from '../config/index.js';
import { ConfigError, classifyError, ServerResetError } from '../errors/index.js';
import type { BucketParams } from '../mapping/index.js';
import { clusterOf, SLOT_COUNT, type Target } from '../redis/index.js';
import { createJumpRouter, type Router } from '../sharding/index.js';
import { deadLetterBatchId } from './dead-letter.js';
import { createRecordMapper, type RecordMapper } from './mapper.js';
import {
  type AheadContext,
  type AheadState,
  runShard,
  type SentUnit,
  sendAhead,
  settled,
} from './shard-runner.js';
import { commandBytes, Entry, type Stream } from './stream.js';
import type {
  BatchCounts,
  BatchResult,
  DeadLetter,
  DeadLetterSink,
  KafkaMessage,
  PartitionFailure,
} from './types.js';
import { streamKeys } from './watermark.js';

/** One structured log line about the consumer (a record, a partition, a shard). */
export type ConsumerLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields: Record<string, unknown>,
) => void;

/** Settings of {@link createConsumer}. */
export interface ConsumerOptions {
  readonly spec: ConsumerSpec;
  /** The consumer group id: part of every watermark key. */
  readonly group: string;
  /** @default 'rbl:wm:' */
  readonly watermarkPrefix?: string;
  /**
   * One per shard; keys are spread by the jump router, as imports spread them. Or one Redis Cluster, where
   * each slot a partition touches gets its own watermark (hash-tagged into that slot).
   */
  readonly targets: readonly Target[];
  /** Required for the bucketed model and a bucketed counter (see `resolveConsumerBuckets`). */
  readonly buckets?: BucketParams;
  readonly deadLetters: DeadLetterSink;
  /** @default 'traceparent' */
  readonly traceHeader?: string;
  /**
   * Apply units of idempotent writes (`SET`, `HSET`, `HDEL`, `DEL`) in `MULTI`/`EXEC` transactions with the
   * watermark instead of scripts, on a target that can (a standalone server over TCP). Same guarantee, about
   * a tenth faster for Redis (bench/RESULTS.md, kafka-lambda); a server that bills every command (Upstash over
   * TCP) is cheaper with scripts: one command per unit. @default true
   */
  readonly transactions?: boolean;
  readonly log?: ConsumerLog;
}

/** Limits of one {@link Consumer.process} call. */
export interface ProcessOptions {
  /** Milliseconds left before the caller must answer (a Lambda's `getRemainingTimeInMillis`). */
  readonly remainingMs?: () => number;
  /** Stop retrying this long before the deadline. @default 10000 */
  readonly marginMs?: number;
}

/** The Kafka engine of one process: shared by the Lambda handler, `consume` and the local mapping. */
export interface Consumer {
  /**
   * Applies a batch. Records of a partition are applied in offset order; on each shard a watermark per
   * (group, topic, partition) advances in the same script or transaction as the writes, so a record at or below it is
   * skipped as a duplicate. Records refused for their content go to the dead letters and the partition goes
   * on. A transient Redis failure that outlasts the retries leaves the partition's tail pending: `failures`
   * names, per partition, the first offset not confirmed. A fatal error (OOM, auth, lost writes after a
   * restart) is thrown.
   */
  process(messages: readonly KafkaMessage[], options?: ProcessOptions): Promise<BatchResult>;
  close(): Promise<void>;
}

const partitionId = (topic: string, partition: number): string => `${topic}-${partition}`;

/**
 * Creates the consumer engine.
 *
 * @example
 * const consumer = createConsumer({ spec, group: 'profiles', targets, deadLetters: createLogDeadLetterSink() });
 * const { counts, failures } = await consumer.process(messages);
 */
export function createConsumer(options: ConsumerOptions): Consumer {
  const { spec, group, targets, deadLetters } = options;
  const prefix = options.watermarkPrefix ?? 'rbl:wm:';
  const traceHeader = options.traceHeader ?? 'traceparent';
  const log: ConsumerLog = options.log ?? (() => {});
  // A Redis Cluster is one target; its "shards" are slots, each with its own watermark per partition.
  const cluster = clusterOf(targets);
  if (cluster && prefix.includes('{'))
    throw new ConfigError(
      `watermark prefix '${prefix}' holds '{': on a Redis Cluster the watermark's hash tag must be its first one`,
    );
  const router: Router = cluster
    ? { shards: SLOT_COUNT, route: (key) => cluster.keySlot!(key) }
    : createJumpRouter(targets.length);
  const targetOf = (shard: number): Target => cluster ?? targets[shard]!;
  const keysOf = (shard: number, topic: string, partition: number) =>
    streamKeys(prefix, group, topic, partition, cluster ? shard : undefined);
  const transactions = options.transactions ?? true;
  const map: RecordMapper = createRecordMapper(spec, options.buckets);
  // Per shard, the highest offset each watermark was seen confirmed at: after a server restart, a watermark
  // below it proves that confirmed writes were lost with it.
  const seen = new Map<number, Map<string, number>>();
  const seenOn = (shard: number): Map<string, number> => {
    let m = seen.get(shard);
    if (m === undefined) seen.set(shard, (m = new Map()));
    return m;
  };

  async function checkReset(shard: number, error: ServerResetError): Promise<void> {
    // In a cluster the master that restarted held many slots: every watermark seen is checked.
    const known = cluster
      ? [...seen.values()].flatMap((m) => [...m.entries()])
      : [...seenOn(shard).entries()];
    const lost: string[] = [];
    if (known.length > 0) {
      const replies = await targetOf(shard).exec(known.map(([key]) => ({ key, args: ['GET', key] })));
      known.forEach(([key, offset], i) => {
        const now = replies[i];
        const at = typeof now === 'string' ? Number(now) : -1;
        if (at < offset) lost.push(`${key} is at ${at < 0 ? 'nothing' : at}, was confirmed at ${offset}`);
      });
    }
    if (lost.length > 0) {
      throw new ServerResetError(
        `${error.message}; confirmed writes were lost with it: watermark ${lost.slice(0, 5).join('; ')}` +
          `${lost.length > 5 ? ` (and ${lost.length - 5} more)` : ''}. Those records were committed to Kafka: ` +
          `replay them (reset the consumer group's offsets) after giving the server persistence`,
        { shard: error.shard, before: error.before, after: error.after, cause: error },
      );
    }
    log('warn', 'shard restarted; its watermarks show no confirmed write was lost', {
      shard: targetOf(shard).name,
      watermarksChecked: known.length,
      reset: error.message,
    });
  }

  /** One log line per dead letter, with its trace id; `failure` when it could not be written. */
  function logLetter(letter: DeadLetter, failure?: string): void {
    const m = letter.message;
    log(
      failure === undefined ? 'warn' : 'error',
      failure === undefined ? 'record dead-lettered' : 'dead letter not written',
      {
        topic: m.topic,
        partition: m.partition,
        offset: m.offset,
        reason: letter.reason,
        ...(failure === undefined ? {} : { error: failure }),
        ...(letter.traceId === undefined ? {} : { traceId: letter.traceId }),
      },
    );
  }

  return {
    async process(messages, processOptions = {}) {
      const remainingMs = processOptions.remainingMs;
      const marginMs = processOptions.marginMs ?? 10_000;
      const mayWait = (delayMs: number): boolean =>
        remainingMs === undefined || remainingMs() - delayMs > marginMs;

      // Partitions in offset order (Lambda and kafkajs deliver them so; sorting makes it a guarantee).
      const partitions = new Map<string, Entry[]>();
      for (const message of messages) {
        const id = partitionId(message.topic, message.partition);
        let list = partitions.get(id);
        if (list === undefined) partitions.set(id, (list = []));
        list.push(new Entry(message, traceHeader));
      }
      for (const list of partitions.values()) list.sort((a, b) => a.message.offset - b.message.offset);

      // Hashed over every record: only when a dead letter needs it.
      let hashed: string | undefined;
      const batchId = (): string => (hashed ??= deadLetterBatchId(messages));
      const deadLettered: DeadLetter[] = [];
      const redisLetters: DeadLetter[] = [];
      let commands = 0;
      const onSent = (n: number): void => {
        commands += n;
      };
      const sink: DeadLetterSink = {
        name: deadLetters.name,
        close: () => deadLetters.close(),
        async send(letters, id) {
          await deadLetters.send(letters, id);
          redisLetters.push(...letters);
          for (const l of letters) logLetter(l);
        },
      };
      const runShardOf = (shard: number, streams: Stream[], sent: readonly SentUnit[]) =>
        runShard(
          streams,
          {
            target: targetOf(shard),
            shard,
            watermarks: spec.watermarks,
            transactions,
            maxRecords: spec.batch.maxRecords,
            maxBytes: spec.batch.maxBytes,
            retry: spec.retry,
            deadLetters: sink,
            batchId,
            mayWait,
            onReset: (error) => checkReset(shard, error),
            confirmed: (key, offset) => {
              const on = seenOn(shard);
              const known = on.get(key);
              if (known === undefined || offset > known) on.set(key, offset);
            },
            onSent,
          },
          sent,
        );

      // Partition by partition: a partition's writes start as soon as it is mapped, so Redis works on them
      // while the next one is mapped (partitions are independent: one watermark each).
      // Each run settles into `runs` at once (a handler attached before any await below), so a fatal error
      // of an early partition is never an unhandled rejection while a later one is mapped.
      const runs: Promise<PromiseSettledResult<void>>[] = [];
      const started = (run: Promise<void>) => runs.push(settled(run));
      const unitLimits = {
        maxRecords: spec.batch.maxRecords,
        maxBytes: spec.batch.maxBytes,
        onSent,
        transactions,
      };
      for (const [id, list] of partitions) {
        const streams = new Map<number, Stream>();
        const rejects: { entry: Entry; letter: DeadLetter }[] = [];
        // Watermarked units go out while the partition is still being mapped (see sendAhead), up to its
        // first reject: the records after it wait for that record's dead letter, as before.
        const ahead = new Map<Stream, { state: AheadState; sent: SentUnit[]; ctx: AheadContext }>();
        let sendingAhead = spec.watermarks;
        for (const entry of list) {
          const plan = map(entry.message);
          if (plan.kind === 'noop') {
            entry.status = 'applied';
            continue;
          }
          if (plan.kind === 'reject') {
            sendingAhead = false;
            rejects.push({
              entry,
              letter: {
                message: entry.message,
                errorClass: plan.errorClass,
                reason: plan.reason,
                traceId: entry.traceId,
              },
            });
            continue;
          }
          const shard = router.route(plan.routeKey);
          let stream = streams.get(shard);
          if (stream === undefined) {
            const { topic, partition } = entry.message;
            stream = {
              shard,
              topic,
              partition,
              ...keysOf(shard, topic, partition),
              token: randomBytes(6).toString('hex'),
              ops: [],
              pos: 0,
              guard: undefined,
              cover: undefined,
              stopped: undefined,
            };
            streams.set(shard, stream);
          }
          let bytes = 16;
          for (const c of plan.commands) bytes += commandBytes(c);
          stream.ops.push({ entry, offset: entry.message.offset, commands: plan.commands, bytes });
          if (sendingAhead) {
            let a = ahead.get(stream);
            if (a === undefined) {
              const ctx = { target: targetOf(shard), ...unitLimits };
              ahead.set(stream, (a = { state: { next: 0, guard: undefined, bytes: 0 }, sent: [], ctx }));
            }
            a.state.bytes += bytes;
            const unit = sendAhead(stream, a.state, a.ctx, false);
            if (unit) a.sent.push(unit);
          }
        }
        if (sendingAhead) {
          for (const [stream, a] of ahead) {
            const unit = sendAhead(stream, a.state, a.ctx, true);
            if (unit) a.sent.push(unit);
          }
        }
        // Records refused by the mapper never reach Redis: their dead letters are stored before any
        // watermark can pass them.
        if (rejects.length > 0) {
          try {
            await deadLetters.send(
              rejects.map((r) => r.letter),
              `${batchId()}-input-${id}`,
            );
            for (const r of rejects) r.entry.status = 'dead';
            deadLettered.push(...rejects.map((r) => r.letter));
          } catch (err) {
            const reason = `dead letter not written to ${deadLetters.name}: ${classifyError(err).message}`;
            for (const r of rejects) r.entry.reason = reason;
          }
          for (const r of rejects)
            logLetter(r.letter, r.entry.status === 'dead' ? undefined : r.entry.reason);
        }
        for (const [shard, stream] of streams)
          started(runShardOf(shard, [stream], ahead.get(stream)?.sent ?? []));
      }
      const finished = await Promise.all(runs);
      const fatal = finished.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (fatal) throw classifyError(fatal.reason);
      deadLettered.push(...redisLetters);

      const counts: BatchCounts = {
        received: messages.length,
        applied: 0,
        duplicate: 0,
        deadLettered: 0,
        failed: 0,
      };
      const failures: PartitionFailure[] = [];
      const confirmed = new Map<string, number>();
      for (const [id, list] of partitions) {
        const first = list.findIndex((e) => e.status === 'pending');
        const stop = first === -1 ? list.length : first;
        for (let i = 0; i < stop; i++) {
          const status = list[i]!.status;
          if (status === 'applied') counts.applied++;
          else if (status === 'duplicate') counts.duplicate++;
          else counts.deadLettered++;
        }
        counts.failed += list.length - stop;
        const head = list[0]!.message;
        if (first === -1) {
          confirmed.set(id, list[list.length - 1]!.message.offset + 1);
          continue;
        }
        const entry = list[first]!;
        confirmed.set(id, entry.message.offset);
        const reason = entry.reason ?? 'not confirmed';
        failures.push({ topic: head.topic, partition: head.partition, offset: entry.message.offset, reason });
        log('error', 'partition tail not confirmed; it will be delivered again', {
          topic: head.topic,
          partition: head.partition,
          offset: entry.message.offset,
          records: list.length - stop,
          reason,
          ...(entry.traceId === undefined ? {} : { traceId: entry.traceId }),
        });
      }
      return { counts, failures, confirmed, deadLetters: deadLettered, commands };
    },
    async close() {
      await deadLetters.close();
      await Promise.all(targets.map((t) => t.close()));
    },
  };
}
