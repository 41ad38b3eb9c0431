import type { PartitionIndex } from './group.js';
import {
  closeListpack,
  ENTRY_OVERHEAD,
  LISTPACK_HEADER,
  PAYLOAD_OVERHEAD,
  writeEntry,
  writeHashPayload,
  writeIntEntry,
} from './listpack.js';
import { hasStrip } from './hset-encoder.js';
import { readVarint } from './varint.js';

const SLAB_BYTES = 256 * 1024;
const CR = 13;
const LF = 10;
const ZERO = 48;
const RESTORE_REPLACE = Buffer.from('$7\r\nRESTORE\r\n', 'latin1');
const REPLACE = Buffer.from('$7\r\nREPLACE\r\n', 'latin1');
/** Slots of the duplicate-field table: a power of two, at least twice the most records a listpack bucket takes. */
const TABLE_SLOTS = 2048;
/** Records a bucket may hold (duplicates included) for `RESTORE`; more go to `HSET`. */
const MAX_RECORDS = TABLE_SLOTS / 2;

/** What a listpack may hold on the server: its `hash-max-listpack-*` settings. */
export interface ListpackFit {
  readonly entries: number;
  readonly value: number;
}

/**
 * Encodes a whole bucket as `RESTORE <key> <ttl ms> <payload> REPLACE`: its fields and values, duplicates
 * resolved to the last value in source order (at the first occurrence's place, as `HSET` leaves them), built
 * into a listpack and wrapped as a `DUMP` payload, all straight from a partition's spilled bytes. A bucket that
 * would not stay a listpack on the server (more fields than `fit.entries`, a text longer than `fit.value`) is
 * left to the `HSET` encoder: {@link encode} returns `from`.
 *
 * @example
 * const encoder = new RestoreEncoder('user:bkt:', 0, { entries: 128, value: 64 });
 * const end = encoder.encode(index, order, i, bucket, '86400000');
 * if (end === i) useHset(); else send(encoder.bytes);
 */
export class RestoreEncoder {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private pos = 0;
  private listpack = Buffer.allocUnsafe(64 * 1024);
  private readonly prefix: Buffer;
  /** The last command's bytes. */
  bytes: Buffer = Buffer.alloc(0);
  /** Per distinct field of the bucket being encoded: the record whose value it ends with, and its field. */
  private readonly valueOf = new Uint32Array(MAX_RECORDS);
  private readonly fieldOf = new Uint32Array(MAX_RECORDS);
  private readonly fieldInt = new Float64Array(MAX_RECORDS);
  /** Open addressing over field hashes: 1 + the field's number, stamped with the bucket's generation. */
  private readonly table = new Uint32Array(TABLE_SLOTS);
  private readonly stamps = new Uint32Array(TABLE_SLOTS);
  private generation = 0;
  private length = 0;
  private index: PartitionIndex | undefined;

  /** The hash scheme's `fieldStrip` as UTF-8 (empty: fields are the suffixes as they are). */
  private readonly strip: Buffer;
  /** A field that keeps its whole suffix behind the NUL mark, assembled for `writeEntry`. */
  private marked = Buffer.allocUnsafe(256);

  constructor(
    prefix: string,
    /** Ids per bucket of the range scheme; 0 for the hash scheme. */
    private readonly rangeSize: number,
    private readonly fit: ListpackFit,
    /** The hash scheme's `fieldStrip`: fields are `fieldOfSuffix(suffix, strip)`. */
    strip = '',
  ) {
    this.prefix = Buffer.from(prefix, 'utf8');
    this.strip = Buffer.from(strip, 'utf8');
  }

