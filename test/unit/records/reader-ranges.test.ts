import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ByteSource,
  FileSource,
  type RecordFormat,
  type ReadReject,
  scanQuoteParity,
  type SourceRecord,
} from '../../../shared/records/index.js';
import { csvFile, type GeneratedFile, jsonlFile } from './arbitraries.js';
import { MemorySource, readAll, tempDir } from './helpers.js';

/** Line number of the line that holds byte `offset`. */
function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let at = bytes.indexOf(10); at !== -1 && at < offset; at = bytes.indexOf(10, at + 1)) line++;
  return line;
}

interface Collected {
  records: SourceRecord[];
  rejects: ReadReject[];
  skipped: number;
}

/** Reads `[cut_i, cut_i+1)` for consecutive cuts (0 and the size added) and concatenates the results. */
async function readInRanges(
  source: ByteSource,
  bytes: Buffer,
  format: RecordFormat,
  cuts: number[],
  maxRecordBytes: number,
): Promise<Collected> {
  const bounds = [...new Set([0, bytes.length, ...cuts])].sort((a, b) => a - b);
  const quote = format.type === 'csv' ? format.quote : '"';
  const inQuote = await scanQuoteParity(source, bounds, quote);
  const out: Collected = { records: [], rejects: [], skipped: 0 };
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    const part = await readAll(source, {
      format,
      start,
      end: bounds[i + 1]!,
      startLine: lineAt(bytes, start),
      inQuoteAtStart: inQuote[i]!,
      maxRecordBytes,
    });
    out.records.push(...part.records);
    out.rejects.push(...part.rejects);
    out.skipped += part.skipped;
  }
  return out;
}

const anyFile: fc.Arbitrary<GeneratedFile<RecordFormat>> = fc.oneof(
  csvFile({ multiline: true }),
  csvFile({ multiline: false, broken: true }),
  jsonlFile(),
);
const maxRecordBytes = fc.constantFrom(24, 64, 1 << 20);
const cutSeeds = fc.array(fc.nat(), { maxLength: 8 });

async function checkExactlyOnce(
  source: ByteSource,
  file: GeneratedFile<RecordFormat>,
  seeds: number[],
  max: number,
): Promise<void> {
  const whole = await readAll(source, { format: file.format, maxRecordBytes: max });
  const cuts = seeds.map((seed) => seed % (file.bytes.length + 1));
  const parts = await readInRanges(source, file.bytes, file.format, cuts, max);
  expect(parts.records).toEqual(whole.records);
  expect(parts.rejects).toEqual(whole.rejects);
  expect(parts.skipped).toBe(whole.skipped);
}

describe('readRecords over byte ranges', () => {
  it('reads every record exactly once whatever the cut points (CSV and JSONL, tiny chunks)', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyFile,
        cutSeeds,
        maxRecordBytes,
        fc.integer({ min: 1, max: 16 }),
        async (file, seeds, max, chunk) => {
          await checkExactlyOnce(new MemorySource(file.bytes, chunk), file, seeds, max);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('resumes from any batch nextOffset/nextLine with exactly the remaining records', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyFile,
        maxRecordBytes,
        fc.integer({ min: 1, max: 16 }),
        fc.nat(),
        async (file, max, chunk, pick) => {
          const source = new MemorySource(file.bytes, chunk);
          const whole = await readAll(source, { format: file.format, maxRecordBytes: max });
          if (whole.batches.length === 0) {
            expect(whole.records).toEqual([]);
            return;
          }
          const batch = whole.batches[pick % whole.batches.length]!;
          const rest = await readAll(source, {
            format: file.format,
            start: batch.nextOffset,
            startLine: batch.nextLine,
            maxRecordBytes: max,
          });
          expect(rest.records).toEqual(whole.records.filter((r) => r.offset >= batch.nextOffset));
          expect(rest.rejects).toEqual(whole.rejects.filter((r) => r.offset >= batch.nextOffset));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads a long record that spans many ranges once, in the range where it starts', async () => {
    const big = `"${'x,\n'.repeat(50)}"`;
    const bytes = Buffer.from(`a,b\n1,${big}\n2,3\n`);
    const file: GeneratedFile<RecordFormat> = {
      bytes,
      format: { type: 'csv', delimiter: ',', quote: '"', multiline: true },
      rows: [],
      valid: true,
    };
    const cuts = Array.from({ length: 30 }, (_, i) => i * 5);
    const source = new MemorySource(bytes, 4);
    const parts = await readInRanges(source, bytes, file.format, cuts, 1 << 20);
    expect(parts.records.map((r) => [r.line, r.offset])).toEqual([
      [2, 4],
      [53, bytes.indexOf('2,3')],
    ]);
    await checkExactlyOnce(source, file, cuts, 1 << 20);
  });

  describe('on a real file', () => {
    let temp: Awaited<ReturnType<typeof tempDir>>;
    beforeAll(async () => {
      temp = await tempDir();
    });
    afterAll(async () => {
      await temp.cleanup();
    });

    it('reads every record exactly once through FileSource with a small highWaterMark', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(anyFile, cutSeeds, maxRecordBytes, async (file, seeds, max) => {
          const path = await temp.file(`case-${n++}.data`, file.bytes);
          await checkExactlyOnce(new FileSource(path, { highWaterMark: 5 }), file, seeds, max);
        }),
        { numRuns: 60 },
      );
    });
  });
});
