/**
 * The worker thread of a parallel partition pass (see `partitionSegments`): partitions one segment of a local
 * file into its own spill files, writes its rejects to a file beside them (lines counted from 1 at the
 * segment's start, for the parent to renumber), reports progress, and stops when the parent says so.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LocalSpillStore } from '../grouping/index.js';
import { FileSource } from '../records/index.js';
import { partitionRange } from './grouped-partition.js';
import type { SegmentTask, WorkerMessage } from './partition-segments.js';
import { FileRejectSink } from './rejects.js';

const PROGRESS_EVERY_MS = 100;

const task = workerData as SegmentTask;
const port = parentPort!;
const stop = new AbortController();
port.on('message', (message: { type: 'abort' }) => {
  if (message.type === 'abort') stop.abort();
});

const post = (message: WorkerMessage) => port.postMessage(message);
const rejects = new FileRejectSink(task.rejectsPath);
let last = 0;
const result = await partitionRange({
  source: new FileSource(task.path),
  spec: task.spec,
  buckets: task.buckets,
  range: task.range,
  store: new LocalSpillStore(task.storeDir),
  segment: task.segment,
  partitions: task.partitions,
  rejects,
  rejectedOffsets: new Set(),
  signal: stop.signal,
  checkBudget: false,
  countNewlines: true,
  onProgress: (counts, bytes) => {
    const now = Date.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    last = now;
    post({ type: 'progress', read: counts.read, rejected: counts.rejected, skipped: counts.skipped, bytes });
  },
});
await rejects.close();
const { error, ...rest } = result;
post({
  type: 'done',
  result: rest,
  ...(error ? { error: { name: error.name, message: error.message } } : {}),
});
port.close();
