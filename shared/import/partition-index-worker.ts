import type { Worker } from 'node:worker_threads';
import { FatalError, type LoaderError } from '../errors/index.js';
import { PartitionIndex } from '../grouping/index.js';
import type { BucketParams } from '../mapping/index.js';
import { revive, startModuleWorker } from './workers.js';

/** What the index worker is started with. */
export interface IndexWorkerData {
  /** The local spill directory. */
  readonly location: string;
  readonly segments: number;
  readonly buckets: BucketParams;
}

/** One partition to index. */
export interface IndexRequest {
  readonly id: number;
  readonly partition: number;
  /** Records the partition holds (from the manifest), to size the index once. */
  readonly expected: number;
}

/** The index of one partition, or why there is none. */
export type IndexReply =
  | {
      readonly id: number;
      readonly index: {
        readonly buf: Uint8Array;
        readonly count: number;
        readonly at: Uint32Array;
        readonly offsets: Float64Array;
        readonly buckets: Float64Array;
        readonly order: Uint32Array;
      };
    }
  | { readonly id: number; readonly error: { name: string; message: string } };

/**
 * Indexes the partitions of a local spill in a worker thread (`index-worker.ts`), so that a load pass reads,
 * decodes and orders the next partition on another core while this thread encodes and sends the current one:
 * the same {@link PartitionIndex} `indexPartition` gives, its memory moved here. Requests are answered in order.
 *
 * @example
 * const worker = new PartitionIndexWorker({ location: spillDir, segments: 1, buckets });
 * const index = await worker.index(0, 260_000);
 * await worker.close();
 */
export class PartitionIndexWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (index: PartitionIndex) => void; reject: (err: LoaderError) => void }
  >();
  private nextId = 0;
  private failure: LoaderError | undefined;
  private closed = false;

  constructor(data: IndexWorkerData) {
    this.worker = startModuleWorker('index-worker', data);
    this.worker.on('message', (reply: IndexReply) => {
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      if ('error' in reply) {
        waiter.reject(revive(reply.error));
        return;
      }
      const { buf, count, at, offsets, buckets, order } = reply.index;
      waiter.resolve(
        new PartitionIndex(
          Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength),
          count,
          at,
          offsets,
          buckets,
          order,
        ),
      );
    });
    this.worker.on('error', (err) =>
      this.fail(new FatalError(`partition index worker failed: ${err.message}`)),
    );
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new FatalError(`partition index worker exited with code ${code}`));
    });
  }

  /** The index of `partition` of the spill. */
  index(partition: number, expected: number): Promise<PartitionIndex> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, partition, expected } satisfies IndexRequest);
    });
  }

  /** Stops the worker; requests still pending are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.fail(new FatalError('partition index worker closed'));
    await this.worker.terminate();
  }

  private fail(error: LoaderError): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }
}
