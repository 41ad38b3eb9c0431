import { availableParallelism } from 'node:os';
import type { ImportSpec } from '../config/index.js';
import { ShardWriter } from '../batching/index.js';
import { classifyError, FatalError, type LoaderError, ServerResetError } from '../errors/index.js';
import {
  EncodedCommand,
  HsetEncoder,
  type ListpackFit,
  LocalSpillStore,
  type PartitionIndex,
  PartitionIndexer,
  RestoreEncoder,
  type SpillStore,
  readPartition,
  spillLocator,
} from '../grouping/index.js';
import { type BucketParams, createTtl } from '../mapping/index.js';
import type { ByteSource, SourceRecord } from '../records/index.js';
import type { ServerIdentity, Target } from '../redis/index.js';
import { createJumpRouter } from '../sharding/index.js';
import { type LateReject, resolveRejects } from './grouped-rejects.js';
import { REJECT_DEDUPE_LIMIT } from './load.js';
import { PartitionIndexWorker } from './partition-index-worker.js';
import type { RejectSink } from './rejects.js';
import { currentServers } from './servers.js';

/** What the load pass reads and where it writes. */
export interface LoadPassOptions {
  readonly source: ByteSource;
  readonly spec: ImportSpec;
  readonly buckets: BucketParams;
  readonly targets: readonly Target[];
  readonly store: SpillStore;
  readonly partitions: number;
  readonly segments: number;
  /** Records of each partition (over all segments), from the partition pass. */
  readonly records: readonly number[];
  /** Spill bytes of each partition (over all segments), for progress. */
  readonly bytes: readonly number[];
  /** The partition pass's `[offset, line]` checkpoints: the lines of rejects found here. */
  readonly lines: readonly (readonly [number, number])[];
  /** The first partition to load (a resumed load continues after its last settled one). */
  readonly from: number;
  readonly rejects: RejectSink;
  readonly rejectedOffsets: Set<number>;
  readonly signal?: AbortSignal | undefined;
  readonly onRetry?:
    ((event: { shard: string; attempt: number; delayMs: number; error: LoaderError }) => void) | undefined;
  /** After each partition is sent: records confirmed and rejected so far, spill bytes sent so far. */
  readonly onProgress?: ((written: number, rejected: number, spillBytes: number) => void) | undefined;
  /**
   * Partitions `from … settled-1` are settled (confirmed or rejected, rejects written): persist it before the
   * load goes on. `written`/`rejected` count the records of those partitions only.
   */
  readonly onSettled: (
    settled: number,
    written: number,
    rejected: number,
    servers: (ServerIdentity | null)[],
  ) => Promise<void>;
  /** Stop when the rejects (with those of the partition pass) pass the budget: told the rejects so far. */
  readonly overBudget: (rejected: number) => LoaderError | undefined;
  /**
   * Write each bucket whole with `RESTORE … REPLACE` of a client-built listpack (see `bucketWrite`): what a
   * listpack may hold on the server. A bucket past it gets `DEL` and `HSET`s instead. Unset: `HSET`s.
   */
  readonly restore?: ListpackFit | undefined;
  /**
   * Index the partitions in a worker thread (local spills only): the next partition is read, decoded and ordered
   * on another core while this thread encodes and sends. @default see {@link indexWorkerPays}
   */
  readonly indexWorker?: boolean | undefined;
}

/** How a load pass ended. */
export interface LoadPassResult {
  readonly status: 'completed' | 'interrupted' | 'failed';
  /** Records Redis confirmed in this pass (including those of partitions it did not settle). */
  readonly written: number;
  /** Records the server refused for their data (`WRONGTYPE` on a bucket), in this pass. */
  readonly rejected: number;
  readonly retries: number;
  readonly commandErrors: number;
  /** Data commands sent to Redis in this pass, retries included (see `LoadCounts.commands`). */
  readonly commands: number;
  /** Partitions settled, counting from 0 (so `from` when none was settled in this pass). */
  readonly settled: number;
  readonly error?: LoaderError;
}

const NO_VALUES: Readonly<Record<string, unknown>> = Object.freeze({});

