/** Why one record could not be decoded. */
export interface DecodeFailure {
  readonly reason: string;
  /**
   * Where in the record text the problem lies (UTF-16 index), for a quoting problem that lets a multiline CSV
   * reader re-frame after a stray quote; -1 when the record as a whole is wrong (column count, bad JSON).
   */
  readonly index: number;
}

/**
 * Turns the text of one framed record into values. Implementations are per format; the framer calls them once
 * per record on the hot path, so they report failures through `failure` instead of allocating results.
 */
export interface RecordDecoder {
  /** True while a CSV header is still to be read: the next record is the header, not data. */
  readonly needsHeader: boolean;
  /** CSV: the column names, once known (from the format or the header). */
  readonly columns?: readonly string[] | undefined;
  /** Set when `decode` returned undefined: the failure, or null when the record was the header. */
  readonly failure: DecodeFailure | null;
  /**
   * Decodes one record (text without its line terminator). `hasQuote` tells whether the quote character occurs
   * in it (the framer knows already; a record without quotes takes the fast path).
   * @returns the values, or undefined (see `failure`).
   */
  decode(raw: string, hasQuote: boolean): Record<string, unknown> | undefined;
  /**
   * Multiline CSV only: the first quoting error in the beginning of an over-long record, if any; it tells a
   * stray quote (re-frame after its line) from a legitimately long quoted field (skip the whole record).
   */
  syntaxError?(prefix: string): DecodeFailure | undefined;
}
