/**
 * Unsigned LEB128 varints for the spill format: 7 bits per byte, low bits first, the high bit set on every byte
 * but the last. Values up to 2^53 (byte offsets of any file) round-trip; arithmetic instead of bit operators
 * past 2^31 keeps them exact.
 */

/** Bytes {@link writeVarint} takes for `n`. */
export function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/** Writes `n` (a non-negative safe integer) at `off`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[off++] = n;
  return off;
}

/** Where {@link readVarint} leaves the offset after the value it read. */
export interface Cursor {
  pos: number;
}

/**
 * Reads a varint at `cursor.pos` and moves the cursor past it. Returns -1 when the buffer ends inside the
 * value (a truncated spill file) or the value is longer than a safe integer.
 */
export function readVarint(buf: Uint8Array, cursor: Cursor): number {
  let pos = cursor.pos;
  let byte = buf[pos++];
  if (byte === undefined) return -1;
  if (byte < 0x80) {
    cursor.pos = pos;
    return byte;
  }
  let n = byte & 0x7f;
  let scale = 0x80;
  for (;;) {
    byte = buf[pos++];
    if (byte === undefined || scale > 2 ** 49) return -1;
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 0x80;
  }
  cursor.pos = pos;
  return n;
}
