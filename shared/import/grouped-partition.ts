import type { ImportSpec } from '../config/index.js';
import { classifyError, type LoaderError } from '../errors/index.js';
import { PartitionWriter, partitionOf, type PartitionStats, type SpillStore } from '../grouping/index.js';
import {
  ASSIGN_SKIP,
  type BucketParams,
  createBucketAssigner,
  emptyAssignment,
  fnv1a32,
  fnv1a32Bytes,
  hashSuffixField,
} from '../mapping/index.js';
import { type ByteSource, type PlainLineSink, readRecords } from '../records/index.js';
import { budgetError, emptyCounts, type LoadCounts, overBudget, REJECT_DEDUPE_LIMIT } from './load.js';
import type { RejectSink } from './rejects.js';

/** The bytes a partition pass reads: records that start in `[start, end)`, as `loadRange` reads them. */
export interface PassRange {
  readonly start: number;
  readonly end: number;
  readonly startLine?: number | undefined;
  readonly inQuoteAtStart?: boolean | undefined;
}

/** What one partition pass reads and where it spills. */
export interface PartitionPassOptions {
  readonly source: ByteSource;
  readonly spec: ImportSpec;
  readonly buckets: BucketParams;
  readonly range: PassRange;
  readonly store: SpillStore;
  /** This range's number among the segments of the load (0 for a whole file). */
  readonly segment: number;
  readonly partitions: number;
  readonly rejects: RejectSink;
  /** Offsets already in the rejects sink (not written again); grows with this pass's rejects. */
  readonly rejectedOffsets: Set<number>;
  readonly signal?: AbortSignal | undefined;
  /** After each reader batch: the counts so far and the source bytes read. */
  readonly onProgress?: ((counts: LoadCounts, bytes: number) => void) | undefined;
  /**
   * Stop when the rejects pass the spec's budget. Off for one of several segments partitioned at once: their
   * caller checks the budget over all of them. @default true
   */
  readonly checkBudget?: boolean;
  /** Count the newlines in `[start, end)` (see {@link PartitionPassResult.newlines}). @default false */
  readonly countNewlines?: boolean;
  /**
   * Spill plain CSV lines straight from the read buffer (see {@link plainSpillSink}); false decodes every
   * record (the test that holds the two to the same spill turns it off). @default true
   */
  readonly plainLines?: boolean;
}

/** How a partition pass ended. Nothing is written to Redis by it, so nothing of it needs confirming. */
export interface PartitionPassResult {
  readonly status: 'completed' | 'interrupted' | 'failed';
  /** Records read, rejected (by the reader or the mapper: bad rows, keys, values) and skipped (null values). */
  readonly counts: LoadCounts;
  /** The segment's partition files, when completed. */
  readonly stats?: PartitionStats;
  /** `[offset, line]` at record starts, about every {@link LINE_CHECKPOINT_BYTES}; line 0 when unknown. */
  readonly lines: [number, number][];
  /** Line number at the end of the range, when known. */
  readonly endLine: number | undefined;
  /**
   * With `countNewlines`, the newline bytes in `[start, end)`: with them the caller of several segments turns
   * the lines of each (numbered from 1 at its start) into lines of the source.
   */
  readonly newlines?: number;
  readonly error?: LoaderError;
}

/** Source bytes between two line checkpoints: a reject found at load time re-reads at most this much. */
export const LINE_CHECKPOINT_BYTES = 1 << 20;

/**
 * The partition pass of grouped writes: streams a range of the source through the reader and the bucketed
 * model's record checks, and appends each record — key suffix, value, source offset — to the spill file of its
 * partition (see `partitionOf`), in source order. Rejects (bad rows, keys, values) go to the sink as the
 * direct path writes them; the reject budget and the abort signal are checked after every reader batch.
 *
 * Memory stays bounded whatever the source size: the reader's batch plus one buffer per partition.
 *
 * @example
 * const pass = await partitionRange({ source, spec, buckets, range: { start: 0, end: size }, store, segment: 0,
 *   partitions: 8, rejects, rejectedOffsets: new Set() });
 */
