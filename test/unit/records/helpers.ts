import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ByteSource,
  type CsvFormat,
  type ReadOptions,
  type ReadReject,
  type RecordBatch,
  readRecords,
  type SourceRecord,
} from '../../../shared/records/index.js';

/** A Buffer-backed stand-in for a file that yields tiny chunks, to put chunk boundaries everywhere. */
export class MemorySource implements ByteSource {
  readonly name = 'memory';
  constructor(
    readonly bytes: Buffer,
    readonly chunkSize = 7,
  ) {}

  async size(): Promise<number> {
    return this.bytes.length;
  }

  async *stream(start: number, end = this.bytes.length): AsyncGenerator<Buffer> {
    const stop = Math.min(end, this.bytes.length);
    for (let at = start; at < stop; at += this.chunkSize) {
      // A copy, so nothing can rely on chunks sharing memory with each other.
      yield Buffer.from(this.bytes.subarray(at, Math.min(at + this.chunkSize, stop)));
    }
  }
}

/** Everything one read produced. */
export interface ReadResult {
  records: SourceRecord[];
  rejects: ReadReject[];
  skipped: number;
  batches: RecordBatch[];
}

export async function readAll(source: ByteSource, options: ReadOptions): Promise<ReadResult> {
  const result: ReadResult = { records: [], rejects: [], skipped: 0, batches: [] };
  for await (const batch of readRecords(source, options)) {
    result.records.push(...batch.records);
    result.rejects.push(...batch.rejects);
    result.skipped += batch.skipped;
    result.batches.push(batch);
  }
  return result;
}

export function memory(text: string | Buffer, chunkSize = 7): MemorySource {
  return new MemorySource(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, chunkSize);
}

export function csv(overrides: Partial<CsvFormat> = {}): CsvFormat {
  return { type: 'csv', delimiter: ',', quote: '"', multiline: true, ...overrides };
}

/** Byte offset of the first occurrence of `needle` in `text` (UTF-8), for expected offsets. */
export function byteOffset(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at === -1) throw new Error(`${JSON.stringify(needle)} not in text`);
  return Buffer.byteLength(text.slice(0, at), 'utf8');
}

/** A temporary directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{
  dir: string;
  file(name: string, data: string | Buffer): Promise<string>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'records-test-'));
  return {
    dir,
    async file(name, data) {
      const path = join(dir, name);
      await writeFile(path, data);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
