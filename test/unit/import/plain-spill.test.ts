import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ImportSpec, parseImportSpec } from '../../../shared/config/index.js';
import { partitionRange } from '../../../shared/import/grouped-partition.js';
import { MemoryRejectSink } from '../../../shared/import/rejects.js';
import type { BucketParams } from '../../../shared/mapping/index.js';
import { MemorySpillStore } from '../../support/spill.js';
import { MemorySource } from '../records/helpers.js';

const PARTITIONS = 5;
const BUCKETS: BucketParams = { scheme: 'hash', prefix: 'user:bkt:', keyPrefix: 'user:', bucketCount: 37 };

function spec(multiline: boolean, header: boolean): ImportSpec {
  return parseImportSpec({
    format: { type: 'csv', multiline, ...(header ? {} : { columns: ['id', 'score', 'note'] }) },
    key: 'user:{id}',
    model: { type: 'bucketed', value: 'score' },
    limits: { maxKeyBytes: 16, maxValueBytes: 12, maxRecordBytes: 64 },
    rejectBudget: { fraction: 1 },
  });
}

/** One partition pass, with or without the plain-line sink: its spill files, rejects and counts. */
async function pass(bytes: Buffer, s: ImportSpec, chunk: number, plainLines: boolean, start = 0) {
  const store = new MemorySpillStore();
  const rejects = new MemoryRejectSink();
  const result = await partitionRange({
    source: new MemorySource(bytes, chunk),
    spec: s,
    buckets: BUCKETS,
    range: { start, end: bytes.length },
    store,
    segment: 0,
    partitions: PARTITIONS,
    rejects,
    rejectedOffsets: new Set(),
    plainLines,
  });
  const files: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) files.push((await store.read(0, p)).toString('hex'));
  return {
    status: result.status,
    counts: result.counts,
    stats: result.stats,
    files,
    rejects: rejects.entries,
  };
}

// Fields drawn to hit every decline: empty, over the limits, quotes, delimiters, CR, multi-byte and bad UTF-8.
const piece = fc.oneof(
  fc.constantFrom(
    '',
    '7',
    '42',
    'ab',
    'x'.repeat(12),
    'y'.repeat(13),
    'é',
    '日本',
    '😀',
    '"',
    '""',
    ',',
    '\r',
  ),
  fc.stringMatching(/^[a-z0-9]{1,8}$/),
);
const line = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(piece, piece, piece).map((f) => Buffer.from(f.join(','))) },
  { weight: 1, arbitrary: fc.array(piece, { maxLength: 5 }).map((f) => Buffer.from(f.join(','))) },
  { weight: 1, arbitrary: fc.constant(Buffer.from([0x31, 0x2c, 0xff, 0x2c, 0x32])) },
  { weight: 1, arbitrary: fc.constant(Buffer.from(`${'z'.repeat(70)},1,2`)) },
);

describe('the plain-line sink of the partition pass', () => {
  it('spills exactly what decoding every record spills: same files, rejects and counts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 64 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (lines, multiline, header, crlf, chunk, at) => {
          const s = spec(multiline, header);
          const eol = Buffer.from(crlf ? '\r\n' : '\n');
          const parts = header ? [Buffer.from('id,score,note'), eol] : [];
          for (const l of lines) parts.push(l, eol);
          const bytes = Buffer.concat(parts);
          // A range that starts mid-file half the time (a segment, a resumed pass).
          const start = at < 0.5 ? 0 : Math.floor((at - 0.5) * 2 * bytes.length);
          const plain = await pass(bytes, s, chunk, true, start);
          const decoded = await pass(bytes, s, chunk, false, start);
          expect(plain).toEqual(decoded);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes the plain rows of a simple file without decoding them, and spills them in source order', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `${i % 900},${i}`);
    const bytes = Buffer.from(`id,score\n${rows.join('\n')}\n`);
    const s = parseImportSpec({
      format: { type: 'csv' },
      key: 'user:{id}',
      model: { type: 'bucketed', value: 'score' },
    });
    const plain = await pass(bytes, s, 1 << 16, true);
    expect(plain.counts).toMatchObject({ read: 5000, rejected: 0, skipped: 0 });
    expect(plain).toEqual(await pass(bytes, s, 1 << 16, false));
  });
});
