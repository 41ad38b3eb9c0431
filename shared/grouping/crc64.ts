/**
 * CRC-64/Jones as Redis computes it over a `DUMP` payload (reflected, polynomial 0xad93d23594c935a9, initial
 * value 0, no final xor; check value of "123456789": 0xe9c6d914c4b8d9ca). Two 32-bit halves instead of BigInt,
 * eight tables so that eight bytes are folded per step ("slicing by 8").
 */

/** The reflected polynomial, as its high and low 32-bit halves. */
const POLY_HI = 0x95ac9329;
const POLY_LO = 0xac4bc9b5;

const TABLES = 8;
const HI = new Uint32Array(256 * TABLES);
const LO = new Uint32Array(256 * TABLES);

for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      hi = (hi ^ POLY_HI) >>> 0;
      lo = (lo ^ POLY_LO) >>> 0;
    }
  }
  HI[n] = hi;
  LO[n] = lo;
}
for (let t = 1; t < TABLES; t++) {
  for (let n = 0; n < 256; n++) {
    const prevHi = HI[(t - 1) * 256 + n]!;
    const prevLo = LO[(t - 1) * 256 + n]!;
    // One more zero byte through the previous table: shift right by 8, then fold the byte shifted out.
    const out = prevLo & 0xff;
    HI[t * 256 + n] = ((prevHi >>> 8) ^ HI[out]!) >>> 0;
    LO[t * 256 + n] = (((prevLo >>> 8) | ((prevHi & 0xff) << 24)) ^ LO[out]!) >>> 0;
  }
}

/**
 * The CRC-64 of `buf[start … end)`, written little-endian (as a `DUMP` payload's footer holds it) into `out` at
 * `at`.
 */
export function writeCrc64(buf: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
  let hi = 0;
  let lo = 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = (lo ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
    const b = (hi ^ (buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24))) >>> 0;
    const t7 = 7 * 256 + (a & 0xff);
    const t6 = 6 * 256 + ((a >>> 8) & 0xff);
    const t5 = 5 * 256 + ((a >>> 16) & 0xff);
    const t4 = 4 * 256 + (a >>> 24);
    const t3 = 3 * 256 + (b & 0xff);
    const t2 = 2 * 256 + ((b >>> 8) & 0xff);
    const t1 = 256 + ((b >>> 16) & 0xff);
    const t0 = b >>> 24;
    hi = HI[t7]! ^ HI[t6]! ^ HI[t5]! ^ HI[t4]! ^ HI[t3]! ^ HI[t2]! ^ HI[t1]! ^ HI[t0]!;
    lo = LO[t7]! ^ LO[t6]! ^ LO[t5]! ^ LO[t4]! ^ LO[t3]! ^ LO[t2]! ^ LO[t1]! ^ LO[t0]!;
  }
  for (; i < end; i++) {
    const n = (lo ^ buf[i]!) & 0xff;
    lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ LO[n]!;
    hi = (hi >>> 8) ^ HI[n]!;
  }
  lo >>>= 0;
  hi >>>= 0;
  out[at] = lo & 0xff;
  out[at + 1] = (lo >>> 8) & 0xff;
  out[at + 2] = (lo >>> 16) & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = hi & 0xff;
  out[at + 5] = (hi >>> 8) & 0xff;
  out[at + 6] = (hi >>> 16) & 0xff;
  out[at + 7] = hi >>> 24;
}

/** The CRC-64 of `buf` as a 16-digit hex string (tests and diagnostics). */
export function crc64Hex(buf: Uint8Array): string {
  const out = new Uint8Array(8);
  writeCrc64(buf, 0, buf.length, out, 0);
  let hex = '';
  for (let i = 7; i >= 0; i--) hex += out[i]!.toString(16).padStart(2, '0');
  return hex;
}
