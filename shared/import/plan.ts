import type { ImportSpec } from '../config/index.js';
import { type ByteSource, scanQuoteParity } from '../records/index.js';

/** One byte range of an import: the chunk owns every record that starts in `[start, end)`. */
export interface ChunkPlan {
  /** 0-based position in the plan. */
  readonly index: number;
  readonly start: number;
  /** Exclusive; the chunk's last record may run past it. */
  readonly end: number;
  /** Multiline CSV: whether `start` lies inside a quoted field (from a quote-parity scan). */
  readonly inQuoteAtStart: boolean;
}

/** A plan and what the planner decided on the way. */
export interface ChunkPlanResult {
  readonly chunks: ChunkPlan[];
  /** Human-readable decisions, e.g. why a file was not split. They go into the report. */
  readonly notes: string[];
}

/** Default chunk size: 64 MiB. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Cuts `[0, size)` into consecutive ranges of `chunkBytes` (the last one shorter). Always at least one range,
 * so an empty object still gets a (trivially complete) chunk. Pure: the cut points know nothing of records;
 * the reader's ownership rule (a record belongs to the range it starts in) makes any cut correct.
 *
 * @example
 * planRanges(10, 4); // [{ index: 0, start: 0, end: 4 }, { index: 1, start: 4, end: 8 }, { index: 2, start: 8, end: 10 }]
 */
export function planRanges(
  size: number,
  chunkBytes: number,
): { index: number; start: number; end: number }[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad size ${size}`);
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1)
    throw new RangeError(`bad chunk size ${chunkBytes}`);
  const ranges: { index: number; start: number; end: number }[] = [];
  for (let start = 0, index = 0; start < size || index === 0; start += chunkBytes, index++) {
    ranges.push({ index, start, end: Math.min(size, start + chunkBytes) });
  }
  return ranges;
}

/**
 * Plans the chunks of a source for a spec. For multiline CSV every cut needs the quote parity at its start:
 * one streaming pass over the source computes them all. If the whole source holds an odd number of quote
 * characters the parities cannot be trusted (a stray quote flips every later one), so the source is not split
 * and the notes say why.
 *
 * @example
 * const { chunks, notes } = await planChunks(source, spec, 64 << 20);
 */
export async function planChunks(
  source: ByteSource,
  spec: ImportSpec,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Promise<ChunkPlanResult> {
  const size = await source.size();
  const ranges = planRanges(size, chunkBytes);
  const notes: string[] = [];
  const format = spec.format;
  if (format.type !== 'csv' || !format.multiline || ranges.length === 1) {
    return { chunks: ranges.map((r) => ({ ...r, inQuoteAtStart: false })), notes };
  }
  const parities = await scanQuoteParity(source, [...ranges.map((r) => r.start), size], format.quote);
  if (parities[ranges.length]) {
    notes.push(
      `${source.name} holds an odd number of ${format.quote} characters (a stray quote): chunk starts inside ` +
        'quoted fields cannot be told apart, so it is loaded as one chunk',
    );
    return { chunks: [{ index: 0, start: 0, end: size, inQuoteAtStart: false }], notes };
  }
  notes.push(`multiline CSV: quote parity computed at ${ranges.length} chunk starts`);
  return { chunks: ranges.map((r, i) => ({ ...r, inQuoteAtStart: parities[i]! })), notes };
}