  /**
   * Encodes the `RESTORE` of `bucket` from the records `order[from …]` of `index` that are in it (all of them),
   * with `ttlMs` (`'0'`: none); the bytes are left in {@link bytes}. Returns where the next bucket starts in
   * `order`, or `from` when the bucket does not fit a listpack (nothing encoded).
   */
  encode(index: PartitionIndex, order: Uint32Array, from: number, bucket: number, ttlMs: string): number {
    this.index = index;
    const src = index.buf;
    const at = index.at;
    const buckets = index.buckets;
    const count = index.count;
    const rangeSize = this.rangeSize;
    const maxValue = this.fit.value;
    const gen = ++this.generation;
    if (gen === 0xffffffff) {
      this.stamps.fill(0);
      this.generation = 1;
    }
    const stamp = this.generation;
    let fields = 0;
    let textBytes = 0;
    let i = from;
    for (; i < count; i++) {
      const r = order[i]!;
      if (buckets[r] !== bucket) break;
      if (i - from >= MAX_RECORDS) return from;
      let q = at[r]!;
      let suffixLength = src[q++]!;
      if (suffixLength >= 0x80) {
        q = this.long(src, q - 1);
        suffixLength = this.length;
      }
      const suffixStart = q;
      q += suffixLength;
      let valueLength = src[q]!;
      if (valueLength >= 0x80) {
        this.long(src, q);
        valueLength = this.length;
      }
      if (valueLength > maxValue) return from;
      // The field and its hash: the spilled suffix (hash scheme), or `id mod bucketSize` (range scheme).
      let h: number;
      let id = 0;
      if (rangeSize === 0) {
        const fieldLength =
          this.strip.length === 0
            ? suffixLength
            : hasStrip(src, suffixStart, suffixLength, this.strip)
              ? suffixLength - this.strip.length
              : suffixLength + 1;
        if (fieldLength > maxValue) return from;
        h = 0x811c9dc5;
        for (let b = suffixStart; b < suffixStart + suffixLength; b++) h = Math.imul(h ^ src[b]!, 0x01000193);
      } else {
        for (let b = suffixStart; b < suffixStart + suffixLength; b++) id = id * 10 + (src[b]! - ZERO);
        id %= rangeSize;
        h = Math.imul(id, 0x9e3779b1);
      }
      let slot = (h ^ (h >>> 15)) & (TABLE_SLOTS - 1);
      for (;;) {
        if (this.stamps[slot] !== stamp) {
          this.stamps[slot] = stamp;
          this.table[slot] = fields + 1;
          this.fieldOf[fields] = r;
          this.fieldInt[fields] = id;
          this.valueOf[fields] = r;
          fields++;
          textBytes += suffixLength + valueLength;
          break;
        }
        const f = this.table[slot]! - 1;
        if (
          rangeSize === 0
            ? this.sameSuffix(src, this.fieldOf[f]!, suffixStart, suffixLength)
            : this.fieldInt[f] === id
        ) {
          this.valueOf[f] = r;
          textBytes += valueLength;
          break;
        }
        slot = (slot + 1) & (TABLE_SLOTS - 1);
      }
    }
    if (fields > this.fit.entries) return from;

    // The listpack, in a scratch buffer, then the command around it.
    const room = LISTPACK_HEADER + 1 + textBytes + 2 * fields * ENTRY_OVERHEAD;
    if (this.listpack.length < room)
      this.listpack = Buffer.allocUnsafe(Math.max(room, 2 * this.listpack.length));
    const lp = this.listpack;
    let p = LISTPACK_HEADER;
    for (let f = 0; f < fields; f++) {
      if (rangeSize === 0) {
        const s = this.suffixStart(src, this.fieldOf[f]!);
        const n = this.length;
        const strip = this.strip;
        if (strip.length === 0) p = writeEntry(lp, p, src, s, s + n);
        else if (hasStrip(src, s, n, strip)) p = writeEntry(lp, p, src, s + strip.length, s + n);
        else {
          if (this.marked.length < n + 1) this.marked = Buffer.allocUnsafe(2 * (n + 1));
          this.marked[0] = 0;
          src.copy(this.marked, 1, s, s + n);
          p = writeEntry(lp, p, this.marked, 0, n + 1);
        }
      } else {
        p = writeIntEntry(lp, p, this.fieldInt[f]!);
      }
      const v = this.valueStart(src, this.valueOf[f]!);
      p = writeEntry(lp, p, src, v, v + this.length);
    }
    const lpEnd = closeListpack(lp, 0, p, 2 * fields);
    const listpack = lp.subarray(0, lpEnd);
    const payloadBytes = PAYLOAD_OVERHEAD + lpEnd;

    const keyLength = this.prefix.length + digits(bucket);
    const need = 64 + keyLength + ttlMs.length + payloadBytes + RESTORE_REPLACE.length + REPLACE.length;
    if (this.pos + need > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, need));
      this.pos = 0;
    }
    const slab = this.slab;
    const start = this.pos;
    let o = start;
    slab[o++] = 42; // '*'
    slab[o++] = ZERO + 5;
    slab[o++] = CR;
    slab[o++] = LF;
    o += RESTORE_REPLACE.copy(slab, o);
    o = bulkHeader(slab, o, keyLength);
    o += this.prefix.copy(slab, o);
    o = writeUint(slab, o, bucket);
    slab[o++] = CR;
    slab[o++] = LF;
    o = bulkHeader(slab, o, ttlMs.length);
    o += slab.write(ttlMs, o, 'latin1');
    slab[o++] = CR;
    slab[o++] = LF;
    // The payload's length is known only once written: room for the longest header, then moved into place.
    const headerAt = o;
    o += 12;
    const payloadEnd = writeHashPayload(slab, o, listpack);
    const payloadLength = payloadEnd - o;
    let h = bulkHeader(slab, headerAt, payloadLength);
    if (h < o) {
      slab.copy(slab, h, o, payloadEnd);
      h += payloadLength;
    } else h = payloadEnd;
    slab[h++] = CR;
    slab[h++] = LF;
    h += REPLACE.copy(slab, h);
    this.bytes = slab.subarray(start, h);
    this.pos = h;
    return i;
  }

  /** Whether record `r`'s suffix equals `src[start … start+length)`. */
  private sameSuffix(src: Buffer, r: number, start: number, length: number): boolean {
    const s = this.suffixStart(src, r);
    if (this.length !== length) return false;
    for (let b = 0; b < length; b++) if (src[s + b] !== src[start + b]) return false;
    return true;
  }

  /** Where record `r`'s suffix starts; its length is left in {@link length}. */
  private suffixStart(src: Buffer, r: number): number {
    let q = this.index!.at[r]!;
    let n = src[q++]!;
    if (n >= 0x80) {
      q = this.long(src, q - 1);
      n = this.length;
    }
    this.length = n;
    return q;
  }

  /** Where record `r`'s value starts; its length is left in {@link length}. */
  private valueStart(src: Buffer, r: number): number {
    const s = this.suffixStart(src, r);
    let q = s + this.length;
    let n = src[q++]!;
    if (n >= 0x80) {
      q = this.long(src, q - 1);
      n = this.length;
    }
    this.length = n;
    return q;
  }

  /** A varint length past one byte at `at`: leaves it in {@link length}, returns where its text starts. */
  private long(src: Buffer, at: number): number {
    const cursor = { pos: at };
    this.length = readVarint(src, cursor);
    return cursor.pos;
  }
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

function writeUint(buf: Buffer, off: number, n: number): number {
  const end = off + digits(n);
  let p = end;
  do {
    buf[--p] = ZERO + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

function bulkHeader(buf: Buffer, off: number, len: number): number {
  buf[off] = 36; // '$'
  off = writeUint(buf, off + 1, len);
  buf[off] = CR;
  buf[off + 1] = LF;
  return off + 2;
}
