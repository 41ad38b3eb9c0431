import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors/index.js';
import { scanQuoteParity } from '../../../shared/records/index.js';
import { MemorySource, memory } from './helpers.js';

function naiveParity(bytes: Buffer, offset: number, quote: number): boolean {
  let count = 0;
  for (let i = 0; i < Math.min(offset, bytes.length); i++) if (bytes[i] === quote) count++;
  return count % 2 === 1;
}

describe('scanQuoteParity', () => {
  it('tells for each offset whether it lies inside quotes', async () => {
    const text = 'a,"b\nc",d\n"e"\n';
    const offsets = [0, 2, 3, 5, 7, 8, 10, 11, 12, 14, 999];
    const parity = await scanQuoteParity(memory(text, 3), offsets);
    expect(parity).toEqual([false, false, true, true, false, false, false, true, true, false, false]);
  });

  it('accepts offsets in any order, duplicates and another quote character', async () => {
    const parity = await scanQuoteParity(memory("x'y'z'", 2), [6, 0, 2, 2, 4], "'");
    expect(parity).toEqual([true, false, true, true, false]);
    expect(await scanQuoteParity(memory('"'), [])).toEqual([]);
  });

  it('matches a byte-by-byte count for any content, offsets and chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a.map((b) => (b % 4 === 0 ? 0x22 : b)))),
        fc.array(fc.nat({ max: 220 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 32 }),
        async (bytes, offsets, chunk) => {
          const parity = await scanQuoteParity(new MemorySource(bytes, chunk), offsets);
          expect(parity).toEqual(offsets.map((offset) => naiveParity(bytes, offset, 0x22)));
        },
      ),
    );
  });

  it('rejects a bad quote or offset', async () => {
    await expect(scanQuoteParity(memory('x'), [1], '«')).rejects.toThrow(ConfigError);
    await expect(scanQuoteParity(memory('x'), [-1])).rejects.toThrow(ConfigError);
  });
});
