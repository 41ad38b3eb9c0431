/** Why a CSV record could not be split into fields. */
export interface FieldError {
  /** `syntax`: a stray or misplaced quote; `unterminated`: a quoted field never closed. */
  readonly kind: 'syntax' | 'unterminated';
  /** The reject reason, e.g. `quote in unquoted field at column 2`. */
  readonly reason: string;
  /**
   * UTF-16 index in the record text where the problem lies: the stray quote, the character after a closing
   * quote, or the opening quote of an unterminated field.
   */
  readonly index: number;
}

/**
 * Splits one CSV record (its text without the line terminator) into fields, strict RFC 4180: a field is
 * quoted only if it starts with the quote; inside, a doubled quote stands for one quote and delimiters and
 * newlines are data; after the closing quote comes a delimiter or the end of the record.
 *
 * @example
 * splitCsvFields('a,"b,""c""",', ',', '"') // ['a', 'b,"c"', '']
 */
export function splitCsvFields(text: string, delimiter: string, quote: string): string[] | FieldError {
  const quoteCode = quote.charCodeAt(0);
  const delimiterCode = delimiter.charCodeAt(0);
  const fields: string[] = [];
  const n = text.length;
  let nextQuote = text.indexOf(quote);
  let i = 0;
  for (;;) {
    const column = fields.length + 1;
    if (text.charCodeAt(i) === quoteCode) {
      const open = i;
      let value = '';
      let from = i + 1;
      for (;;) {
        const close = text.indexOf(quote, from);
        if (close === -1) return { kind: 'unterminated', reason: 'unterminated quoted field', index: open };
        if (text.charCodeAt(close + 1) === quoteCode) {
          value += text.slice(from, close + 1);
          from = close + 2;
          continue;
        }
        value += text.slice(from, close);
        i = close + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (text.charCodeAt(i) !== delimiterCode) {
        return {
          kind: 'syntax',
          reason: `unexpected character after closing quote at column ${column}`,
          index: i,
        };
      }
      i++;
      continue;
    }
    const next = text.indexOf(delimiter, i);
    const stop = next === -1 ? n : next;
    // Remember the next quote so a long record with one late quote is not rescanned per field.
    if (nextQuote !== -1 && nextQuote < i) nextQuote = text.indexOf(quote, i);
    if (nextQuote !== -1 && nextQuote < stop) {
      return { kind: 'syntax', reason: `quote in unquoted field at column ${column}`, index: nextQuote };
    }
    fields.push(text.slice(i, stop));
    if (next === -1) return fields;
    i = next + 1;
  }
}

/** Counts the fields of a record that contains no quote character. */
export function countPlainFields(text: string, delimiter: string): number {
  let count = 1;
  for (let at = text.indexOf(delimiter); at !== -1; at = text.indexOf(delimiter, at + 1)) count++;
  return count;
}