/** Records indexed per slice while the writers wait: about a millisecond, then the replies are read. */
const IDLE_STEP_RECORDS = 8192;
/** Records sent between two slices of the next partition's indexing. */
const PACE_RECORDS = 2048;

/** Spill from which the load pass indexes in a worker thread by default (see {@link indexWorkerPays}). */
const INDEX_WORKER_MIN_SPILL_BYTES = 1024 * 1024 * 1024;

/**
 * Whether indexing the partitions in a worker pays, by default: with 2 cores or more, from
 * {@link INDEX_WORKER_MIN_SPILL_BYTES} of spill still to load. Measured on 2 cores: at 20 M rows (286 MB of spill)
 * the load pass took 6.8-8.1 s against 7.2-9.7 s, for 60 MiB more RSS (a worker's own heap), past the 300 MB
 * the loader keeps to at that size; at 200 M rows (3.1 GB) 73.7 s against 80-104 s, at the same peak RSS (set
 * by the partition pass's two workers).
 */
function indexWorkerPays(bytes: readonly number[], from: number): boolean {
  if (availableParallelism() < 2) return false;
  let left = 0;
  for (let p = from; p < bytes.length; p++) left += bytes[p] ?? 0;
  return left >= INDEX_WORKER_MIN_SPILL_BYTES;
}

/** A partition's index being built: a {@link PartitionIndexer} here, or one a worker finished. */
interface Indexing {
  readonly finished: boolean;
  step(budget: number): boolean;
  result(): PartitionIndex;
}

/** The next partition: its files being read, then its indexer once they are. */
interface Upcoming {
  readonly loading: Promise<Indexing>;
  indexer: Indexing | undefined;
}

/** An index the worker built. */
function built(index: PartitionIndex): Indexing {
  return { finished: true, step: () => true, result: () => index };
}

/**
 * A spilled record as the writer accounts for it: the offset is all the load pass knows; the line and raw text
 * of a reject are read back from the source (see `resolveRejects`).
 */
class SpilledRecord implements SourceRecord {
  readonly line = undefined;
  readonly raw = '';
  readonly values = NO_VALUES;
  constructor(
    readonly offset: number,
    readonly partition: number,
  ) {}
}

/**
 * The load pass of grouped writes: partition after partition (from `from` on), reads its spill files, orders
 * the records by bucket (stably, so a key written twice keeps its last value), and writes every bucket with one
 * `HSET bucket field value …` holding all its fields (split past `MAX_FIELDS_PER_HSET` pairs or
 * `MAX_HSET_BYTES`), encoded straight from the spilled bytes by {@link HsetEncoder}, plus one `EXPIRE` when there is a TTL, with the direct path's per-bucket jitter.
 * Commands go through one {@link ShardWriter} per shard (routed by the bucket key), so every reply is checked,
 * retries replay in order, and a server that restarted is caught (a `ServerResetError` result: the caller loads
 * again from partition 0). A data error on a bucket's `HSET` rejects exactly the records it carried.
 *
 * A partition is settled when every writer has confirmed all of its commands; `onSettled` is told in order,
 * after the partition's rejects are in the sink. An abort stops at the next bucket, lets what is in flight
 * settle, and reports the partitions settled: a resumed load starts at the first one that is not.
 */
