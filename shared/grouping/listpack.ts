/**
 * Redis's serialized form of a small hash, built client-side: a listpack (the encoding Redis 7 keeps hashes of
 * up to `hash-max-listpack-entries` fields in) wrapped as a `DUMP` payload, for `RESTORE`. Entries are encoded
 * exactly as `HSET` would store them (a text that is a canonical 64-bit integer becomes an integer entry), so a
 * restored bucket is byte for byte the hash `HSET` builds from the same fields in the same order.
 *
 * Formats: listpack.c (`lpEncodeBacklen`, `lpEncodeString`, `lpEncodeIntegerGetType`) and rdb.c
 * (`rdbSaveLen`, `createDumpPayload`) of Redis 7.0.
 */
import { writeCrc64 } from './crc64.js';

/** `RDB_TYPE_HASH_LISTPACK`: a hash held in one listpack, known from RDB version 10 (Redis 7.0) on. */
export const RDB_TYPE_HASH_LISTPACK = 16;
/** The RDB version a payload says it was made by: the oldest that knows listpack hashes. */
export const DUMP_RDB_VERSION = 10;
/** Listpack header: total bytes (uint32) and element count (uint16). */
export const LISTPACK_HEADER = 6;
/** An entry's most bytes besides its text: 5 of encoding, 5 of back length. */
export const ENTRY_OVERHEAD = 10;
/** A payload's bytes besides the listpack: type, length (at most 5 bytes), RDB version and CRC-64. */
export const PAYLOAD_OVERHEAD = 1 + 5 + 2 + 8;

const MINUS = 45;
const ZERO = 48;
const NINE = 57;

/** The 7-bit groups of an entry's length, written after it so the listpack can be walked backwards. */
function writeBacklen(out: Uint8Array, p: number, len: number): number {
  if (len <= 127) {
    out[p] = len;
    return p + 1;
  }
  if (len < 16383) {
    out[p] = len >>> 7;
    out[p + 1] = (len & 127) | 128;
    return p + 2;
  }
  if (len < 2097151) {
    out[p] = len >>> 14;
    out[p + 1] = ((len >>> 7) & 127) | 128;
    out[p + 2] = (len & 127) | 128;
    return p + 3;
  }
  if (len < 268435455) {
    out[p] = len >>> 21;
    out[p + 1] = ((len >>> 14) & 127) | 128;
    out[p + 2] = ((len >>> 7) & 127) | 128;
    out[p + 3] = (len & 127) | 128;
    return p + 4;
  }
  out[p] = Math.floor(len / 2 ** 28);
  out[p + 1] = ((len >>> 21) & 127) | 128;
  out[p + 2] = ((len >>> 14) & 127) | 128;
  out[p + 3] = ((len >>> 7) & 127) | 128;
  out[p + 4] = (len & 127) | 128;
  return p + 5;
}

/**
 * The integer `src[start … end)` spells as Redis's `string2ll` reads it (optional `-`, no leading zero, no `+`,
 * no space, at most 20 characters), or `undefined` when it is not one. Integers past 2^53 come back as a
 * bigint.
 */
