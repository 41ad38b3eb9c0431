/** Longest `raw` a reject carries, in UTF-8 bytes. */
export const MAX_REJECT_RAW_BYTES = 200;

/**
 * Decodes at most `max` bytes of `buf[start, end)`, cutting before a UTF-8 continuation byte so no character
 * is split (invalid bytes decode to U+FFFD).
 */
export function utf8Snippet(buf: Buffer, start: number, end: number, max = MAX_REJECT_RAW_BYTES): string {
  let cut = Math.min(end, start + max);
  if (cut < end) while (cut > start && (buf[cut]! & 0xc0) === 0x80) cut--;
  return buf.toString('utf8', start, cut);
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function cutUtf8(text: string, max = MAX_REJECT_RAW_BYTES): string {
  // A UTF-16 unit never needs more than 3 UTF-8 bytes, so short strings need no encoding.
  if (text.length * 3 <= max) return text;
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= max ? text : utf8Snippet(bytes, 0, bytes.length, max);
}
