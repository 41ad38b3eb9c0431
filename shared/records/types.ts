/**
 * A random-access byte source: a local file now, an S3 object later.
 * `stream(start, end)` yields the bytes of `[start, end)` (end exclusive, clamped to the size) in order,
 * in chunks of bounded size; it never buffers the whole range.
 */
export interface ByteSource {
  /** Shown in rejects and errors: a file path or `s3://bucket/key`. Never contains credentials. */
  readonly name: string;
  size(): Promise<number>;
  stream(start: number, end?: number): AsyncIterable<Buffer>;
  /**
   * What changes when the content does (a file's modification time, an object's ETag), when the source can
   * tell: a grouped load keeps its spill only for the very same source.
   */
  version?(): Promise<string | undefined>;
}

/** CSV options of an import spec. */
export interface CsvFormat {
  readonly type: 'csv';
  /** Column names; when absent the first line of the file is the header. */
  readonly columns?: readonly string[];
  /** One character. @default ',' */
  readonly delimiter: string;
  /** One character. @default '"' */
  readonly quote: string;
  /**
   * Quoted fields may contain raw newlines. Record framing then follows quote parity, and a byte range that
   * starts mid-file needs the parity at its start (see `scanQuoteParity`). @default true
   */
  readonly multiline: boolean;
}

/** JSON Lines: one JSON object per line. */
export interface JsonlFormat {
  readonly type: 'jsonl';
}

export type RecordFormat = CsvFormat | JsonlFormat;

/** One record as read from the source, before mapping. */
export interface SourceRecord {
  /** 1-based physical line where the record starts; undefined when the range starts mid-file at an unknown line. */
  readonly line: number | undefined;
  /** Byte offset of the record's first byte in the source. */
  readonly offset: number;
  /** The record's text without its line terminator (for rejects; cut to 200 bytes when written). */
  readonly raw: string;
  /** Field name -> value. CSV values are strings; JSONL values are whatever JSON gave. */
  readonly values: Record<string, unknown>;
}

/** A record the reader could not parse: it goes to the rejects file with its location and reason. */
export interface ReadReject {
  readonly line: number | undefined;
  readonly offset: number;
  readonly reason: string;
  readonly raw: string;
}

/** What the reader yields: the records of one stretch of the source, in source order. */
export interface RecordBatch {
  readonly records: SourceRecord[];
  readonly rejects: ReadReject[];
  /** Blank lines passed over in this batch (they count as skipped). */
  readonly skipped: number;
  /** Records the read's plain-line sink took instead of returning them here (see `PlainLineSink`). */
  readonly plain?: number;
  /** Source offset just past the last record (or blank line) of this batch: where a continuation starts. */
  readonly nextOffset: number;
  /** 1-based line number at `nextOffset`, when line numbers are known. */
  readonly nextLine: number | undefined;
}
