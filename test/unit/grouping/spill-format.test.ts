import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FatalError } from '../../../shared/errors/index.js';
import {
  emptyView,
  PartitionWriter,
  recordBytes,
  SPILL_HEADER_BYTES,
  spillHeader,
  SpillReader,
} from '../../../shared/grouping/index.js';
import { readVarint, varintBytes, writeVarint } from '../../../shared/grouping/varint.js';
import { MemorySpillStore } from '../../support/spill.js';

interface Entry {
  partition: number;
  offset: number;
  suffix: string;
  value: string;
}

/** Text as it comes back from UTF-8 (a lone surrogate becomes U+FFFD, as Redis would receive it). */
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

/** Records in source order: offsets rise, several partitions, any text (short and long, any code point). */
const entries = fc
  .array(
    fc.record({
      partition: fc.nat(4),
      gap: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 2 ** 40 })),
      suffix: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ maxLength: 300 })),
      value: fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ maxLength: 5000 })),
    }),
    { maxLength: 300 },
  )
  .map((rows) => {
    let offset = 0;
    return rows.map((r): Entry => {
      offset += r.gap;
      return { partition: r.partition, offset, suffix: r.suffix, value: r.value };
    });
  });

async function spill(rows: Entry[], options: { bufferBytes?: number } = {}) {
  const store = new MemorySpillStore();
  const writer = await PartitionWriter.open(store, 0, { partitions: 5, ...options });
  for (const r of rows) {
    const wait = writer.add(r.partition, r.offset, r.suffix, r.value);
    if (wait) await wait;
  }
  return { store, stats: await writer.finish() };
}

function decode(bytes: Buffer): { offset: number; suffix: string; value: string }[] {
  const reader = new SpillReader(bytes, 'test');
  const view = emptyView();
  const out = [];
  while (reader.next(view)) {
    out.push({
      offset: view.offset,
      suffix: bytes.toString('utf8', view.suffixStart, view.suffixEnd),
      value: bytes.toString('utf8', view.valueStart, view.valueEnd),
    });
  }
  return out;
}

describe('spill format', () => {
  it('varints round-trip every safe integer size', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const buf = Buffer.alloc(10);
        const end = writeVarint(buf, 0, n);
        expect(end).toBe(varintBytes(n));
        const cursor = { pos: 0 };
        expect(readVarint(buf, cursor)).toBe(n);
        expect(cursor.pos).toBe(end);
      }),
    );
  });

  it('round-trips records through the partition writer: per partition, in order, offsets and text exact', async () => {
    await fc.assert(
      fc.asyncProperty(entries, fc.constantFrom(4096, 1 << 18), async (rows, bufferBytes) => {
        const { store, stats } = await spill(rows, { bufferBytes });
        for (let p = 0; p < 5; p++) {
          const mine = rows.filter((r) => r.partition === p);
          const bytes = await store.read(0, p);
          expect(bytes.length).toBe(stats.bytes[p]);
          expect(stats.records[p]).toBe(mine.length);
          expect(decode(bytes)).toEqual(
            mine.map((r) => ({ offset: r.offset, suffix: utf8(r.suffix), value: utf8(r.value) })),
          );
          let expected = SPILL_HEADER_BYTES;
          let last = 0;
          for (const r of mine) {
            expected += recordBytes(r.offset - last, r.suffix, r.value);
            last = r.offset;
          }
          expect(bytes.length).toBe(expected);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a short record (user:<7 digits>, a 3-digit score) takes 12-13 bytes: about the CSV row it came from', () => {
    expect(recordBytes(12, '1234567', '601')).toBe(13);
    expect(recordBytes(60, '1234567', '601')).toBe(13);
    expect(Buffer.byteLength('1234567,601\n')).toBe(12);
  });

  it('a truncated file or a foreign one is a fatal error that says what to remove', async () => {
    const { store } = await spill([{ partition: 0, offset: 5, suffix: 'abc', value: 'xyz' }]);
    const bytes = await store.read(0, 0);
    const cut = bytes.subarray(0, bytes.length - 1);
    expect(() => decode(cut)).toThrow(FatalError);
    expect(() => decode(cut)).toThrow(/truncated at byte 16: remove the spill directory/);
    expect(() => new SpillReader(Buffer.from('not a spill file'), 'x.spill')).toThrow(/not a spill file/);
    const other = spillHeader();
    other[4] = 9;
    expect(() => new SpillReader(other, 'y.spill')).toThrow(/format version 9/);
  });
});
