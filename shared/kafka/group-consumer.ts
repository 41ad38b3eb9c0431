import { setTimeout as wait } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import type {
  Consumer as KafkaConsumer,
  EachBatchPayload,
  IHeaders,
  KafkaMessage as KafkajsMessage,
  SASLOptions,
} from 'kafkajs';
import {
  AuthError,
  backoffDelay,
  classifyError,
  ConfigError,
  FatalError,
  LoaderError,
  type RetryPolicy,
} from '../errors/index.js';
import type { Consumer, ConsumerLog } from './consumer.js';
import { GroupLag, type PartitionLag } from './group-lag.js';
import type { BatchCounts, KafkaHeader, KafkaMessage } from './types.js';

/** SASL of the Kafka connection: what MSK and most self-managed clusters offer besides mTLS and IAM. */
export interface KafkaSasl {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** Consumer-group settings passed through to kafkajs (tests shorten them for the mock cluster). */
export interface GroupTuning {
  /** @default 30000 (kafkajs) */
  readonly sessionTimeout?: number;
  /** @default 60000 (kafkajs) */
  readonly rebalanceTimeout?: number;
  /** @default 3000 (kafkajs) */
  readonly heartbeatInterval?: number;
  /** How long a fetch waits for records; a stop waits for the fetch in flight. @default 500 */
  readonly maxWaitTimeInMs?: number;
  readonly maxBytesPerPartition?: number;
}

/** Settings of {@link runGroupConsumer}. */
export interface GroupConsumerOptions {
  readonly brokers: readonly string[];
  readonly topics: readonly string[];
  /** The Kafka consumer group; also the engine's watermark group (see `createConsumer`). */
  readonly groupId: string;
  /** The engine: `createConsumer(…)` with the same group. */
  readonly engine: Consumer;
  /** Where a partition without a committed offset starts: the earliest offset, else the latest. @default false */
  readonly fromBeginning?: boolean;
  readonly sasl?: KafkaSasl;
  /** TLS to the brokers: `true` for the system CAs, or options (CA, client certificate). */
  readonly ssl?: boolean | ConnectionOptions;
  /** @default 'redis-bulk-loader' */
  readonly clientId?: string;
  /** Partitions processed at once (kafkajs `partitionsConsumedConcurrently`). @default 4 */
  readonly concurrency?: number;
  /**
   * Backoff of a partition whose tail Redis did not confirm (unreachable, `LOADING`, retries spent): it is
   * retried without end, the wait growing to `maxMs`, until it is confirmed or the consumer stops.
   * @default { retries: ∞, baseMs: 500, maxMs: 30000 }
   */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Stops the consumer gracefully: no new fetches, in-flight writes settle, what is confirmed is committed. */
  readonly signal?: AbortSignal;
  /**
   * How long a stop waits for Kafka (the fetch in flight, the last commits, leaving the group) before it
   * gives up and returns: a broker that stopped answering must not keep a stopping consumer alive past its
   * grace period. Nothing is lost by giving up: only confirmed offsets are ever committed, and what was
   * written but not committed is redelivered and skipped by the watermarks. @default 15000
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * Stop once every assigned partition has been caught up (committed up to its high watermark) for this many
   * milliseconds: for backfills and scripts. Unset: run until stopped.
   */
  readonly exitWhenIdleMs?: number;
  readonly tuning?: GroupTuning;
  readonly log?: ConsumerLog;
  /** Told the partitions assigned at each group join (topic → partitions); must not throw. */
  readonly onAssigned?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /** Told after every settled batch and every lag check; must not throw. */
  readonly onProgress?: (progress: ConsumeProgress) => void;
}

/** One assigned partition as the consumer knows it. */
export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read, as committed by this consumer (`-1`: nothing committed yet). */
  readonly committed: number;
  /** The partition's high watermark at the last fetch or lag check. */
  readonly high: number;
}

