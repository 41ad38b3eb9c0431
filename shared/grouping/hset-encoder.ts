import type { LoadCommand } from '../mapping/index.js';
import type { SourceRecord } from '../records/index.js';
import type { PartitionIndex } from './group.js';
import { emptyView } from './spill-format.js';

/** Field/value pairs per `HSET` at most: a bucket with more (a hot range bucket) is written in several. */
export const MAX_FIELDS_PER_HSET = 1024;
/** Bytes per `HSET` at most (about: the pair that crosses it is the last), for the same reason. */
export const MAX_HSET_BYTES = 1 << 20;

const SLAB_BYTES = 256 * 1024;
/** Room kept before a command's body for its `*<n>\r\n` header, written once `n` is known. */
const HEADER_ROOM = 16;
const HSET = Buffer.from('$4\r\nHSET\r\n', 'latin1');
const CR = 13;
const LF = 10;
const DOLLAR = 36;
const STAR = 42;
const ZERO = 48;

/**
 * A command whose RESP bytes were built directly (see {@link HsetEncoder}); `args` are decoded from them only
 * when a driver asks (one that does not speak RESP).
 */
export class EncodedCommand implements LoadCommand {
  constructor(
    readonly key: string,
    readonly encoded: Buffer,
    readonly records: readonly SourceRecord[],
  ) {}

  get args(): string[] {
    return decodeRespArray(this.encoded);
  }
}

/** The bulk strings of one RESP array (`*N\r\n$len\r\n…\r\n…`) as UTF-8 text. */
export function decodeRespArray(bytes: Buffer): string[] {
  let pos = bytes.indexOf(LF) + 1;
  const n = Number(bytes.toString('latin1', 1, pos - 2));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const lineEnd = bytes.indexOf(LF, pos);
    const len = Number(bytes.toString('latin1', pos + 1, lineEnd - 1));
    out.push(bytes.toString('utf8', lineEnd + 1, lineEnd + 1 + len));
    pos = lineEnd + 1 + len + 2;
  }
  return out;
}

/** Decimal digits of a non-negative integer. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes a non-negative integer in decimal at `off`; returns the offset after it. */
function writeUint(buf: Buffer, off: number, n: number): number {
  const end = off + digits(n);
  let p = end;
  do {
    buf[--p] = ZERO + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/** `$<len>\r\n` at `off`. */
function bulkHeader(buf: Buffer, off: number, len: number): number {
  buf[off] = DOLLAR;
  off = writeUint(buf, off + 1, len);
  buf[off] = CR;
  buf[off + 1] = LF;
  return off + 2;
}

/** Copies `src[start, end)` to `dst` at `off`: a JS loop for short runs (cheaper than a native call). */
function copy(src: Buffer, start: number, end: number, dst: Buffer, off: number): number {
  if (end - start < 32) {
    for (let i = start; i < end; i++) dst[off++] = src[i]!;
    return off;
  }
  src.copy(dst, off, start, end);
  return off + (end - start);
}

/**
 * Encodes the `HSET`s of grouped writes as RESP straight from a partition's spilled bytes: no string per
 * field or value, a slab of memory shared by consecutive commands. The hash scheme's field is the spilled
 * suffix as it is; the range scheme's is `id mod bucketSize`, written as digits.
 *
 * @example
 * const encoder = new HsetEncoder('user:bkt:', 0);
 * const end = encoder.encode(index, order, i, bucket); // records order[i … end) are in encoder.bytes
 */
export class HsetEncoder {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private pos = 0;
  /** Start of the command being written (its header room) in `slab`. */
  private start = 0;
  private readonly prefix: Buffer;
  private readonly view = emptyView();
  /** The last command's bytes. */
  bytes: Buffer = Buffer.alloc(0);

  constructor(
    prefix: string,
    /** Ids per bucket of the range scheme; 0 for the hash scheme. */
    private readonly rangeSize: number,
    private readonly maxFields = MAX_FIELDS_PER_HSET,
    private readonly maxBytes = MAX_HSET_BYTES,
  ) {
    this.prefix = Buffer.from(prefix, 'utf8');
  }

  /**
   * Encodes `HSET <prefix><bucket> f1 v1 …` for the records `order[from …]` of `index` that are in `bucket`,
   * in order, up to the command limits; the bytes are left in {@link bytes}. Returns where the next command
   * starts in `order` (the first record not taken).
   */
  encode(index: PartitionIndex, order: Uint32Array, from: number, bucket: number): number {
    const { view, prefix } = this;
    const src = index.buf;
    const count = index.count;
    const buckets = index.buckets;
    this.start = this.pos;
    let p = this.room(this.pos, HEADER_ROOM + HSET.length + 16 + prefix.length + 16);
    p += HEADER_ROOM;
    p += HSET.copy(this.slab, p);
    p = bulkHeader(this.slab, p, prefix.length + digits(bucket));
    p += prefix.copy(this.slab, p);
    p = writeUint(this.slab, p, bucket);
    this.slab[p++] = CR;
    this.slab[p++] = LF;
    const bodyStart = p;
    let i = from;
    let pairs = 0;
    while (
      i < count &&
      buckets[order[i]!] === bucket &&
      pairs < this.maxFields &&
      p - bodyStart < this.maxBytes
    ) {
      index.view(order[i]!, view);
      const valueLength = view.valueEnd - view.valueStart;
      if (this.rangeSize === 0) {
        const suffixLength = view.suffixEnd - view.suffixStart;
        p = this.room(p, suffixLength + valueLength + 32);
        const slab = this.slab;
        p = bulkHeader(slab, p, suffixLength);
        p = copy(src, view.suffixStart, view.suffixEnd, slab, p);
      } else {
        p = this.room(p, valueLength + 48);
        let id = 0;
        for (let b = view.suffixStart; b < view.suffixEnd; b++) id = id * 10 + (src[b]! - ZERO);
        const field = id % this.rangeSize;
        p = bulkHeader(this.slab, p, digits(field));
        p = writeUint(this.slab, p, field);
      }
      const slab = this.slab;
      slab[p++] = CR;
      slab[p++] = LF;
      p = bulkHeader(slab, p, valueLength);
      p = copy(src, view.valueStart, view.valueEnd, slab, p);
      slab[p++] = CR;
      slab[p++] = LF;
      pairs++;
      i++;
    }
    // The header goes right before the body's first byte, at the end of the room kept for it.
    const args = 2 + 2 * pairs;
    const headerLength = 3 + digits(args);
    let h = this.start + HEADER_ROOM - headerLength;
    const headerStart = h;
    this.slab[h++] = STAR;
    h = writeUint(this.slab, h, args);
    this.slab[h++] = CR;
    this.slab[h] = LF;
    this.bytes = this.slab.subarray(headerStart, p);
    this.pos = p;
    return i;
  }

  /**
   * Makes room for `need` more bytes at `p` in the slab; when it is full, the command written so far moves to
   * a fresh slab (the old one lives on in the commands that point into it). Returns where `p` is now.
   */
  private room(p: number, need: number): number {
    if (p + need <= this.slab.length) return p;
    const written = p - this.start;
    const next = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (written + need)));
    this.slab.copy(next, 0, this.start, p);
    this.slab = next;
    this.start = 0;
    return written;
  }
}
