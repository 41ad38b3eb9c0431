import { FatalError } from '../errors/index.js';
import type { BucketParams } from '../mapping/buckets.js';
import { fnv1a32, fnv1a32Bytes } from '../mapping/fnv.js';
import { emptyView, SpillReader, type SpillView } from './spill-format.js';
import { type Cursor, readVarint, varintBytes } from './varint.js';

/** Finds the bucket of a spilled record from its suffix bytes; -1 when the suffix does not fit the scheme. */
export type SpillLocator = (buf: Buffer, view: SpillView) => number;

/** One spill file's bytes and its name (for messages). */
export interface SpillPart {
  readonly name: string;
  readonly bytes: Buffer;
}

/**
 * Bytes of memory one record costs while its partition is grouped, besides its spilled bytes (which are held
 * twice: as read, and laid out by sub-range): positions, offsets and buckets as read and as laid out, the order.
 */
export const GROUP_BYTES_PER_RECORD = 2 * (4 + 8 + 8) + 4;

/**
 * Spilled bytes per sub-range a partition is laid out in before it is ordered: small enough that ordering
 * and encoding a sub-range stay in the CPU cache. Without it every record of a bucket is a cache miss in a
 * partition of tens of megabytes (measured: 0.3 µs per record, more than Redis spends on it).
 */
export const SUB_RANGE_BYTES = 256 * 1024;

/**
 * Which partition a bucket's records are spilled to: for the hash scheme contiguous ranges of bucket numbers,
 * so a partition's buckets are dense (counting sort) and can be cut into contiguous sub-ranges; for the range
 * scheme, whose bucket numbers are unbounded, the number modulo the partition count.
 *
 * @example
 * partitionOf({ scheme: 'hash', bucketCount: 1000, … }, 4)(999) // 3
 */
export function partitionOf(buckets: BucketParams, partitions: number): (bucket: number) => number {
  if (buckets.scheme === 'hash') {
    const count = buckets.bucketCount;
    return (bucket) => Math.floor((bucket * partitions) / count);
  }
  return (bucket) => bucket % partitions;
}

/**
 * The records of one partition, decoded once and indexed: where each one lies, its source offset and its
 * bucket, and their order by bucket. Records are numbered by sub-range (contiguous ranges of buckets), in source
 * order within one; a bucket lies in one sub-range, so its records keep source order.
 *
 * @example
 * const index = indexPartition(parts, locate);
 * for (const r of index.order) use(index.buckets[r], index.offsets[r]);
 */
export class PartitionIndex {
  private readonly cursor: Cursor = { pos: 0 };

  constructor(
    /** The partition's records' bytes (suffix and value with their lengths). */
    readonly buf: Buffer,
    readonly count: number,
    /** Position of each record's suffix length in `buf`. */
    readonly at: Uint32Array,
    /** Source offset of each record. */
    readonly offsets: Float64Array,
    /** Bucket index of each record. */
    readonly buckets: Float64Array,
    /**
     * The record numbers ordered by bucket, stably: within a bucket they keep source order, so the fields of a
     * key written twice come in source order and the last write wins.
     */
    readonly order: Uint32Array,
  ) {}

  /** Fills `view` with where record `i`'s suffix and value lie, and its offset. */
  view(i: number, view: SpillView): void {
    const { buf, cursor } = this;
    cursor.pos = this.at[i]!;
    const suffixLength = readVarint(buf, cursor);
    view.suffixStart = cursor.pos;
    view.suffixEnd = cursor.pos + suffixLength;
    cursor.pos = view.suffixEnd;
    const valueLength = readVarint(buf, cursor);
    view.valueStart = cursor.pos;
    view.valueEnd = cursor.pos + valueLength;
    view.offset = this.offsets[i]!;
  }
}

/** Bytes of the record at `at` (suffix and value with their lengths). */
function recordLength(buf: Buffer, at: number, cursor: Cursor): number {
  cursor.pos = at;
  // Not `cursor.pos += readVarint(…)`: that adds to the position from before the varint was read.
  const suffix = readVarint(buf, cursor);
  cursor.pos += suffix;
  const value = readVarint(buf, cursor);
  cursor.pos += value;
  return cursor.pos - at;
}

/**
 * Decodes a partition's spill files (in segment order) into a {@link PartitionIndex}, finding every record's
 * bucket with `locate` (`expected`: the records it holds, when known, to size the index once). When the
 * partition's buckets are dense, its records are then laid out by contiguous bucket sub-ranges of about
 * `subRangeBytes` (one sequential pass), so that ordering and encoding touch cached memory only. A record
 * whose suffix no longer fits the scheme means the spill does not belong to this load: a {@link FatalError}.
 *
 * The work can be done a slice at a time ({@link step}), so a load pass indexes its next partition while it
 * waits for Redis to confirm the current one.
 *
 * @example
 * const indexer = new PartitionIndexer(parts, locate);
 * while (!indexer.step(65_536)) await waitABit();
 * const index = indexer.result();
 */
