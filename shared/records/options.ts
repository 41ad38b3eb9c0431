import { ConfigError } from '../errors/index.js';
import type { PlainLineSink } from './framer.js';
import type { CsvFormat, RecordFormat } from './types.js';

/** Longest record the reader accepts by default: 1 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/** What {@link readRecords} reads: a format and a byte range of the source. */
export interface ReadOptions {
  readonly format: RecordFormat;
  /** First byte of the range; the range owns the records that start in `[start, end)`. @default 0 */
  readonly start?: number;
  /** Exclusive end of the range; the last record owned may run past it. @default the source size */
  readonly end?: number;
  /**
   * 1-based line number of the line that contains byte `start`, when the caller knows it (a resume from a
   * batch's `nextOffset`/`nextLine`). Known automatically when `start` is 0; otherwise records carry
   * `line: undefined`.
   */
  readonly startLine?: number;
  /**
   * CSV multiline only: whether byte `start` lies inside a quoted field, as {@link scanQuoteParity} reports.
   * A resume from `nextOffset` is never inside quotes. @default false
   */
  readonly inQuoteAtStart?: boolean;
  /**
   * Longest record in bytes, line terminator excluded. A longer record is rejected and the reader resumes
   * after its end without buffering it. @default 1 MiB
   */
  readonly maxRecordBytes?: number;
  /** CSV: plain lines go to this sink as bytes instead of being decoded (see `PlainLineSink`). */
  readonly plain?: PlainLineSink | undefined;
}

/** {@link ReadOptions} checked, with defaults applied (`end` stays optional: it needs the source size). */
export interface ResolvedReadOptions {
  readonly format: RecordFormat;
  readonly start: number;
  readonly end: number | undefined;
  readonly startLine: number | undefined;
  readonly inQuoteAtStart: boolean;
  readonly maxRecordBytes: number;
  readonly plain: PlainLineSink | undefined;
}

const KNOWN_KEYS = new Set([
  'format',
  'start',
  'end',
  'startLine',
  'inQuoteAtStart',
  'maxRecordBytes',
  'plain',
]);

function fail(message: string): never {
  throw new ConfigError(`read options: ${message}`);
}

function checkInteger(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Checks a quote or delimiter: one UTF-16 unit, not a line terminator. */
function checkChar(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length !== 1)
    fail(`${name} must be one character, got ${JSON.stringify(value)}`);
  if (value === '\n' || value === '\r') fail(`${name} cannot be a line terminator`);
  return value;
}

function checkCsv(format: CsvFormat): void {
  const delimiter = checkChar('delimiter', format.delimiter);
  const quote = checkChar('quote', format.quote);
  // Framing searches the raw bytes for the quote, so it must be one byte in UTF-8.
  if (quote.charCodeAt(0) > 0x7f) fail(`quote must be an ASCII character, got ${JSON.stringify(quote)}`);
  if (delimiter === quote) fail('delimiter and quote must differ');
  if (typeof format.multiline !== 'boolean') fail('multiline must be a boolean');
  if (format.columns !== undefined) checkColumns(format.columns, 'columns');
}

/**
 * Checks CSV column names (given in the spec or read from a header): at least one, no duplicates (a
 * duplicate would silently drop a value) and no `__proto__` (it cannot be a plain object key).
 * @returns a message describing the problem, or undefined when the names are fine.
 */
export function columnsProblem(columns: readonly unknown[]): string | undefined {
  if (columns.length === 0) return 'no column names';
  const seen = new Set<string>();
  for (const column of columns) {
    if (typeof column !== 'string') return `column name ${JSON.stringify(column)} is not a string`;
    if (column === '__proto__') return 'column name "__proto__" is not supported';
    if (seen.has(column)) return `duplicate column name ${JSON.stringify(column)}`;
    seen.add(column);
  }
  return undefined;
}

function checkColumns(columns: unknown, name: string): void {
  if (!Array.isArray(columns)) fail(`${name} must be an array of strings`);
  const problem = columnsProblem(columns);
  if (problem !== undefined) fail(`${name}: ${problem}`);
}

/**
 * Validates {@link ReadOptions} (unknown keys are rejected so typos fail loudly) and applies the defaults.
 * @throws ConfigError naming the offending option.
 */
export function resolveReadOptions(options: ReadOptions): ResolvedReadOptions {
  for (const key of Object.keys(options)) if (!KNOWN_KEYS.has(key)) fail(`unknown option "${key}"`);
  const format = options.format as RecordFormat | undefined;
  if (format?.type === 'csv') checkCsv(format);
  else if (format?.type !== 'jsonl') fail('format.type must be "csv" or "jsonl"');
  const start = checkInteger('start', options.start, 0) ?? 0;
  const end = checkInteger('end', options.end, start);
  const startLine = checkInteger('startLine', options.startLine, 1);
  const maxRecordBytes =
    checkInteger('maxRecordBytes', options.maxRecordBytes, 1) ?? DEFAULT_MAX_RECORD_BYTES;
  const inQuoteAtStart = options.inQuoteAtStart ?? false;
  if (typeof inQuoteAtStart !== 'boolean') fail('inQuoteAtStart must be a boolean');
  const plain = format.type === 'csv' ? options.plain : undefined;
  return { format, start, end, startLine, inQuoteAtStart, maxRecordBytes, plain };
}
