import { describe, expect, it } from 'vitest';
import { countPlainFields, splitCsvFields } from '../../../shared/records/csv-fields.js';

describe('splitCsvFields', () => {
  it('splits plain and quoted fields', () => {
    expect(splitCsvFields('a,b,,c,', ',', '"')).toEqual(['a', 'b', '', 'c', '']);
    expect(splitCsvFields('"a,b","",c', ',', '"')).toEqual(['a,b', '', 'c']);
    expect(splitCsvFields('"x""y""",z', ',', '"')).toEqual(['x"y"', 'z']);
    expect(splitCsvFields('"line\r\nbreak"', ',', '"')).toEqual(['line\r\nbreak']);
    expect(splitCsvFields("'a;b';'it''s'", ';', "'")).toEqual(['a;b', "it's"]);
    expect(splitCsvFields('', ',', '"')).toEqual(['']);
  });

  it('reports where quoting goes wrong', () => {
    expect(splitCsvFields('a,b"c', ',', '"')).toEqual({
      kind: 'syntax',
      reason: 'quote in unquoted field at column 2',
      index: 3,
    });
    expect(splitCsvFields('"a"b,c', ',', '"')).toEqual({
      kind: 'syntax',
      reason: 'unexpected character after closing quote at column 1',
      index: 3,
    });
    expect(splitCsvFields('x,"abc', ',', '"')).toEqual({
      kind: 'unterminated',
      reason: 'unterminated quoted field',
      index: 2,
    });
  });

  it('counts plain fields', () => {
    expect(countPlainFields('a', ',')).toBe(1);
    expect(countPlainFields('a,,b,', ',')).toBe(4);
  });
});
