import fc from 'fast-check';
import type { CsvFormat, JsonlFormat } from '../../../shared/records/index.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A generated file: its bytes, how to read it, and (for valid CSV) the data rows it holds. */
export interface GeneratedFile<F> {
  bytes: Buffer;
  format: F;
  /** Data rows in order (header and blank lines excluded); only meaningful when `valid`. */
  rows: string[][];
  /** True when every line is well-formed (no deliberately broken lines). */
  valid: boolean;
}

const special = fc.constantFrom(',', ';', '\t', '|', '"', "'", '\n', '\r', ' ', 'a', 'b', 'é', '日', '😀');
const shortText = fc.string({ unit: fc.oneof(special, fc.constantFrom('x', 'y', 'z')), maxLength: 10 });
const longText = fc.string({ unit: special, minLength: 30, maxLength: 90 });
const fieldText = fc.oneof({ weight: 12, arbitrary: shortText }, { weight: 1, arbitrary: longText });

function quoteField(value: string, force: boolean, format: CsvFormat, columns: number): string {
  const { delimiter, quote } = format;
  const needs =
    force ||
    value.includes(delimiter) ||
    value.includes(quote) ||
    value.includes('\n') ||
    value.includes('\r') ||
    // A single empty unquoted field is a blank line: quote it.
    (columns === 1 && value === '');
  return needs ? quote + value.split(quote).join(quote + quote) + quote : value;
}

/** Lines that break a single-line CSV record in every way the reader reports. */
const brokenCsvLine = fc.constantFrom(
  Buffer.from('x"y'),
  Buffer.from('"a"b'),
  Buffer.from('"open'),
  Buffer.from('1,2,3,4,5,6'),
  Buffer.from([0x61, 0xff, 0x62]),
);

type CsvEntry =
  { kind: 'row'; fields: [string, boolean][] } | { kind: 'blank' } | { kind: 'broken'; bytes: Buffer };

/**
 * CSV files: 1-4 columns, optional header (else `columns` is given), any delimiter/quote pair, LF or CRLF,
 * optional BOM, optional final newline, fields with delimiters, quotes, newlines (multiline only) and
 * multi-byte characters, some of them long. With `broken`, single-line files also get malformed lines.
 */
export function csvFile(
  options: { multiline?: boolean; broken?: boolean } = {},
): fc.Arbitrary<GeneratedFile<CsvFormat>> {
  return fc
    .record({
      delimiter: fc.constantFrom(',', ';', '\t', '|'),
      quote: fc.constantFrom('"', "'"),
      multiline: options.multiline === undefined ? fc.boolean() : fc.constant(options.multiline),
      columns: fc.integer({ min: 1, max: 4 }),
      header: fc.boolean(),
      quoteHeader: fc.boolean(),
      eol: fc.constantFrom('\n', '\r\n'),
      bom: fc.boolean(),
      finalNewline: fc.boolean(),
      broken: fc.constant(options.broken ?? false),
    })
    .chain((shape) => {
      const field = shape.multiline ? fieldText : fieldText.map((text) => text.replace(/[\r\n]/g, '_'));
      const row = fc.array(fc.tuple(field, fc.boolean()), {
        minLength: shape.columns,
        maxLength: shape.columns,
      });
      const entry: fc.Arbitrary<CsvEntry> = fc.oneof(
        { weight: 10, arbitrary: row.map((fields) => ({ kind: 'row' as const, fields })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'blank' as const }) },
        ...(shape.broken && !shape.multiline
          ? [{ weight: 2, arbitrary: brokenCsvLine.map((bytes) => ({ kind: 'broken' as const, bytes })) }]
          : []),
      );
      return fc.array(entry, { maxLength: 25 }).map((entries) => build(shape, entries));
    });
}

function build(
  shape: {
    delimiter: string;
    quote: string;
    multiline: boolean;
    columns: number;
    header: boolean;
    quoteHeader: boolean;
    eol: string;
    bom: boolean;
    finalNewline: boolean;
  },
  entries: CsvEntry[],
): GeneratedFile<CsvFormat> {
  const names = Array.from({ length: shape.columns }, (_, i) => `c${i}`);
  const format: CsvFormat = {
    type: 'csv',
    delimiter: shape.delimiter,
    quote: shape.quote,
    multiline: shape.multiline,
    ...(shape.header ? {} : { columns: names }),
  };
  const lines: Buffer[] = [];
  if (shape.header) {
    lines.push(
      Buffer.from(
        names.map((n) => quoteField(n, shape.quoteHeader, format, shape.columns)).join(shape.delimiter),
      ),
    );
  }
  const rows: string[][] = [];
  for (const entry of entries) {
    if (entry.kind === 'blank') lines.push(Buffer.alloc(0));
    else if (entry.kind === 'broken') lines.push(entry.bytes);
    else {
      rows.push(entry.fields.map(([value]) => value));
      const text = entry.fields
        .map(([value, force]) => quoteField(value, force, format, shape.columns))
        .join(shape.delimiter);
      lines.push(Buffer.from(text));
    }
  }
  const eol = Buffer.from(shape.eol);
  const parts: Buffer[] = shape.bom ? [BOM] : [];
  lines.forEach((line, i) => {
    parts.push(line);
    if (i < lines.length - 1 || shape.finalNewline) parts.push(eol);
  });
  const valid = entries.every((e) => e.kind !== 'broken');
  return { bytes: Buffer.concat(parts), format, rows, valid };
}

const brokenJsonLine = fc.constantFrom(
  Buffer.from('{"a":'),
  Buffer.from('[1,2]'),
  Buffer.from('42'),
  Buffer.from('null'),
  Buffer.from('nul'),
  Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
);

/** JSONL files: objects (some long), blank lines, broken lines, LF or CRLF, optional BOM and final newline. */
export function jsonlFile(): fc.Arbitrary<GeneratedFile<JsonlFormat>> {
  const object = fc.dictionary(fc.string({ unit: special, maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 4,
  });
  const entry = fc.oneof(
    { weight: 8, arbitrary: object.map((value) => Buffer.from(JSON.stringify(value))) },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 2, arbitrary: brokenJsonLine },
  );
  return fc
    .record({
      entries: fc.array(entry, { maxLength: 25 }),
      eol: fc.constantFrom('\n', '\r\n'),
      bom: fc.boolean(),
      finalNewline: fc.boolean(),
    })
    .map(({ entries, eol, bom, finalNewline }) => {
      const parts: Buffer[] = bom ? [BOM] : [];
      entries.forEach((line, i) => {
        parts.push(line);
        if (i < entries.length - 1 || finalNewline) parts.push(Buffer.from(eol));
      });
      return { bytes: Buffer.concat(parts), format: { type: 'jsonl' as const }, rows: [], valid: false };
    });
}
