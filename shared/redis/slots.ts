/** Redis Cluster's hash slot count: every key lives in slot `CRC16(key) mod 16384`. */
export const SLOT_COUNT = 16384;

/** CRC16-CCITT (XModem: polynomial 0x1021, initial 0), the checksum Redis Cluster hashes keys with. */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC16 of `bytes[from, to)`. */
export function crc16(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** CRC16 of the UTF-8 bytes of `s[from, to)`, without encoding when it is ASCII (the usual key). */
function crc16String(s: string, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return crc16(Buffer.from(s.slice(from, to)));
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ c) & 0xff]!;
  }
  return crc;
}

/**
 * The hash slot of a key, as Redis Cluster computes it: when the key holds a `{…}` with at least one character
 * between the first `{` and the first `}` after it, only that part (the hash tag) is hashed, so keys sharing a
 * tag share a slot.
 *
 * @example
 * keySlot('123456789'); // 12739 (CRC16 0x31C3)
 * keySlot('{user:1}:profile') === keySlot('{user:1}:orders'); // true
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16String(key, open + 1, close) & (SLOT_COUNT - 1);
  }
  return crc16String(key, 0, key.length) & (SLOT_COUNT - 1);
}

let tags: string[] | undefined;

/**
 * A short hash tag for `slot`: `{${slotTag(s)}}` in a key puts it in slot `s`. Used for keys that must share
 * a slot with data they cover (a Kafka watermark per slot). The table is built once, on first use (a few ms).
 *
 * @example
 * keySlot(`rbl:wm:{${slotTag(42)}}:orders:0:g`); // 42
 */
export function slotTag(slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT)
    throw new RangeError(`slot must be an integer in [0, ${SLOT_COUNT}), got ${slot}`);
  if (tags === undefined) {
    const table: string[] = new Array<string>(SLOT_COUNT);
    let missing = SLOT_COUNT;
    for (let n = 0; missing > 0; n++) {
      const tag = n.toString(36);
      const s = crc16String(tag, 0, tag.length) & (SLOT_COUNT - 1);
      if (table[s] === undefined) {
        table[s] = tag;
        missing--;
      }
    }
    tags = table;
  }
  return tags[slot]!;
}