export class PartitionIndexer {
  private readonly buf: Buffer;
  private readonly parts: readonly SpillPart[];
  private readonly view = emptyView();
  private readonly cursor: Cursor = { pos: 0 };
  private phase: 'decode' | 'count' | 'scatter' | 'order' | 'done' = 'decode';
  private part = 0;
  private reader: SpillReader | undefined;
  private base = 0;
  private count = 0;
  private capacity: number;
  private at: Uint32Array;
  private offsets: Float64Array;
  private buckets: Float64Array;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private subs = 1;
  private span = 1;
  private runs = new Uint32Array(0);
  private nextRecord = new Uint32Array(0);
  private nextByte = new Float64Array(0);
  private laid: { buf: Buffer; at: Uint32Array; offsets: Float64Array; buckets: Float64Array } | undefined;
  private order = new Uint32Array(0);
  /** Records (decode, count, scatter) or sub-ranges (order) done in the current phase. */
  private done = 0;
  private index: PartitionIndex | undefined;

  constructor(
    parts: readonly SpillPart[],
    private readonly locate: SpillLocator,
    expected = 1024,
    private readonly subRangeBytes = SUB_RANGE_BYTES,
  ) {
    this.parts = parts.filter((p) => p.bytes.length > 0);
    this.buf = this.parts.length === 1 ? this.parts[0]!.bytes : Buffer.concat(this.parts.map((p) => p.bytes));
    if (this.buf.length > 0xffffffff) {
      throw new FatalError('a partition over 4 GiB cannot be grouped: use more partitions');
    }
    this.capacity = Math.max(16, expected);
    this.at = new Uint32Array(this.capacity);
    this.offsets = new Float64Array(this.capacity);
    this.buckets = new Float64Array(this.capacity);
  }

  /** Whether the index is complete. */
  get finished(): boolean {
    return this.phase === 'done';
  }

  /** Does about `budget` records' worth of work; returns true once the index is complete. */
  step(budget: number): boolean {
    let left = budget;
    while (left > 0 && this.phase !== 'done') {
      if (this.phase === 'decode') left = this.decode(left);
      else if (this.phase === 'count') left = this.countSubs(left);
      else if (this.phase === 'scatter') left = this.scatter(left);
      else left = this.orderSubs(left);
    }
    return this.phase === 'done';
  }

  /** The index, once {@link step} said it is complete. */
  result(): PartitionIndex {
    if (this.index === undefined) throw new Error('the partition index is not complete');
    return this.index;
  }

  private decode(budget: number): number {
    const view = this.view;
    while (budget > 0) {
      if (this.reader === undefined) {
        const part = this.parts[this.part];
        if (part === undefined) {
          this.afterDecode();
          return budget;
        }
        this.reader = new SpillReader(part.bytes, part.name);
      }
      const part = this.parts[this.part]!;
      const start = this.reader.position;
      if (!this.reader.next(view)) {
        this.base += part.bytes.length;
        this.part++;
        this.reader = undefined;
        continue;
      }
      if (this.count === this.capacity) {
        this.capacity *= 2;
        this.at = grow(this.at, new Uint32Array(this.capacity));
        this.offsets = grow(this.offsets, new Float64Array(this.capacity));
        this.buckets = grow(this.buckets, new Float64Array(this.capacity));
      }
      const bucket = this.locate(part.bytes, view);
      if (bucket < 0) {
        throw new FatalError(
          `spill file ${part.name} holds a key that does not fit the bucket scheme (at byte ${start}): it belongs to another load`,
        );
      }
      const n = this.count++;
      // Where the suffix length starts: the view's positions are all a load needs, plus the offset kept aside.
      this.at[n] = this.base + view.suffixStart - varintBytes(view.suffixEnd - view.suffixStart);
      this.offsets[n] = view.offset;
      this.buckets[n] = bucket;
      if (bucket < this.min) this.min = bucket;
      if (bucket > this.max) this.max = bucket;
      budget--;
    }
    return budget;
  }

  private afterDecode(): void {
    const count = this.count;
    this.span = this.max - this.min + 1;
    this.subs = Math.min(4096, Math.ceil(this.buf.length / this.subRangeBytes));
    this.done = 0;
    if (count === 0 || this.subs <= 1 || this.span > Math.max(4 * count, 1 << 16)) {
      // Sparse or small: one sub-range, ordered where it lies.
      this.subs = 1;
      this.runs = Uint32Array.of(0, count);
      this.laid = { buf: this.buf, at: this.at, offsets: this.offsets, buckets: this.buckets };
      this.order = new Uint32Array(count);
      this.phase = 'order';
      return;
    }
    this.runs = new Uint32Array(this.subs + 1);
    this.nextByte = new Float64Array(this.subs + 1);
    this.phase = 'count';
  }

  private subOf(bucket: number): number {
    return Math.floor(((bucket - this.min) * this.subs) / this.span);
  }

