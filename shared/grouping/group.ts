import { FatalError } from '../errors/index.js';
import { emptyView, SpillReader, type SpillView } from './spill-format.js';
import { type Cursor, readVarint, varintBytes } from './varint.js';

/** Finds the bucket of a spilled record from its suffix bytes; -1 when the suffix does not fit the scheme. */
export type SpillLocator = (buf: Buffer, view: SpillView) => number;

/** One spill file's bytes and its name (for messages). */
export interface SpillPart {
  readonly name: string;
  readonly bytes: Buffer;
}

/** Bytes of memory one record costs while its partition is grouped, besides its spilled bytes. */
export const GROUP_BYTES_PER_RECORD = 4 + 8 + 8 + 4 + 4;

/**
 * The records of one partition, decoded once and indexed: where each one lies, its source offset and its
 * bucket. Records are numbered in source order (the segments' files in segment order, each file in order).
 *
 * @example
 * const index = indexPartition(parts, locate);
 * const order = index.order(); // record numbers grouped by bucket, source order within a bucket
 */
export class PartitionIndex {
  private readonly cursor: Cursor = { pos: 0 };

  constructor(
    /** The partition's files, concatenated. */
    readonly buf: Buffer,
    readonly count: number,
    /** Position of each record's suffix length in `buf`. */
    private readonly at: Uint32Array,
    /** Source offset of each record. */
    readonly offsets: Float64Array,
    /** Bucket index of each record. */
    readonly buckets: Float64Array,
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

  /**
   * The record numbers ordered by bucket, stably: within a bucket they keep source order, so the fields of a
   * key written twice come in source order and the last write wins. A counting sort when the bucket numbers
   * are dense (the hash scheme), a comparison sort otherwise (sparse range-scheme ids).
   */
  order(): Uint32Array {
    return stableOrder(this.buckets, this.count);
  }
}

/**
 * Decodes a partition's spill files (in segment order) into a {@link PartitionIndex}, finding every record's
 * bucket with `locate` (`expected`: the records it holds, when known, to size the index once). A record whose suffix no longer fits the scheme means the spill does not belong to this
 * load: a {@link FatalError}.
 */
export function indexPartition(
  parts: readonly SpillPart[],
  locate: SpillLocator,
  expected = 1024,
): PartitionIndex {
  const nonEmpty = parts.filter((p) => p.bytes.length > 0);
  const buf = nonEmpty.length === 1 ? nonEmpty[0]!.bytes : Buffer.concat(nonEmpty.map((p) => p.bytes));
  if (buf.length > 0xffffffff)
    throw new FatalError('a partition over 4 GiB cannot be grouped: use more partitions');
  let capacity = Math.max(16, expected);
  let at = new Uint32Array(capacity);
  let offsets = new Float64Array(capacity);
  let buckets = new Float64Array(capacity);
  let count = 0;
  const view = emptyView();
  let base = 0;
  for (const part of nonEmpty) {
    const reader = new SpillReader(part.bytes, part.name);
    for (;;) {
      const start = reader.position;
      if (!reader.next(view)) break;
      if (count === capacity) {
        capacity *= 2;
        at = grow(at, new Uint32Array(capacity));
        offsets = grow(offsets, new Float64Array(capacity));
        buckets = grow(buckets, new Float64Array(capacity));
      }
      const bucket = locate(part.bytes, view);
      if (bucket < 0) {
        throw new FatalError(
          `spill file ${part.name} holds a key that does not fit the bucket scheme (at byte ${start}): it belongs to another load`,
        );
      }
      // Where the suffix length starts: the view's positions are all a load needs, plus the offset kept aside.
      at[count] = base + view.suffixStart - varintBytes(view.suffixEnd - view.suffixStart);
      offsets[count] = view.offset;
      buckets[count] = bucket;
      count++;
    }
    base += part.bytes.length;
  }
  return new PartitionIndex(buf, count, at, offsets, buckets);
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
