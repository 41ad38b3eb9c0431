import type { LoadCommand } from '../mapping/index.js';
import type { SourceRecord } from '../records/index.js';
import type { PartitionIndex } from './group.js';
import { readVarint } from './varint.js';

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

/** A length in decimal: one or two digits without a division loop, the common case. */
function writeSmall(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = ZERO + n;
    return off + 1;
  }
  if (n < 100) {
    buf[off] = ZERO + ((n / 10) | 0);
    buf[off + 1] = ZERO + (n % 10);
    return off + 2;
  }
  return writeUint(buf, off, n);
}

/**
 * Whether the suffix `src[start … start+length)` keeps its field without `strip` (see `fieldOfSuffix`): it
 * starts with `strip`, and what follows does not start with a NUL byte.
 */
export function hasStrip(src: Buffer, start: number, length: number, strip: Buffer): boolean {
  const n = strip.length;
  if (length < n) return false;
  for (let b = 0; b < n; b++) if (src[start + b] !== strip[b]) return false;
  return length === n || src[start + n] !== 0;
}

/** `$<len>\r\n` at `off`. */
function bulkHeader(buf: Buffer, off: number, len: number): number {
  buf[off] = DOLLAR;
  off = writeUint(buf, off + 1, len);
  buf[off] = CR;
  buf[off + 1] = LF;
  return off + 2;
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
  /** The last command's bytes. */
  bytes: Buffer = Buffer.alloc(0);
  /** The last long length {@link long} read. */
  private length = 0;
  /** The hash scheme's `fieldStrip` as UTF-8 (empty: fields are the suffixes as they are). */
  private readonly strip: Buffer;

  constructor(
    prefix: string,
    /** Ids per bucket of the range scheme; 0 for the hash scheme. */
    private readonly rangeSize: number,
    private readonly maxFields = MAX_FIELDS_PER_HSET,
    private readonly maxBytes = MAX_HSET_BYTES,
    /** The hash scheme's `fieldStrip`: fields are `fieldOfSuffix(suffix, strip)`. */
    strip = '',
  ) {
    this.prefix = Buffer.from(prefix, 'utf8');
    this.strip = Buffer.from(strip, 'utf8');
  }

  /**
   * Encodes `HSET <prefix><bucket> f1 v1 …` for the records `order[from …]` of `index` that are in `bucket`,
   * in order, up to the command limits; the bytes are left in {@link bytes}. Returns where the next command
   * starts in `order` (the first record not taken).
   */
  encode(index: PartitionIndex, order: Uint32Array, from: number, bucket: number): number {
    const prefix = this.prefix;
    const src = index.buf;
    const at = index.at;
    const count = index.count;
    const buckets = index.buckets;
    const rangeSize = this.rangeSize;
    const maxFields = this.maxFields;
    const maxBytes = this.maxBytes;
    this.start = this.pos;
    let p = this.room(this.pos, HEADER_ROOM + HSET.length + 16 + prefix.length + 16);
    let slab = this.slab;
    p += HEADER_ROOM;
    p += HSET.copy(slab, p);
    p = bulkHeader(slab, p, prefix.length + digits(bucket));
    p += prefix.copy(slab, p);
    p = writeUint(slab, p, bucket);
    slab[p++] = CR;
    slab[p++] = LF;
    const bodyStart = p;
    let i = from;
    let pairs = 0;
    while (i < count && pairs < maxFields && p - bodyStart < maxBytes) {
      const r = order[i]!;
      if (buckets[r] !== bucket) break;
      // The two lengths, each a one-byte varint but for long texts.
      let q = at[r]!;
      let suffixLength = src[q++]!;
      if (suffixLength >= 0x80) {
        q = this.long(src, q - 1);
        suffixLength = this.length;
      }
      const suffixStart = q;
      q += suffixLength;
      let valueLength = src[q++]!;
      if (valueLength >= 0x80) {
        q = this.long(src, q - 1);
        valueLength = this.length;
      }
      const valueStart = q;
      if (p + suffixLength + valueLength + 48 > slab.length) {
        p = this.room(p, suffixLength + valueLength + 48);
        slab = this.slab;
      }
      slab[p++] = DOLLAR;
      if (rangeSize === 0) {
        let fieldStart = suffixStart;
        let fieldLength = suffixLength;
        let mark = 0;
        if (this.strip.length > 0) {
          if (hasStrip(src, suffixStart, suffixLength, this.strip)) {
            fieldStart += this.strip.length;
            fieldLength -= this.strip.length;
          } else mark = 1;
        }
        p = writeSmall(slab, p, fieldLength + mark);
        slab[p++] = CR;
        slab[p++] = LF;
        if (mark) slab[p++] = 0;
        if (fieldLength < 32) for (let b = 0; b < fieldLength; b++) slab[p++] = src[fieldStart + b]!;
        else p += src.copy(slab, p, fieldStart, fieldStart + fieldLength);
      } else {
        let id = 0;
        for (let b = suffixStart; b < suffixStart + suffixLength; b++) id = id * 10 + (src[b]! - ZERO);
        const field = id % rangeSize;
        p = writeSmall(slab, p, digits(field));
        slab[p++] = CR;
        slab[p++] = LF;
        p = writeUint(slab, p, field);
      }
      slab[p++] = CR;
      slab[p++] = LF;
      slab[p++] = DOLLAR;
      p = writeSmall(slab, p, valueLength);
      slab[p++] = CR;
      slab[p++] = LF;
      if (valueLength < 32) for (let b = 0; b < valueLength; b++) slab[p++] = src[valueStart + b]!;
      else p += src.copy(slab, p, valueStart, valueStart + valueLength);
      slab[p++] = CR;
      slab[p++] = LF;
      pairs++;
      i++;
    }
    // The header goes right before the body's first byte, at the end of the room kept for it.
    const args = 2 + 2 * pairs;
    let h = this.start + HEADER_ROOM - (3 + digits(args));
    const headerStart = h;
    slab[h++] = STAR;
    h = writeUint(slab, h, args);
    slab[h++] = CR;
    slab[h] = LF;
    this.bytes = slab.subarray(headerStart, p);
    this.pos = p;
    return i;
  }

  /** A varint length past one byte at `at`: leaves it in {@link length}, returns where its text starts. */
  private long(src: Buffer, at: number): number {
    const cursor = { pos: at };
    this.length = readVarint(src, cursor);
    return cursor.pos;
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
