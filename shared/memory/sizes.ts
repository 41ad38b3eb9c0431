import { allocSize } from './jemalloc.js';

/**
 * Sizes of Redis 7 data structures (64-bit), as allocated by jemalloc. Each was checked against `used_memory`
 * on redis-server 7.0 (see test/integration/memory/calibration.test.ts).
 */
export const REDIS_SIZES = {
  /** `dictEntry` (key, value, next pointers: 24 bytes), one per key in the keyspace and per field of a hashtable. */
  dictEntry: allocSize(24),
  /** `robj` (type, encoding, LRU, refcount, pointer). */
  robj: 16,
  /** A hashtable-encoded hash's `dict` struct (56 bytes). */
  dict: allocSize(56),
  /** One bucket pointer of a hash table's array. */
  tableSlot: 8,
  /** Listpack header (total bytes, element count) plus its end byte. */
  listpackHeader: 7,
  /** Longest string stored as an embedded string object (robj and SDS in one allocation). */
  embstrLimit: 44,
  /** `SET` values 0…9999 share preallocated objects (unless maxmemory-policy is LRU/LFU). */
  sharedIntegers: 10_000,
} as const;

const CANONICAL_INT = /^(0|-?[1-9][0-9]{0,19})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** UTF-8 length of `text` (Redis counts bytes). */
export function utf8Bytes(text: string): number {
  // Pure ASCII is the common case: its byte length is its length.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

/**
 * The value of `text` when Redis would store it as an integer (canonical decimal that fits a signed 64-bit
 * integer: no sign on zero, no leading zeros, no spaces — Redis's `string2ll`), else undefined.
 */
export function redisInteger(text: string): bigint | undefined {
  if (text.length > 20 || !CANONICAL_INT.test(text)) return undefined;
  const value = BigInt(text);
  return value >= INT64_MIN && value <= INT64_MAX ? value : undefined;
}

/** Header bytes of an SDS string of `len` bytes (sdshdr5/8/16/32/64). */
function sdsHeader(len: number): number {
  if (len < 32) return 1;
  if (len < 256) return 3;
  if (len < 65_536) return 5;
  if (len < 2 ** 32) return 9;
  return 17;
}

/** Allocation of an SDS string of `len` bytes: header, bytes, terminating NUL, rounded to the size class. */
export function sdsAlloc(len: number): number {
  return allocSize(sdsHeader(len) + len + 1);
}

/**
 * Memory of a string value (`SET key value`) beyond the key: 0 for a shared integer, a 16-byte robj for other
 * integers, one allocation for an embedded string (≤ 44 bytes), a robj plus an SDS otherwise.
 */
export function stringValueBytes(value: string, sharedIntegers: boolean): number {
  const int = redisInteger(value);
  if (int !== undefined) {
    return sharedIntegers && int >= 0n && int < BigInt(REDIS_SIZES.sharedIntegers) ? 0 : REDIS_SIZES.robj;
  }
  const len = utf8Bytes(value);
  if (len <= REDIS_SIZES.embstrLimit) return allocSize(REDIS_SIZES.robj + 3 + len + 1);
  return REDIS_SIZES.robj + sdsAlloc(len);
}

/** Bytes of a listpack entry's back-length field for an entry of `len` bytes. */
function backlen(len: number): number {
  if (len <= 127) return 1;
  if (len < 16_383) return 2;
  if (len < 2_097_151) return 3;
  if (len < 268_435_455) return 4;
  return 5;
}

/**
 * Bytes one string takes as a listpack entry: integers in 1, 2, 3, 4, 5 or 9 bytes (7-bit unsigned, 13, 16,
 * 24, 32, 64-bit), strings with a 1, 2 or 5 byte length header; plus the back-length.
 */
export function listpackEntryBytes(text: string): number {
  const int = redisInteger(text);
  let encoded: number;
  if (int !== undefined) {
    const v = Number(int);
    if (v >= 0 && v <= 127) encoded = 1;
    else if (v >= -4096 && v <= 4095) encoded = 2;
    else if (v >= -32_768 && v <= 32_767) encoded = 3;
    else if (v >= -8_388_608 && v <= 8_388_607) encoded = 4;
    else if (v >= -2_147_483_648 && v <= 2_147_483_647) encoded = 5;
    else encoded = 9;
  } else {
    const len = utf8Bytes(text);
    encoded = len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + len;
  }
  return encoded + backlen(encoded);
}

/**
 * Slots of a Redis hash table holding `n` entries that grew from empty: the smallest power of two ≥ n
 * (at least 4); 0 for an empty keyspace dict, which has no table yet.
 */
export function dictSlots(n: number): number {
  if (n <= 0) return 0;
  return Math.max(4, 2 ** Math.ceil(Math.log2(n)));
}

/** Growth of a keyspace dict's bucket array when `added` keys join `existing` ones, and the rehash peak. */
export function dictGrowth(existing: number, added: number): { bytes: number; transient: number } {
  const before = dictSlots(existing);
  const after = dictSlots(existing + added);
  if (after <= before) return { bytes: 0, transient: 0 };
  // While Redis rehashes incrementally, the old array (half the new one) lives on next to the new one.
  return { bytes: (after - before) * REDIS_SIZES.tableSlot, transient: (after / 2) * REDIS_SIZES.tableSlot };
}

/** Memory of a hash's body (beyond its robj) in listpack encoding, given the sum of its entries' bytes. */
export function listpackBytes(entryBytes: number): number {
  return allocSize(REDIS_SIZES.listpackHeader + entryBytes);
}

/** Memory of a hashtable-encoded hash's body with `fields` fields of the given mean SDS allocations. */
export function hashtableBytes(fields: number, meanFieldAlloc: number, meanValueAlloc: number): number {
  return (
    REDIS_SIZES.dict +
    dictSlots(fields) * REDIS_SIZES.tableSlot +
    fields * (REDIS_SIZES.dictEntry + meanFieldAlloc + meanValueAlloc)
  );
}
