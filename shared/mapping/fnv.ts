const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * 32-bit FNV-1a over the UTF-8 bytes of `text`, without encoding it to a Buffer first
 * (lone surrogates hash as U+FFFD, exactly as `Buffer.from(text)` encodes them). `seed` continues a hash:
 * `fnv1a32(b, fnv1a32(a))` is `fnv1a32(a + b)`.
 *
 * @example
 * fnv1a32('user:1') // the bucket of user:1 is fnv1a32('user:1') % bucketCount
 */
export function fnv1a32(text: string, seed = FNV_OFFSET): number {
  let h = seed;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return h >>> 0;
}

/**
 * 32-bit FNV-1a over `bytes[start, end)`, continuing from `seed`: the same hash as {@link fnv1a32} of the text
 * those bytes encode in UTF-8. The grouped load hashes the key suffixes it spilled without decoding them.
 *
 * @example
 * fnv1a32Bytes(Buffer.from('1'), 0, 1, fnv1a32('user:')) === fnv1a32('user:1') // true
 */
export function fnv1a32Bytes(bytes: Uint8Array, start: number, end: number, seed = FNV_OFFSET): number {
  let h = seed;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h >>> 0;
}