export function canonicalInteger(src: Uint8Array, start: number, end: number): number | bigint | undefined {
  const len = end - start;
  if (len === 0 || len > 20) return undefined;
  let i = start;
  const negative = src[i] === MINUS;
  if (negative) i++;
  if (i === end) return undefined;
  const first = src[i]!;
  if (first === ZERO) return len === 1 ? 0 : undefined;
  if (first < ZERO + 1 || first > NINE) return undefined;
  if (end - i <= 15) {
    let v = 0;
    for (; i < end; i++) {
      const c = src[i]!;
      if (c < ZERO || c > NINE) return undefined;
      v = v * 10 + (c - ZERO);
    }
    return negative ? -v : v;
  }
  for (let j = i; j < end; j++) {
    const c = src[j]!;
    if (c < ZERO || c > NINE) return undefined;
  }
  let big = BigInt(Buffer.from(src.buffer, src.byteOffset + i, end - i).toString('latin1'));
  if (negative) big = -big;
  if (big > 9223372036854775807n || big < -9223372036854775808n) return undefined;
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

/** Writes an integer entry (with its back length) at `p`; returns the offset after it. */
export function writeIntEntry(out: Uint8Array, p: number, v: number | bigint): number {
  const start = p;
  if (typeof v === 'bigint') {
    out[p++] = 0xf4;
    let u = BigInt.asUintN(64, v);
    for (let b = 0; b < 8; b++) {
      out[p++] = Number(u & 0xffn);
      u >>= 8n;
    }
  } else if (v >= 0 && v <= 127) {
    out[p++] = v;
  } else if (v >= -4096 && v <= 4095) {
    const u = v < 0 ? 8192 + v : v;
    out[p++] = (u >>> 8) | 0xc0;
    out[p++] = u & 0xff;
  } else if (v >= -32768 && v <= 32767) {
    const u = v < 0 ? 65536 + v : v;
    out[p++] = 0xf1;
    out[p++] = u & 0xff;
    out[p++] = u >>> 8;
  } else if (v >= -8388608 && v <= 8388607) {
    const u = v < 0 ? 16777216 + v : v;
    out[p++] = 0xf2;
    out[p++] = u & 0xff;
    out[p++] = (u >>> 8) & 0xff;
    out[p++] = u >>> 16;
  } else if (v >= -2147483648 && v <= 2147483647) {
    const u = v >>> 0;
    out[p++] = 0xf3;
    out[p++] = u & 0xff;
    out[p++] = (u >>> 8) & 0xff;
    out[p++] = (u >>> 16) & 0xff;
    out[p++] = u >>> 24;
  } else {
    return writeIntEntry(out, p, BigInt(v));
  }
  return writeBacklen(out, p, p - start);
}

/**
 * Writes the entry for the text `src[start … end)` at `p` (an integer entry when `HSET` would store one);
 * returns the offset after it. `out` needs `end - start + ENTRY_OVERHEAD` bytes of room.
 */
export function writeEntry(out: Uint8Array, p: number, src: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const first = src[start];
  // Only texts that start like a number can be one: most values are decided on their first byte.
  if (len > 0 && len <= 20 && ((first! >= ZERO && first! <= NINE) || first === MINUS)) {
    const v = canonicalInteger(src, start, end);
    if (v !== undefined) return writeIntEntry(out, p, v);
  }
  const entryStart = p;
  if (len < 64) {
    out[p++] = 0x80 | len;
  } else if (len < 4096) {
    out[p++] = 0xe0 | (len >>> 8);
    out[p++] = len & 0xff;
  } else {
    out[p++] = 0xf0;
    out[p++] = len & 0xff;
    out[p++] = (len >>> 8) & 0xff;
    out[p++] = (len >>> 16) & 0xff;
    out[p++] = len >>> 24;
  }
  if (len < 32) for (let b = 0; b < len; b++) out[p++] = src[start + b]!;
  else {
    out.set(src.subarray(start, end), p);
    p += len;
  }
  return writeBacklen(out, p, p - entryStart);
}

/**
 * Closes a listpack whose entries were written from `start + LISTPACK_HEADER` to `end`: the end byte, then the
 * header (total bytes, and the element count or 65535 when it does not fit). Returns the offset after it.
 */
export function closeListpack(out: Uint8Array, start: number, end: number, elements: number): number {
  out[end] = 0xff;
  const total = end + 1 - start;
  out[start] = total & 0xff;
  out[start + 1] = (total >>> 8) & 0xff;
  out[start + 2] = (total >>> 16) & 0xff;
  out[start + 3] = total >>> 24;
  const count = elements < 65535 ? elements : 65535;
  out[start + 4] = count & 0xff;
  out[start + 5] = count >>> 8;
  return end + 1;
}

/** Bytes `rdbSaveLen` takes for `len`. */
export function rdbLenSize(len: number): number {
  return len < 64 ? 1 : len < 16384 ? 2 : 5;
}

/** Writes `len` as `rdbSaveLen` does (6-bit, 14-bit, or a 32-bit big-endian length) at `p`. */
export function writeRdbLen(out: Uint8Array, p: number, len: number): number {
  if (len < 64) {
    out[p] = len;
    return p + 1;
  }
  if (len < 16384) {
    out[p] = (len >>> 8) | 0x40;
    out[p + 1] = len & 0xff;
    return p + 2;
  }
  out[p] = 0x80;
  out[p + 1] = len >>> 24;
  out[p + 2] = (len >>> 16) & 0xff;
  out[p + 3] = (len >>> 8) & 0xff;
  out[p + 4] = len & 0xff;
  return p + 5;
}

/** Bytes of the `DUMP` payload around a listpack of `listpackBytes`. */
export function payloadSize(listpackBytes: number): number {
  return 1 + rdbLenSize(listpackBytes) + listpackBytes + 2 + 8;
}

/**
 * Wraps the listpack `out[lpStart … lpEnd)` as a `DUMP` payload written at `p` (which must not overlap it):
 * type, length, listpack, RDB version, CRC-64 of all before it. Returns the offset after the payload.
 */
export function writeHashPayload(out: Uint8Array, p: number, listpack: Uint8Array): number {
  const start = p;
  out[p++] = RDB_TYPE_HASH_LISTPACK;
  p = writeRdbLen(out, p, listpack.length);
  out.set(listpack, p);
  p += listpack.length;
  out[p++] = DUMP_RDB_VERSION & 0xff;
  out[p++] = DUMP_RDB_VERSION >>> 8;
  writeCrc64(out, start, p, out, p);
  return p + 8;
}

/**
 * A hash's `DUMP` payload from field/value texts in order (duplicates must already be resolved: a listpack
 * with a field twice is a corrupt hash). For tests and small writes; the load pass encodes in place.
 */
export function hashPayload(pairs: readonly (readonly [string | Buffer, string | Buffer])[]): Buffer {
  const texts = pairs.flatMap(([f, v]) => [Buffer.from(f), Buffer.from(v)]);
  const room = LISTPACK_HEADER + 1 + texts.reduce((n, t) => n + t.length + ENTRY_OVERHEAD, 0);
  const lp = Buffer.allocUnsafe(room);
  let p = LISTPACK_HEADER;
  for (const t of texts) p = writeEntry(lp, p, t, 0, t.length);
  const end = closeListpack(lp, 0, p, texts.length);
  const listpack = lp.subarray(0, end);
  const out = Buffer.allocUnsafe(payloadSize(listpack.length));
  writeHashPayload(out, 0, listpack);
  return out;
}