export async function partitionRange(options: PartitionPassOptions): Promise<PartitionPassResult> {
  const { source, spec, buckets, range, rejects, rejectedOffsets, signal } = options;
  const counts = emptyCounts();
  const partitions = options.partitions;
  const partition = partitionOf(buckets, partitions);
  const assign = createBucketAssigner(spec, buckets);
  const slot = emptyAssignment();
  const lines: [number, number][] = [[range.start, range.startLine ?? (range.start === 0 ? 1 : 0)]];
  let endLine = range.startLine ?? (range.start === 0 ? 1 : undefined);
  const reject = (r: { line: number | undefined; offset: number; raw: string }, reason: string): void => {
    counts.rejected++;
    if (rejectedOffsets.has(r.offset)) return;
    if (rejectedOffsets.size < REJECT_DEDUPE_LIMIT) rejectedOffsets.add(r.offset);
    rejects.write({
      file: source.name,
      ...(r.line === undefined ? {} : { line: r.line }),
      offset: r.offset,
      reason,
      raw: r.raw,
    });
  };

  const writer = await PartitionWriter.open(options.store, options.segment, { partitions });
  const plain = options.plainLines === false ? undefined : plainSpillSink(spec, buckets, partition, writer);
  const checkBudget = options.checkBudget ?? true;
  const newlines = options.countNewlines ? { count: 0 } : undefined;
  let status: PartitionPassResult['status'] = 'completed';
  let error: LoaderError | undefined;
  try {
    const batches = readRecords(newlines ? countingNewlines(source, range, newlines) : source, {
      format: spec.format,
      start: range.start,
      end: range.end,
      startLine: range.startLine,
      inQuoteAtStart: range.inQuoteAtStart,
      maxRecordBytes: spec.limits.maxRecordBytes,
      plain,
    });
    let checkpoint = range.start;
    for await (const batch of batches) {
      counts.read += batch.records.length + batch.rejects.length + batch.skipped + (batch.plain ?? 0);
      if (batch.plain) {
        const wait = writer.ready();
        if (wait) await wait;
      }
      counts.skipped += batch.skipped;
      for (const r of batch.rejects) reject(r, r.reason);
      for (const record of batch.records) {
        const index = assign(record, slot);
        if (index < 0) {
          if (index === ASSIGN_SKIP) counts.skipped++;
          else reject(record, slot.reason);
          continue;
        }
        const wait = writer.add(partition(index), record.offset, slot.suffix, slot.value);
        if (wait) await wait;
      }
      endLine = batch.nextLine;
      if (batch.nextOffset - checkpoint >= LINE_CHECKPOINT_BYTES && batch.nextLine !== undefined) {
        checkpoint = batch.nextOffset;
        lines.push([checkpoint, batch.nextLine]);
      }
      const settling = rejects.settle();
      if (settling) await settling;
      options.onProgress?.(counts, batch.nextOffset - range.start);
      if (checkBudget && overBudget(counts, spec)) throw budgetError(counts, spec);
      if (signal?.aborted) {
        status = 'interrupted';
        break;
      }
    }
    if (status === 'completed') {
      if (checkBudget && overBudget(counts, spec)) throw budgetError(counts, spec);
      const stats = await writer.finish();
      return { status, counts, stats, lines, endLine, ...(newlines ? { newlines: newlines.count } : {}) };
    }
  } catch (err) {
    error = classifyError(err);
    status = 'failed';
  }
  await writer.abort();
  return { status, counts, lines, endLine, ...(error ? { error } : {}) };
}

/** `source`, counting the newline bytes it yields within `[range.start, range.end)` into `into.count`. */
function countingNewlines(
  source: ByteSource,
  range: { readonly start: number; readonly end: number },
  into: { count: number },
): ByteSource {
  return {
    name: source.name,
    size: () => source.size(),
    async *stream(from: number, to?: number) {
      // The reader reads the range from the byte before its start; a read of the CSV header from offset 0
      // for a later range is not part of it.
      if (from < range.start - 1) {
        yield* source.stream(from, to);
        return;
      }
      let at = from;
      for await (const chunk of source.stream(from, to)) {
        const lo = Math.max(0, range.start - at);
        const hi = Math.min(chunk.length, range.end - at);
        for (
          let i = lo < hi ? chunk.indexOf(0x0a, lo) : -1;
          i !== -1 && i < hi;
          i = chunk.indexOf(0x0a, i + 1)
        ) {
          into.count++;
        }
        at += chunk.length;
        yield chunk;
      }
    },
  };
}

/**
 * The partition pass without decoding, for the shape most bulk files have: CSV rows into hash-scheme buckets
 * under a `<prefix>{field}` key template. A plain line (no quote, valid UTF-8; see `PlainLineSink`) is split
 * on the delimiter byte, its key field hashed as bytes (`fnv1a32Bytes` is `fnv1a32` of the text), and its key
 * and value copied into the spill as they are: the same bytes `writer.add` would write for the decoded record.
 * A line that would be rejected (wrong column count, empty key, key or value over the limits) is declined and
 * goes through the decoder and `createBucketAssigner`, which reject it with the usual reasons. Undefined
 * where `createBucketAssigner` does not take its suffix path either (`hashSuffixField`).
 */
export function plainSpillSink(
  spec: ImportSpec,
  buckets: BucketParams,
  partition: (bucket: number) => number,
  writer: PartitionWriter,
): PlainLineSink | undefined {
  const { format, model } = spec;
  const field = hashSuffixField(spec, buckets);
  if (
    format.type !== 'csv' ||
    model.type !== 'bucketed' ||
    buckets.scheme !== 'hash' ||
    field === undefined
  ) {
    return undefined;
  }
  const prefix = buckets.keyPrefix;
  const delimiter = format.delimiter.charCodeAt(0);
  if (delimiter > 0x7f) return undefined;
  const { maxKeyBytes, maxValueBytes } = spec.limits;
  const maxSuffixBytes = maxKeyBytes - Buffer.byteLength(prefix, 'utf8');
  const seed = fnv1a32(prefix);
  const count = buckets.bucketCount;
  let keyColumn = -1;
  let valueColumn = -1;
  let lastColumn = -1;
  return {
    bind(columns) {
      keyColumn = columns.indexOf(field);
      valueColumn = columns.indexOf(model.value);
      lastColumn = columns.length - 1;
      return keyColumn >= 0 && valueColumn >= 0;
    },
    take(buf, start, end, offset) {
      let keyStart = -1;
      let keyEnd = -1;
      let valueStart = -1;
      let valueEnd = -1;
      let column = 0;
      let from = start;
      for (let i = start; i <= end; i++) {
        if (i < end && buf[i] !== delimiter) continue;
        if (column === keyColumn) {
          keyStart = from;
          keyEnd = i;
        }
        if (column === valueColumn) {
          valueStart = from;
          valueEnd = i;
        }
        if (i < end && column === lastColumn) return false; // more columns than the header
        column++;
        from = i + 1;
      }
      if (column !== lastColumn + 1) return false;
      if (keyEnd === keyStart || keyEnd - keyStart > maxSuffixBytes) return false;
      if (valueEnd - valueStart > maxValueBytes) return false;
      const bucket = fnv1a32Bytes(buf, keyStart, keyEnd, seed) % count;
      writer.addBytes(partition(bucket), offset, buf, keyStart, keyEnd, valueStart, valueEnd);
      return true;
    },
  };
}
