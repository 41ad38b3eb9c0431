import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvFile } from './arbitraries.js';
import { MemorySource, readAll } from './helpers.js';

describe('readRecords: CSV against csv-parse', () => {
  it('yields the same fields as csv-parse (and as the generated rows) for any well-formed CSV', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile(), fc.integer({ min: 1, max: 64 }), async (file, chunkSize) => {
        const { format } = file;
        const expected: string[][] = parse(file.bytes, {
          bom: true,
          columns: false,
          delimiter: format.delimiter,
          quote: format.quote,
          escape: format.quote,
          record_delimiter: ['\r\n', '\n'],
          relax_column_count: true,
          skip_empty_lines: true,
        });
        const { records, rejects } = await readAll(new MemorySource(file.bytes, chunkSize), { format });
        expect(rejects).toEqual([]);
        // With a header the oracle's first row is the header; the reader keys values by it.
        const oracleRows = format.columns === undefined ? expected.slice(1) : expected;
        const names = format.columns ?? expected[0] ?? [];
        const ours = records.map((record) => names.map((name) => record.values[name]));
        expect(ours).toEqual(oracleRows);
        expect(ours).toEqual(file.rows);
      }),
      { numRuns: 300 },
    );
  });
});
