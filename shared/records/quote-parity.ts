import { ConfigError } from '../errors/index.js';
import type { ByteSource } from './types.js';

/**
 * For each offset, whether the number of quote characters before it is odd, i.e. whether the byte at that
 * offset lies inside a quoted field of a well-formed multiline CSV. One streaming pass from offset 0 to the
 * largest offset; a planner that cuts a multiline CSV into ranges passes each result as `inQuoteAtStart`.
 *
 * Only a well-formed file gives true answers: one stray quote flips the parity of every later offset. An odd
 * parity at the file size (`scanQuoteParity(source, [size])`) is a cheap sign of such a file.
 *
 * @param offsets byte offsets, in any order; offsets past the end of the source get the parity at its end.
 * @param quote the CSV quote character (ASCII). @default '"'
 * @example
 * const cuts = [0, 64 << 20, 128 << 20];
 * const inQuote = await scanQuoteParity(source, cuts); // [false, false, true]
 */
export async function scanQuoteParity(
  source: ByteSource,
  offsets: readonly number[],
  quote = '"',
): Promise<boolean[]> {
  if (quote.length !== 1 || quote.charCodeAt(0) > 0x7f) {
    throw new ConfigError(`quote must be one ASCII character, got ${JSON.stringify(quote)}`);
  }
  for (const offset of offsets) {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ConfigError(`bad offset ${String(offset)}`);
  }
  const quoteByte = quote.charCodeAt(0);
  const order = offsets.map((_, i) => i).sort((a, b) => offsets[a]! - offsets[b]!);
  const inQuote = new Array<boolean>(offsets.length).fill(false);
  const last = order.length === 0 ? 0 : offsets[order[order.length - 1]!]!;
  let k = 0;
  let parity = 0;
  let base = 0;
  if (last > 0) {
    for await (const chunk of source.stream(0, last)) {
      const chunkEnd = base + chunk.length;
      let at = chunk.indexOf(quoteByte);
      for (; k < order.length && offsets[order[k]!]! <= chunkEnd; k++) {
        const before = offsets[order[k]!]! - base;
        for (; at !== -1 && at < before; at = chunk.indexOf(quoteByte, at + 1)) parity ^= 1;
        inQuote[order[k]!] = parity === 1;
      }
      for (; at !== -1; at = chunk.indexOf(quoteByte, at + 1)) parity ^= 1;
      base = chunkEnd;
    }
  }
  for (; k < order.length; k++) inQuote[order[k]!] = parity === 1;
  return inQuote;
}