/** Counts over the whole run; they reconcile: `received = applied + duplicate + deadLettered + failed`. */
export interface ConsumeProgress {
  readonly counts: Readonly<BatchCounts>;
  /** Batches (one partition's fetch) settled. */
  readonly batches: number;
  /** Offset commits made. */
  readonly commits: number;
  /** Unconfirmed tails waited on and retried. */
  readonly retries: number;
  /** Data commands sent to Redis (see `BatchResult.commands`), retries included. */
  readonly commands: number;
  readonly partitions: readonly PartitionProgress[];
  readonly elapsedMs: number;
}

/** How {@link runGroupConsumer} ended. */
export interface ConsumeSummary extends ConsumeProgress {
  /** `idle`: caught up (`exitWhenIdleMs`); `signal`: stopped through `signal`; `error`: a fatal error. */
  readonly stoppedBy: 'idle' | 'signal' | 'error';
  readonly error?: LoaderError;
}

const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 30_000 };
const IDLE_POLL_MS = 250;
/** Consecutive unrestarted kafkajs crashes (no batch settled in between) before the consumer gives up. */
const MAX_CRASHES = 8;
const DEFAULT_SHUTDOWN_MS = 15_000;

/** Group errors on which kafkajs rejoins the group when `eachBatch` fails with them. */
const REJOIN_ON = new Set([
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
]);

/**
 * The Kafka protocol error under kafkajs' retry wrappers (`KafkaJSNonRetriableError` whose `cause` is the
 * broker's error) if it is one kafkajs' runner answers by rejoining the group, else `undefined`: a commit
 * refused because the member was expired or the group rebalanced then leads to a rejoin, not a crash.
 */
export function rejoinError(err: unknown): unknown {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (REJOIN_ON.has((e as { type?: string }).type ?? '')) return e;
  }
  return undefined;
}

/** kafkajs headers (a name may hold several values) as the engine's list. */
function headersOf(headers: IHeaders | undefined): KafkaHeader[] {
  const out: KafkaHeader[] = [];
  for (const [key, raw] of Object.entries(headers ?? {})) {
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (value === undefined) continue;
      out.push({ key, value: Buffer.isBuffer(value) ? value : Buffer.from(value) });
    }
  }
  return out;
}

/** A kafkajs message as the engine's: its headers are converted on first use (a dead letter, a trace id). */
class GroupMessage implements KafkaMessage {
  readonly offset: number;
  readonly timestamp: number;
  readonly timestampType: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  #raw: IHeaders | undefined;
  #headers: KafkaHeader[] | undefined = undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    m: KafkajsMessage,
  ) {
    const type = (m as { batchContext?: { timestampType?: number } }).batchContext?.timestampType;
    this.offset = Number(m.offset);
    this.timestamp = Number(m.timestamp);
    this.timestampType = type === 1 ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
    this.key = m.key ?? null;
    this.value = m.value ?? null;
    this.#raw = m.headers;
  }

  get headers(): readonly KafkaHeader[] {
    return (this.#headers ??= headersOf(this.#raw));
  }
}

/**
 * What a Kafka client error means for the user: unreachable brokers, an unknown topic and refused
 * credentials become errors that say what to fix; anything else is classified as usual.
 */
export function kafkaError(err: unknown, brokers: readonly string[]): LoaderError {
  if (err instanceof LoaderError) return err;
  const name = (err as { name?: string }).name ?? '';
  const type = (err as { type?: string }).type ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED') {
    return new AuthError(
      `Kafka refused the SASL credentials (${message}): check the mechanism, user name and password`,
      { cause: err },
    );
  }
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || /does not host this topic/i.test(message)) {
    return new ConfigError(
      `${message}: check the topic name (the brokers do not create topics for consumers)`,
      {
        cause: err,
      },
    );
  }
  if (
    name === 'KafkaJSConnectionError' ||
    name === 'KafkaJSNumberOfRetriesExceeded' ||
    /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|Connection (error|timeout)/i.test(message)
  ) {
    return new FatalError(
      `cannot reach the Kafka brokers ${brokers.join(',')}: ${message} (check --brokers, the network and TLS)`,
      { cause: err },
    );
  }
  return classifyError(err);
}

