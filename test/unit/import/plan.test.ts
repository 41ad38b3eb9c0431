import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { planChunks, planRanges } from '../../../shared/import/index.js';
import type { RecordFormat } from '../../../shared/records/index.js';
import { csvFile, type GeneratedFile, jsonlFile } from '../records/arbitraries.js';
import { MemorySource, readAll } from '../records/helpers.js';

function specFor(format: RecordFormat) {
  return parseImportSpec({ format, key: 'k:{id}', model: { type: 'hash' } });
}

/** Reads the file whole, then chunk by chunk as the plan says; both must give the same records. */
async function checkPlan(file: GeneratedFile<RecordFormat>, chunkBytes: number): Promise<void> {
  const source = new MemorySource(file.bytes, 13);
  const spec = specFor(file.format);
  const whole = await readAll(source, { format: file.format, maxRecordBytes: 1 << 20 });
  const { chunks } = await planChunks(source, spec, chunkBytes);
  expect(chunks[0]!.start).toBe(0);
  expect(chunks.at(-1)!.end).toBe(file.bytes.length);
  chunks.forEach((c, i) => {
    expect(c.index).toBe(i);
    if (i > 0) expect(c.start).toBe(chunks[i - 1]!.end);
  });
  const records = [];
  const rejects = [];
  let skipped = 0;
  for (const chunk of chunks) {
    const part = await readAll(source, {
      format: file.format,
      start: chunk.start,
      end: chunk.end,
      inQuoteAtStart: chunk.inQuoteAtStart,
      maxRecordBytes: 1 << 20,
    });
    records.push(...part.records);
    rejects.push(...part.rejects);
    skipped += part.skipped;
  }
  const strip = (r: { offset: number; values?: unknown; reason?: string }) => ({
    offset: r.offset,
    values: r.values,
    reason: r.reason,
  });
  expect(records.map(strip)).toEqual(whole.records.map(strip));
  expect(rejects.map(strip)).toEqual(whole.rejects.map(strip));
  expect(skipped).toBe(whole.skipped);
}

describe('planRanges', () => {
  it('covers [0, size) with consecutive ranges, at least one', () => {
    expect(planRanges(0, 64)).toEqual([{ index: 0, start: 0, end: 0 }]);
    expect(planRanges(10, 4)).toEqual([
      { index: 0, start: 0, end: 4 },
      { index: 1, start: 4, end: 8 },
      { index: 2, start: 8, end: 10 },
    ]);
    expect(() => planRanges(10, 0)).toThrow(RangeError);
  });
});

describe('planChunks: reading the planned chunks gives exactly the records of the whole file', () => {
  // Chunk sizes from 1 byte up: records longer than a chunk, cuts inside quotes, CRLF, no final newline.
  it('multiline CSV (quote parity at every cut)', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile({ multiline: true }), fc.integer({ min: 1, max: 400 }), async (file, n) => {
        await checkPlan(file, n);
      }),
      { numRuns: 150 },
    );
  });

  it('single-line CSV, with broken lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        csvFile({ multiline: false, broken: true }),
        fc.integer({ min: 1, max: 400 }),
        async (file, n) => {
          await checkPlan(file, n);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('JSON Lines', async () => {
    await fc.assert(
      fc.asyncProperty(jsonlFile(), fc.integer({ min: 1, max: 400 }), async (file, n) => {
        await checkPlan(file, n);
      }),
      { numRuns: 100 },
    );
  });

  it('a record longer than several chunks and no trailing newline', async () => {
    const long = 'x'.repeat(500);
    const text = `id,v\n1,"${long}\n${long}"\n2,short\n3,"end"`;
    const file = {
      bytes: Buffer.from(text),
      format: specFor({ type: 'csv', delimiter: ',', quote: '"', multiline: true }).format,
      rows: [],
      valid: true,
    };
    await checkPlan(file, 64);
    const { chunks } = await planChunks(new MemorySource(file.bytes), specFor(file.format), 64);
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.some((c) => c.inQuoteAtStart)).toBe(true);
  });

  it('an odd number of quotes: not split, and the notes say why', async () => {
    const text = `id,v\n1,"a\n2,b\n3,c\n4,d\n`;
    const source = new MemorySource(Buffer.from(text));
    const { chunks, notes } = await planChunks(
      source,
      specFor({ type: 'csv', delimiter: ',', quote: '"', multiline: true }),
      4,
    );
    expect(chunks).toEqual([{ index: 0, start: 0, end: text.length, inQuoteAtStart: false }]);
    expect(notes.join(' ')).toContain('odd number of " characters');
  });
});
