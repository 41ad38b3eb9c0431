import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ByteSource } from './types.js';

/** Options of a {@link FileSource}. */
export interface FileSourceOptions {
  /** Bytes per read chunk. @default 1 MiB */
  readonly highWaterMark?: number;
}

/** Default read chunk of a {@link FileSource}: 1 MiB. */
export const DEFAULT_FILE_CHUNK_BYTES = 1 << 20;

/**
 * A local file as a {@link ByteSource}. The file is opened lazily, once per `stream()` iteration, and closed
 * when the iteration ends or is abandoned.
 *
 * @example
 * const source = new FileSource('/data/users.csv');
 * for await (const chunk of source.stream(0, 1024)) process(chunk);
 */
export class FileSource implements ByteSource {
  /** The path, as given. */
  readonly name: string;
  private readonly highWaterMark: number;

  constructor(
    readonly path: string,
    options: FileSourceOptions = {},
  ) {
    this.name = path;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_FILE_CHUNK_BYTES;
    if (!Number.isSafeInteger(this.highWaterMark) || this.highWaterMark < 1) {
      throw new RangeError(`highWaterMark must be a positive integer, got ${this.highWaterMark}`);
    }
  }

  async size(): Promise<number> {
    return (await stat(this.path)).size;
  }

  /** The modification time in milliseconds (with the size, what tells a rewritten file from the old one). */
  async version(): Promise<string> {
    return String((await stat(this.path)).mtimeMs);
  }

  /** Yields the bytes of `[start, end)` (end exclusive, default the end of the file) in chunks. */
  async *stream(start: number, end?: number): AsyncGenerator<Buffer, void> {
    if (end !== undefined && end <= start) return;
    const stream = createReadStream(this.path, {
      start,
      // createReadStream's end is inclusive.
      ...(end === undefined ? {} : { end: end - 1 }),
      highWaterMark: this.highWaterMark,
    });
    for await (const chunk of stream) yield chunk as Buffer;
  }
}
