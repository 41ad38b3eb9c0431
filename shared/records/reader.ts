import { CsvDecoder } from './csv-decoder.js';
import type { RecordDecoder } from './decoder.js';
import { Framer, type FramerConfig, type FramerStart } from './framer.js';
import { JsonlDecoder } from './jsonl.js';
import { type ReadOptions, resolveReadOptions } from './options.js';
import type { ByteSource, RecordBatch } from './types.js';

/** Bytes of a UTF-8 byte order mark. */
const BOM_LENGTH = 3;

/**
 * Reads the records of one byte range of a CSV or JSONL source, in order, in batches.
 *
 * The range owns exactly the records that *start* inside `[start, end)`: a record starts right after the BOM
 * and the CSV header, and after every newline that is not inside a quoted field. When `start > 0` the partial
 * record at `start` is skipped (it belongs to the previous range) and the last record is read past `end` to
 * its terminator, so consecutive ranges read every record exactly once. For multiline CSV a range that starts
 * mid-file needs `inQuoteAtStart` from {@link scanQuoteParity}.
 *
 * - Lines end with `\n` or `\r\n`; the last record needs no terminator; a UTF-8 BOM at offset 0 is skipped.
 * - Blank lines count as `skipped` (so a single-column CSV cannot hold an empty unquoted value: quote it).
 *   Blank lines before the CSV header are passed over silently.
 * - CSV without `columns` takes its header from the first line of the source (read separately, from offset
 *   0, when `start > 0`). A header that cannot be read throws a `ConfigError`.
 * - Bad records become rejects (`line`, `offset`, `reason`, and `raw` cut to 200 bytes): invalid UTF-8,
 *   quoting errors, wrong column count, bad JSON, records longer than `maxRecordBytes`. Reading goes on.
 * - Multiline CSV: a record whose quoting error (e.g. a stray quote) is followed by a newline is rejected up
 *   to the end of that error's line, and framing restarts on the next line. An over-long record without such
 *   an error (a huge quoted field) is skipped to its real end. Exactly-once across ranges holds for
 *   well-formed quoting; a stray quote also flips the parity {@link scanQuoteParity} reports for later cuts.
 * - One batch per read chunk, split further every {@link MAX_BATCH_ITEMS} records so batches die young in the
 *   GC. `nextOffset`/`nextLine` of a batch are where a resumed read starts (`start: nextOffset, startLine:
 *   nextLine`); the reject of an over-long record comes in the batch where that record ends.
 *
 * @example
 * const source = new FileSource('/data/users.csv');
 * const format = { type: 'csv', delimiter: ',', quote: '"', multiline: true } as const;
 * const [inQuote] = await scanQuoteParity(source, [chunkStart]);
 * for await (const batch of readRecords(source, { format, start: chunkStart, end: chunkEnd, inQuoteAtStart: inQuote })) {
 *   for (const record of batch.records) load(record.values);
 *   for (const reject of batch.rejects) report(reject);
 *   checkpoint(batch.nextOffset, batch.nextLine);
 * }
 */
export async function* readRecords(
  source: ByteSource,
  options: ReadOptions,
): AsyncGenerator<RecordBatch, void> {
  const opts = resolveReadOptions(options);
  const size = await source.size();
  const end = Math.min(opts.end ?? size, size);
  const { start, format } = opts;
  if (start >= end) return;
  const decoder: RecordDecoder = format.type === 'csv' ? new CsvDecoder(format) : new JsonlDecoder();
  const config: FramerConfig = {
    name: source.name,
    decoder,
    multiline: format.type === 'csv' && format.multiline,
    quote: format.type === 'csv' ? format.quote.charCodeAt(0) : -1,
    maxRecordBytes: opts.maxRecordBytes,
    end,
    plain: opts.plain,
  };

  let first: FramerStart;
  if (start === 0) {
    first = { kind: 'file' };
  } else {
    // The header (and a BOM) decide where the first record starts; read them first when they matter.
    const head = decoder.needsHeader || start <= BOM_LENGTH ? await readHead(source, config) : undefined;
    if (head !== undefined && start <= head.offset) first = { kind: 'record', ...head };
    else first = { kind: 'partial', offset: start - 1, line: opts.startLine, inQuote: opts.inQuoteAtStart };
  }

  const framer = new Framer(config, first);
  const from = first.kind === 'file' ? 0 : first.offset;
  for await (const chunk of source.stream(from)) {
    framer.push(chunk);
    for (let batch = framer.take(false); batch !== null; batch = framer.take(false)) yield batch;
    if (framer.done) return;
  }
  for (let batch = framer.take(true); batch !== null; batch = framer.take(true)) yield batch;
}

/**
 * Reads the start of the source up to the first record: the BOM and, for CSV without `columns`, the header
 * (which the decoder keeps). Bounded by `maxRecordBytes` for the header itself.
 */
async function readHead(source: ByteSource, config: FramerConfig): Promise<{ offset: number; line: number }> {
  const needsHeader = config.decoder.needsHeader;
  const framer = new Framer(
    { ...config, end: needsHeader ? Number.POSITIVE_INFINITY : 0, stopAfterHeader: true, plain: undefined },
    { kind: 'file' },
  );
  for await (const chunk of source.stream(0, needsHeader ? undefined : BOM_LENGTH)) {
    framer.push(chunk);
    while (framer.take(false) !== null);
    if (framer.done) break;
  }
  if (!framer.done) while (framer.take(true) !== null);
  return { offset: framer.nextOffset, line: framer.nextLine ?? 1 };
}
