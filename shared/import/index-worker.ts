/**
 * The worker thread that indexes spill partitions for a load pass (see {@link PartitionIndexWorker}): reads a
 * partition's files from a local spill directory, decodes and orders them by bucket, and hands the index back,
 * its memory transferred, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { indexPartition, LocalSpillStore, readPartition, spillLocator } from '../grouping/index.js';
import type { IndexReply, IndexRequest, IndexWorkerData } from './partition-index-worker.js';
import { postable } from './workers.js';

const data = workerData as IndexWorkerData;
const port = parentPort!;
const store = new LocalSpillStore(data.location);
const locate = spillLocator(data.buckets);

port.on('message', (request: IndexRequest) => {
  void answer(request).then(
    ({ reply, transfer }) => port.postMessage(reply, transfer),
    (err: unknown) => port.postMessage({ id: request.id, error: postable(err) } satisfies IndexReply),
  );
});

async function answer(request: IndexRequest): Promise<{ reply: IndexReply; transfer: ArrayBuffer[] }> {
  const parts = await readPartition(store, data.segments, request.partition);
  const index = indexPartition(parts, locate, request.expected);
  const arrays = [index.buf, index.at, index.offsets, index.buckets, index.order];
  // Only memory a view owns whole can move (a small Buffer may sit in Node's shared pool): the rest is copied.
  const transfer = arrays
    .filter((a) => a.byteOffset === 0 && a.buffer.byteLength === a.byteLength)
    .map((a) => a.buffer as ArrayBuffer);
  const { buf, count, at, offsets, buckets, order } = index;
  return { reply: { id: request.id, index: { buf, count, at, offsets, buckets, order } }, transfer };
}
