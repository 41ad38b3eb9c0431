import { countPlainFields, splitCsvFields } from './csv-fields.js';
import type { DecodeFailure, RecordDecoder } from './decoder.js';
import { columnsProblem } from './options.js';
import type { CsvFormat } from './types.js';

function columnCount(expected: number, found: number): DecodeFailure {
  return { reason: `expected ${expected} columns, found ${found}`, index: -1 };
}

/**
 * Decodes CSV records into `{ [column]: string }`. Without `columns` in the format the first record decoded
 * is taken as the header. Records without a quote character are split on the delimiter directly.
 */
export class CsvDecoder implements RecordDecoder {
  columns: readonly string[] | undefined;
  failure: DecodeFailure | null = null;
  private readonly delimiter: string;
  private readonly quote: string;

  constructor(format: CsvFormat) {
    this.columns = format.columns;
    this.delimiter = format.delimiter;
    this.quote = format.quote;
  }

  get needsHeader(): boolean {
    return this.columns === undefined;
  }

  decode(raw: string, hasQuote: boolean): Record<string, string> | undefined {
    const columns = this.columns;
    if (columns === undefined) return this.readHeader(raw, hasQuote);
    if (hasQuote) return this.decodeQuoted(raw, columns);
    const delimiter = this.delimiter;
    const last = columns.length - 1;
    const values: Record<string, string> = {};
    let from = 0;
    for (let c = 0; c < last; c++) {
      const at = raw.indexOf(delimiter, from);
      if (at === -1) return this.fail(columnCount(columns.length, c + 1));
      values[columns[c]!] = raw.slice(from, at);
      from = at + 1;
    }
    if (raw.indexOf(delimiter, from) !== -1) {
      return this.fail(columnCount(columns.length, countPlainFields(raw, delimiter)));
    }
    values[columns[last]!] = from === 0 ? raw : raw.slice(from);
    return values;
  }

  syntaxError(prefix: string): DecodeFailure | undefined {
    const fields = splitCsvFields(prefix, this.delimiter, this.quote);
    // A cut-off prefix usually ends inside a quoted field; only a misplaced quote counts.
    return !Array.isArray(fields) && fields.kind === 'syntax' ? fields : undefined;
  }

  private decodeQuoted(raw: string, columns: readonly string[]): Record<string, string> | undefined {
    const fields = splitCsvFields(raw, this.delimiter, this.quote);
    if (!Array.isArray(fields)) return this.fail(fields);
    if (fields.length !== columns.length) return this.fail(columnCount(columns.length, fields.length));
    const values: Record<string, string> = {};
    for (let c = 0; c < columns.length; c++) values[columns[c]!] = fields[c]!;
    return values;
  }

  private readHeader(raw: string, hasQuote: boolean): undefined {
    const fields = hasQuote ? splitCsvFields(raw, this.delimiter, this.quote) : raw.split(this.delimiter);
    if (!Array.isArray(fields)) return this.fail(fields);
    const problem = columnsProblem(fields);
    if (problem !== undefined) return this.fail({ reason: problem, index: -1 });
    this.columns = fields;
    this.failure = null;
    return undefined;
  }

  private fail(failure: DecodeFailure): undefined {
    this.failure = failure;
    return undefined;
  }
}