export async function loadPartitions(options: LoadPassOptions): Promise<LoadPassResult> {
  const { spec, buckets, targets, store, rejects, rejectedOffsets, signal } = options;
  let written = 0;
  let rejected = 0;
  let retries = 0;
  let commandErrors = 0;
  const lateRejects: (LateReject & { partition: number })[] = [];
  const rejectedIn = new Map<number, number>();
  const hooks = {
    onWritten: (n: number) => {
      written += n;
    },
    onRejected: (record: SourceRecord, reason: string) => {
      rejected++;
      const partition = record instanceof SpilledRecord ? record.partition : 0;
      rejectedIn.set(partition, (rejectedIn.get(partition) ?? 0) + 1);
      lateRejects.push({ offset: record.offset, reason, partition });
    },
    onCommandError: () => {
      commandErrors++;
    },
    onRetry: (event: { shard: string; attempt: number; delayMs: number; error: LoaderError }) => {
      retries++;
      options.onRetry?.(event);
    },
  };
  const writerOptions = { ...spec.batch, retry: spec.retry, ...(signal ? { signal } : {}) };
  const writers = targets.map((t) => new ShardWriter(t, writerOptions, hooks));
  const router = createJumpRouter(targets.length);
  const single = writers.length === 1 ? writers[0] : undefined;
  const ttl = createTtl(spec.ttl);
  const locate = spillLocator(buckets);
  const prefix = buckets.prefix;
  const rangeSize = buckets.scheme === 'range' ? buckets.bucketSize : 0;
  const strip = buckets.scheme === 'hash' ? (buckets.fieldStrip ?? '') : '';
  const encoder = new HsetEncoder(prefix, rangeSize, undefined, undefined, strip);
  const restorer = options.restore
    ? new RestoreEncoder(prefix, rangeSize, options.restore, strip)
    : undefined;

  let settled = options.from;
  let settledWritten = 0;
  let settledRejected = 0;
  /** Settles the partitions every writer has confirmed: their rejects into the sink, then `onSettled`. */
  const advance = async (): Promise<void> => {
    let confirmed = Number.POSITIVE_INFINITY;
    for (const w of writers) confirmed = Math.min(confirmed, w.confirmed);
    if (confirmed + 1 <= settled) return;
    const upTo = confirmed + 1;
    const due = lateRejects.filter((r) => r.partition < upTo);
    if (due.length > 0) {
      const keep = lateRejects.filter((r) => r.partition >= upTo);
      lateRejects.length = 0;
      lateRejects.push(...keep);
      const fresh = due.filter((r) => !rejectedOffsets.has(r.offset));
      for (const entry of await resolveRejects(options.source, spec, options.lines, fresh)) {
        if (rejectedOffsets.size < REJECT_DEDUPE_LIMIT) rejectedOffsets.add(entry.offset);
        rejects.write(entry);
      }
      const settling = rejects.settle();
      if (settling) await settling;
    }
    for (let p = settled; p < upTo; p++) {
      const refused = rejectedIn.get(p) ?? 0;
      settledRejected += refused;
      settledWritten += (options.records[p] ?? 0) - refused;
    }
    settled = upTo;
    await options.onSettled(settled, settledWritten, settledRejected, currentServers(targets));
  };

  let status: LoadPassResult['status'] = 'completed';
  let error: LoaderError | undefined;
  let sentBytes = 0;
  for (let p = 0; p < options.from; p++) sentBytes += options.bytes[p] ?? 0;
  const worker =
    (options.indexWorker ?? indexWorkerPays(options.bytes, options.from)) && store instanceof LocalSpillStore
      ? new PartitionIndexWorker({ location: store.location, segments: options.segments, buckets })
      : undefined;
  // The next partition is read and indexed while the writers wait for Redis to confirm the current one: by the
  // worker, or here a slice at a time while waiting (see `idle`) and while sending (see `pace`).
  const prepare = (p: number): Upcoming | undefined => {
    if (p >= options.partitions) return undefined;
    const upcoming: Upcoming = {
      loading: worker
        ? worker.index(p, options.records[p] ?? 1024).then(built)
        : readPartition(store, options.segments, p).then(
            (parts) => new PartitionIndexer(parts, locate, options.records[p]),
          ),
      indexer: undefined,
    };
    // Kept for when it is awaited; a read error must not go unhandled meanwhile.
    upcoming.loading.then(
      (indexer) => (upcoming.indexer = indexer),
      () => undefined,
    );
    return upcoming;
  };
  let upcoming = prepare(options.from);
  const idle = async (wait: Promise<void>): Promise<void> => {
    let settledWait = false;
    wait.then(
      () => (settledWait = true),
      () => (settledWait = true),
    );
    for (;;) {
      const indexer = upcoming?.indexer;
      if (settledWait || indexer === undefined || indexer.finished) break;
      indexer.step(IDLE_STEP_RECORDS);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await wait;
  };
  try {
    partitions: for (let p = options.from; p < options.partitions; p++) {
      const indexer = await upcoming!.loading;
      while (!indexer.step(1 << 20));
      const index = indexer.result();
      if (index.count !== options.records[p]) {
        throw new FatalError(
          `spill partition ${p} in ${store.location} holds ${index.count} records, its manifest says ${options.records[p]}: remove the spill directory and load again`,
        );
      }
      upcoming = prepare(p + 1);
      const order = index.order;
      // The next partition's indexing is paced by this one's emission (about four passes over its records
      // while this one's are sent), so neither waits for the other in one long stretch while Redis idles.
      const pace = (4 * (options.records[p + 1] ?? 0)) / Math.max(1, index.count);
      let paced = 0;
      let i = 0;
      while (i < index.count) {
        if (signal?.aborted) {
          status = 'interrupted';
          break partitions;
        }
        const next = upcoming?.indexer;
        if (next !== undefined && !next.finished && i - paced >= PACE_RECORDS) {
          next.step(Math.ceil((i - paced) * pace));
          paced = i;
        }
        const bucket = index.buckets[order[i]!]!;
        const key = prefix + bucket;
        const writer = single ?? writers[router.route(key)]!;
        if (restorer) {
          // The whole bucket, its TTL included, in one RESTORE; one past a listpack's limits is replaced by DEL
          // and HSETs below, so the key ends with exactly this load's fields either way.
          const end = restorer.encode(index, order, i, bucket, ttl ? `${ttl(key)}000` : '0');
          if (end > i) {
            const records: SpilledRecord[] = [];
            for (; i < end; i++) records.push(new SpilledRecord(index.offsets[order[i]!]!, p));
            const wait = writer.add(new EncodedCommand(key, restorer.bytes, records));
            if (wait) await idle(wait);
            continue;
          }
          const wait = writer.add({ key, args: ['DEL', key], records: [] });
          if (wait) await idle(wait);
        }
        // One HSET per bucket, or a few for a bucket past the command limits; in source order either way.
        while (i < index.count && index.buckets[order[i]!] === bucket) {
          const next = encoder.encode(index, order, i, bucket);
          const records: SpilledRecord[] = [];
          for (; i < next; i++) records.push(new SpilledRecord(index.offsets[order[i]!]!, p));
          const wait = writer.add(new EncodedCommand(key, encoder.bytes, records));
          if (wait) await idle(wait);
        }
        if (ttl) {
          const wait = writer.add({ key, args: ['EXPIRE', key, ttl(key)], records: [] });
          if (wait) await idle(wait);
        }
      }
      for (const w of writers) w.mark(p);
      sentBytes += options.bytes[p] ?? 0;
      await advance();
      options.onProgress?.(written, rejected, sentBytes);
      const budget = options.overBudget(rejected);
      if (budget) throw budget;
    }
    await drainAll(writers);
    const budget = options.overBudget(rejected);
    if (budget) throw budget;
  } catch (err) {
    error = classifyError(err);
    status = signal?.aborted && error.retryable ? 'interrupted' : 'failed';
    await Promise.allSettled(writers.map((w) => w.drain()));
    const reset = writers.find((w) => w.error instanceof ServerResetError)?.error;
    if (reset) {
      error = reset;
      status = 'failed';
    }
  }
  await worker?.close();
  if (status === 'interrupted') await Promise.allSettled(writers.map((w) => w.drain()));
  // What settled while the last pipelines came back is settled too (unless the servers' writes may be gone).
  if (!(error instanceof ServerResetError)) {
    try {
      await advance();
    } catch (err) {
      error ??= classifyError(err);
      status = 'failed';
    }
  }
  options.onProgress?.(written, rejected, sentBytes);
  return {
    status,
    written,
    rejected,
    retries,
    commandErrors,
    commands: writers.reduce((n, w) => n + w.commandsSent, 0),
    settled,
    ...(error && status === 'failed' ? { error } : {}),
  };
}

async function drainAll(writers: readonly ShardWriter[]): Promise<void> {
  const results = await Promise.allSettled(writers.map((w) => w.drain()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
