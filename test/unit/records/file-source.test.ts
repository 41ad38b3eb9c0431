import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../../shared/records/index.js';
import { tempDir } from './helpers.js';

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

describe('FileSource', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let path: string;
  const content = Buffer.from('0123456789abcdefghij');

  beforeAll(async () => {
    temp = await tempDir();
    path = await temp.file('data.bin', content);
  });
  afterAll(async () => {
    await temp.cleanup();
  });

  it('is named by its path and knows its size', async () => {
    const source = new FileSource(path);
    expect(source.name).toBe(path);
    expect(await source.size()).toBe(20);
  });

  it('streams [start, end) in chunks of highWaterMark bytes', async () => {
    const chunks = await collect(new FileSource(path, { highWaterMark: 4 }).stream(3, 13));
    expect(chunks.map((c) => c.toString())).toEqual(['3456', '789a', 'bc']);
  });

  it('streams to the end of the file without end, clamps a large end, yields nothing for empty ranges', async () => {
    const source = new FileSource(path, { highWaterMark: 8 });
    expect(Buffer.concat(await collect(source.stream(15))).toString()).toBe('fghij');
    expect(Buffer.concat(await collect(source.stream(18, 1000))).toString()).toBe('ij');
    expect(await collect(source.stream(5, 5))).toEqual([]);
    expect(await collect(source.stream(25))).toEqual([]);
  });

  it('stops reading when the consumer stops', async () => {
    const source = new FileSource(path, { highWaterMark: 2 });
    const seen: string[] = [];
    for await (const chunk of source.stream(0)) {
      seen.push(chunk.toString());
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['01', '23']);
  });

  it('fails for a missing file and a bad highWaterMark', async () => {
    const missing = new FileSource(`${path}.missing`);
    await expect(missing.size()).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(collect(missing.stream(0))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => new FileSource(path, { highWaterMark: 0 })).toThrow(RangeError);
  });
});