/**
 * A standalone Kafka → Redis consumer: a kafkajs consumer group whose batches go through the engine, with
 * offsets committed **only up to the engine's confirmed prefix**. It shares the watermark keys of the Lambda
 * path (same group id), so a topic can move between the kafka-consumer function and `consume`, or both run
 * during a migration, without double-applying.
 *
 * - A partition's unconfirmed tail (Redis unreachable or loading) is retried with backoff and jitter, saying
 *   so, until it is confirmed; its offset is never committed past it.
 * - On a rebalance the in-flight batch settles, what it confirmed is committed, and the partition is left to
 *   its new owner; a zombie that still writes cannot double-apply (watermarks).
 * - A fatal error (authentication, out of memory, writes lost in a restart) stops the consumer; nothing past
 *   the confirmed prefix is committed.
 *
 * @example
 * const engine = createConsumer({ spec, group: 'profiles', targets, deadLetters });
 * const summary = await runGroupConsumer({ brokers, topics: ['profiles'], groupId: 'profiles', engine });
 */
export async function runGroupConsumer(options: GroupConsumerOptions): Promise<ConsumeSummary> {
  if (options.brokers.length === 0) throw new ConfigError('--brokers: at least one broker is needed');
  if (options.topics.length === 0) throw new ConfigError('--topic: at least one topic is needed');
  const { Kafka, logLevel } = await import('kafkajs');
  const log: ConsumerLog = options.log ?? (() => {});
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const retryPolicy: RetryPolicy = { retries: Number.MAX_SAFE_INTEGER, ...backoff };
  const started = Date.now();
  const kafka = new Kafka({
    clientId: options.clientId ?? 'redis-bulk-loader',
    brokers: [...options.brokers],
    logLevel: logLevel.NOTHING,
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl ? { sasl: options.sasl as SASLOptions } : {}),
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 10_000 },
    // TLS and SASL handshakes to a remote cluster, or a loaded machine, take longer than kafkajs' 1 s.
    connectionTimeout: 10_000,
  });
  const newConsumer = (): KafkaConsumer =>
    kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
      ...options.tuning,
    });
  let consumer = newConsumer();
  /** Crashes kafkajs does not restart from, in a row (a settled batch resets it). */
  let crashes = 0;
  const lag = new GroupLag(kafka, options.groupId, options.fromBeginning === true);
  const heartbeatMs = options.tuning?.heartbeatInterval ?? 3_000;

  const counts: BatchCounts = { received: 0, applied: 0, duplicate: 0, deadLettered: 0, failed: 0 };
  const partitions = new Map<string, { topic: string; partition: number; committed: number; high: number }>();
  let batches = 0;
  let commits = 0;
  let retries = 0;
  let commands = 0;
  let stopping = false;
  /** A restart after a crash, in flight: shutdown waits for it. */
  let restarting: Promise<void> | undefined;
  let fatal: LoaderError | undefined;
  let stoppedBy: ConsumeSummary['stoppedBy'] | undefined;
  // Aborted on any stop: every wait (backoff, idle polling) ends at once.
  const halt = new AbortController();
  const halted = new Promise<void>((resolve) => halt.signal.addEventListener('abort', () => resolve()));
  const sleep = (ms: number) => wait(ms, undefined, { signal: halt.signal }).catch(() => undefined);

  const progress = (): ConsumeProgress => ({
    counts: { ...counts },
    batches,
    commits,
    retries,
    commands,
    partitions: [...partitions.values()].map((p) => ({ ...p })),
    elapsedMs: Date.now() - started,
  });
  const report = () => {
    try {
      options.onProgress?.(progress());
    } catch (err) {
      process.emitWarning(`consume onProgress threw: ${String(err)}`);
    }
  };
  const stop = (by: ConsumeSummary['stoppedBy']) => {
    stoppedBy ??= by;
    stopping = true;
    halt.abort();
  };
  const onAbort = () => stop('signal');
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  /** Waits `ms`, cut short by a stop; keeps the group session alive meanwhile. */
  const pause = async (ms: number, heartbeat: () => Promise<void>) => {
    const until = Date.now() + ms;
    while (!stopping && Date.now() < until) {
      await sleep(Math.min(heartbeatMs, until - Date.now()));
      if (!stopping) await heartbeat();
    }
  };

  /** Runs `work` with a heartbeat every `heartbeatMs` (kafkajs heartbeats only between batches). */
  const withHeartbeats = async <T>(heartbeat: () => Promise<void>, work: () => Promise<T>) => {
    let groupError: unknown;
    let beating: Promise<void> | undefined;
    const timer = setInterval(() => {
      beating ??= heartbeat()
        .catch((err: unknown) => {
          groupError ??= err;
        })
        .finally(() => (beating = undefined));
    }, heartbeatMs);
    try {
      const value = await work();
      return { value, groupError };
    } finally {
      clearInterval(timer);
      await beating;
    }
  };

  const eachBatch = async (consumer: KafkaConsumer, payload: EachBatchPayload): Promise<void> => {
    const { batch, heartbeat, isRunning, isStale } = payload;
    if (batch.messages.length === 0 || stopping) return;
    const { topic, partition } = batch;
    const id = `${topic}-${partition}`;
    const state = partitions.get(id) ?? { topic, partition, committed: -1, high: 0 };
    partitions.set(id, state);
    state.high = Math.max(state.high, Number(batch.highWatermark));
    let messages = batch.messages.map((m): KafkaMessage => new GroupMessage(topic, partition, m));
    counts.received += messages.length;
    for (let attempt = 0; ; attempt++) {
      if (!isRunning() || isStale()) break;
      let outcome;
      try {
        outcome = await withHeartbeats(heartbeat, () => options.engine.process(messages));
      } catch (err) {
        // Fatal (authentication, OOM, lost writes): stop, committing nothing past the confirmed prefix.
        fatal ??= classifyError(err);
        log('error', 'fatal error; the consumer stops', { topic, partition, error: fatal.message });
        stop('error');
        break;
      }
      const result = outcome.value;
      counts.applied += result.counts.applied;
      counts.duplicate += result.counts.duplicate;
      counts.deadLettered += result.counts.deadLettered;
      commands += result.commands;
      const next = result.confirmed.get(id) ?? messages[0]!.offset;
      crashes = 0;
      if (next > messages[0]!.offset && !isStale()) {
        try {
          await consumer.commitOffsets([{ topic, partition, offset: String(next) }]);
          commits++;
          state.committed = next;
          payload.resolveOffset(String(next - 1));
        } catch (err) {
          // A rebalance took the partition: its new owner redelivers, and the watermarks skip what is applied.
          log('warn', 'offset commit refused; the partition has moved', {
            topic,
            partition,
            offset: next,
            error: String(err),
          });
          throw rejoinError(err) ?? err;
        }
      }
      messages = messages.filter((m) => m.offset >= next);
      if (outcome.groupError !== undefined) throw rejoinError(outcome.groupError) ?? outcome.groupError;
      if (messages.length === 0) break;
      const delay = backoffDelay(attempt, retryPolicy);
      retries++;
      log('warn', 'Redis did not confirm a partition tail; retrying', {
        topic,
        partition,
        offset: next,
        records: messages.length,
        reason: result.failures[0]?.reason ?? 'not confirmed',
        retryInMs: delay,
        attempt: attempt + 1,
      });
      report();
      await pause(delay, heartbeat);
    }
    // What is left was not confirmed: not committed, fetched again by whoever owns the partition next.
    counts.failed += messages.length;
    batches++;
    report();
    if (messages.length > 0 && !stopping && isRunning() && !isStale()) {
      consumer.seek({ topic, partition, offset: String(messages[0]!.offset) });
    }
  };

  /** Connects, subscribes and runs `c`; resolves once its group is joined. */
  const start = async (c: KafkaConsumer): Promise<void> => {
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      lag.assigned(payload.memberAssignment);
      try {
        options.onAssigned?.(payload.memberAssignment);
      } catch (err) {
        process.emitWarning(`consume onAssigned threw: ${String(err)}`);
      }
    });
    c.on(c.events.CRASH, ({ payload }) => {
      const error = kafkaError(payload.error, options.brokers);
      if (payload.restart) {
        // kafkajs restarts the consumer itself (with its retry backoff): say so, and keep going.
        log('warn', 'Kafka consumer failed; kafkajs reconnects', { error: error.message });
        return;
      }
      // kafkajs gives up on errors it deems permanent; most of them pass (a coordinator moving, a broker
      // refusing a request mid-rebalance): restart with backoff, unless credentials or the topic are wrong.
      if (stopping) return;
      if (error instanceof AuthError || error instanceof ConfigError || crashes >= MAX_CRASHES) {
        fatal ??= error;
        log('error', 'Kafka consumer failed; the consumer stops', { error: error.message });
        stop('error');
        return;
      }
      const delay = backoffDelay(crashes++, retryPolicy);
      log('warn', 'Kafka consumer failed; restarting it', {
        error: error.message,
        retryInMs: delay,
        crashes,
      });
      restarting = sleep(delay).then(async () => {
        if (stopping) return;
        consumer = newConsumer();
        try {
          await start(consumer);
        } catch (err) {
          if (stopping) return;
          fatal ??= kafkaError(err, options.brokers);
          stop('error');
        }
      });
    });
    try {
      await c.connect();
      await c.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning === true });
      // A stop that came while this consumer connected (a restart after a crash): do not start fetching.
      if (stopping) {
        await c.disconnect().catch(() => {});
        return;
      }
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.concurrency ?? 4,
        eachBatch: (payload) => eachBatch(c, payload),
      });
    } catch (err) {
      await c.disconnect().catch(() => {});
      throw err;
    }
  };

  try {
    await start(consumer);
  } catch (err) {
    options.signal?.removeEventListener('abort', onAbort);
    await lag.close();
    throw kafkaError(err, options.brokers);
  }

  const idle = watchIdle();
  await halted;
  options.signal?.removeEventListener('abort', onAbort);
  const shutdownMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_MS;
  const shutdown = async () => {
    const stopConsumer = async () => {
      // A restart in flight finishes (or gives up) first, so the consumer stopped is the one running.
      await restarting;
      // consumer.stop() waits for the batches in flight: they settle and commit what they confirmed.
      await consumer.stop().catch(() => {});
      await consumer.disconnect().catch(() => {});
    };
    // A lag check in flight ends with its request, which `halt` cannot cut: stop the consumer meanwhile.
    await Promise.all([idle, stopConsumer()]);
    await lag.close().catch(() => {});
  };
  const deadline = new AbortController();
  let finished: boolean;
  try {
    finished = await Promise.race([
      shutdown().then(() => true),
      wait(shutdownMs, false, { signal: deadline.signal }).catch(() => true),
    ]);
  } finally {
    deadline.abort();
  }
  if (!finished)
    log('warn', 'Kafka did not let the consumer stop in time; leaving without it', {
      shutdownTimeoutMs: shutdownMs,
      note: 'only confirmed offsets were committed; the rest is redelivered and skipped as duplicates',
    });
  report();
  return { ...progress(), stoppedBy: stoppedBy ?? 'signal', ...(fatal ? { error: fatal } : {}) };

  /** With `exitWhenIdleMs`: stops once every assigned partition has been caught up for that long. */
  async function watchIdle(): Promise<void> {
    const idleMs = options.exitWhenIdleMs;
    let caughtUpSince: number | undefined;
    while (!stopping) {
      await sleep(IDLE_POLL_MS);
      if (stopping) return;
      let behind: PartitionLag[] | undefined;
      try {
        behind = await lag.behind();
      } catch {
        caughtUpSince = undefined;
        continue;
      }
      if (behind === undefined) continue;
      for (const l of behind) {
        const state = partitions.get(l.key);
        if (state) state.high = Math.max(state.high, l.high);
      }
      report();
      if (idleMs === undefined) continue;
      if (behind.length > 0) {
        caughtUpSince = undefined;
        continue;
      }
      caughtUpSince ??= Date.now();
      if (Date.now() - caughtUpSince >= idleMs) stop('idle');
    }
  }
}