  private countSubs(budget: number): number {
    const { runs, nextByte: bytes, buckets, at, buf, cursor } = this;
    let r = this.done;
    const end = Math.min(this.count, r + budget);
    for (; r < end; r++) {
      const s = this.subOf(buckets[r]!);
      runs[s + 1]!++;
      bytes[s + 1]! += recordLength(buf, at[r]!, cursor);
    }
    budget -= r - this.done;
    this.done = r;
    if (r < this.count) return budget;
    for (let s = 1; s <= this.subs; s++) {
      runs[s]! += runs[s - 1]!;
      bytes[s]! += bytes[s - 1]!;
    }
    const count = this.count;
    this.laid = {
      buf: Buffer.allocUnsafe(bytes[this.subs]!),
      at: new Uint32Array(count),
      offsets: new Float64Array(count),
      buckets: new Float64Array(count),
    };
    this.nextRecord = runs.slice(0, this.subs);
    this.nextByte = bytes.slice(0, this.subs);
    this.done = 0;
    this.phase = 'scatter';
    return budget;
  }

  /** Lays the records out by sub-range: a sequential read, one write stream per sub-range. */
  private scatter(budget: number): number {
    const { buf, at, offsets, buckets, nextRecord, nextByte, cursor } = this;
    const laid = this.laid!;
    const out = laid.buf;
    let r = this.done;
    const end = Math.min(this.count, r + budget);
    for (; r < end; r++) {
      const bucket = buckets[r]!;
      const s = this.subOf(bucket);
      const k = nextRecord[s]!++;
      const from = at[r]!;
      const length = recordLength(buf, from, cursor);
      const to = nextByte[s]!;
      nextByte[s] = to + length;
      if (length < 32) for (let b = 0; b < length; b++) out[to + b] = buf[from + b]!;
      else buf.copy(out, to, from, from + length);
      laid.at[k] = to;
      laid.offsets[k] = offsets[r]!;
      laid.buckets[k] = bucket;
    }
    budget -= r - this.done;
    this.done = r;
    if (r < this.count) return budget;
    this.order = new Uint32Array(this.count);
    this.done = 0;
    this.phase = 'order';
    return budget;
  }

  /** Orders each sub-range by bucket: a counting sort when its buckets are dense, a comparison sort otherwise. */
  private orderSubs(budget: number): number {
    const laid = this.laid!;
    const runs = this.runs;
    while (budget > 0 && this.done < this.subs) {
      const from = runs[this.done]!;
      const to = runs[this.done + 1]!;
      const local = stableOrder(laid.buckets.subarray(from, to), to - from);
      for (let j = 0; j < local.length; j++) this.order[from + j] = from + local[j]!;
      budget -= Math.max(1, to - from);
      this.done++;
    }
    if (this.done < this.subs) return budget;
    this.index = new PartitionIndex(laid.buf, this.count, laid.at, laid.offsets, laid.buckets, this.order);
    this.phase = 'done';
    return budget;
  }
}

/** {@link PartitionIndexer} in one go. */
export function indexPartition(
  parts: readonly SpillPart[],
  locate: SpillLocator,
  expected = 1024,
  subRangeBytes = SUB_RANGE_BYTES,
): PartitionIndex {
  const indexer = new PartitionIndexer(parts, locate, expected, subRangeBytes);
  while (!indexer.step(1 << 20));
  return indexer.result();
}

function grow<T extends Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Record numbers `0 … count-1` ordered by `keys[i]`, ties in increasing `i`. */
export function stableOrder(keys: Float64Array, count: number): Uint32Array {
  const order = new Uint32Array(count);
  if (count === 0) return order;
  let min = keys[0]!;
  let max = min;
  for (let i = 1; i < count; i++) {
    const k = keys[i]!;
    if (k < min) min = k;
    else if (k > max) max = k;
  }
  const span = max - min + 1;
  if (span <= Math.max(4 * count, 1 << 16)) {
    const starts = new Uint32Array(span + 1);
    for (let i = 0; i < count; i++) starts[keys[i]! - min + 1]!++;
    for (let k = 1; k <= span; k++) starts[k]! += starts[k - 1]!;
    for (let i = 0; i < count; i++) order[starts[keys[i]! - min]!++] = i;
    return order;
  }
  for (let i = 0; i < count; i++) order[i] = i;
  return order.sort((a, b) => keys[a]! - keys[b]! || a - b);
}

/** Finds a spilled record's bucket from its key suffix, exactly as `locateBucket` does from the key. */
export function spillLocator(buckets: BucketParams): SpillLocator {
  if (buckets.scheme === 'hash') {
    const seed = fnv1a32(buckets.keyPrefix);
    const count = buckets.bucketCount;
    return (buf, v) => fnv1a32Bytes(buf, v.suffixStart, v.suffixEnd, seed) % count;
  }
  const size = buckets.bucketSize;
  return (buf, v) => {
    const id = spilledId(buf, v);
    return id < 0 ? -1 : Math.floor(id / size);
  };
}

/** The integer id of a range-scheme suffix; -1 when it is not one (the partition pass let only ids through). */
function spilledId(buf: Buffer, v: SpillView): number {
  if (v.suffixEnd <= v.suffixStart || v.suffixEnd - v.suffixStart > 15) return -1;
  let id = 0;
  for (let i = v.suffixStart; i < v.suffixEnd; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    id = id * 10 + d;
  }
  return id;
}
