// The 64-bit LCG constant of Lamping & Veach's jump consistent hash, split into 32-bit halves
// so the hot path needs no BigInt: 2862933555777941757 = 0x27BB2EE6_87B0B0FD.
const C_HI = 0x27bb2ee6;
const C_LO = 0x87b0b0fd;

/** Full 64-bit product of two unsigned 32-bit numbers as [hi, lo]. */
function mul32(a: number, b: number): [number, number] {
  const a1 = a >>> 16;
  const a0 = a & 0xffff;
  const b1 = b >>> 16;
  const b0 = b & 0xffff;
  const p00 = a0 * b0;
  const mid = a1 * b0 + a0 * b1; // < 2^33
  const lo = p00 + (mid % 0x10000) * 0x10000;
  const carry = Math.floor(lo / 0x100000000);
  const hi = a1 * b1 + Math.floor(mid / 0x10000) + carry;
  return [hi >>> 0, lo >>> 0];
}

/**
 * Jump consistent hash (Lamping & Veach, 2014): maps a 64-bit key, given as two unsigned 32-bit halves,
 * to a bucket in [0, buckets). Growing `buckets` from n to n+1 moves only 1/(n+1) of the keys.
 */
export function jumpHash(keyHi: number, keyLo: number, buckets: number): number {
  let hi = keyHi >>> 0;
  let lo = keyLo >>> 0;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * C + 1 (mod 2^64)
    const [pHi, pLo] = mul32(lo, C_LO);
    let nHi = (pHi + Math.imul(hi, C_LO) + Math.imul(lo, C_HI)) >>> 0;
    let nLo = pLo + 1;
    if (nLo > 0xffffffff) {
      nLo = 0;
      nHi = (nHi + 1) >>> 0;
    }
    hi = nHi;
    lo = nLo >>> 0;
    // j = (b + 1) * (2^31 / ((key >> 33) + 1))
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}
