/**
 * Byte length of a string in UTF-8 when it could exceed `limit`; strings short enough in UTF-16 code units
 * cannot (one unit is at most 3 bytes), so the common case costs no native call.
 */
export function exceedsBytes(text: string, limit: number): number | undefined {
  if (text.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > limit ? bytes : undefined;
}
