import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** One rejected record, as written (one JSON object per line) to the rejects file. */
export interface RejectEntry {
  /** The source: file path or `s3://bucket/key`. */
  readonly file: string;
  /** 1-based line where the record starts, when known. */
  readonly line?: number;
  /** Byte offset of the record in the source. */
  readonly offset: number;
  readonly reason: string;
  /** The record's text, cut to at most 200 bytes of UTF-8. */
  readonly raw: string;
}

/** Where rejected records go. `write` never blocks; `settle` waits when the sink's buffer is full. */
export interface RejectSink {
  readonly count: number;
  write(entry: RejectEntry): void;
  /** Resolves once buffered entries are below the sink's bound (call between batches). */
  settle(): Promise<void> | undefined;
  close(): Promise<void>;
}

const RAW_LIMIT = 200;

/** Cuts `raw` to at most `limit` bytes of UTF-8 without splitting a character. */
export function excerpt(raw: string, limit = RAW_LIMIT): string {
  if (raw.length * 3 <= limit) return raw;
  const buf = Buffer.from(raw, 'utf8');
  if (buf.length <= limit) return raw;
  let end = limit;
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}

/**
 * Writes rejects as JSON Lines to `path`, creating the file (and its folder) only when the first reject comes,
 * so a clean load leaves no empty file behind. With `append` an existing file is added to instead of replaced
 * (a grouped load that continues a stopped run keeps that run's rejects).
 */
export class FileRejectSink implements RejectSink {
  private stream: WriteStream | undefined;
  private opening: Promise<void> | undefined;
  private pending: string[] = [];
  private written = 0;
  private readonly flags: 'a' | 'w';

  constructor(
    readonly path: string,
    options: { readonly append?: boolean } = {},
  ) {
    this.flags = options.append === true ? 'a' : 'w';
  }

  get count(): number {
    return this.written;
  }

  write(entry: RejectEntry): void {
    this.written++;
    const line = `${JSON.stringify({ ...entry, raw: excerpt(entry.raw) })}\n`;
    if (this.stream) {
      this.stream.write(line);
      return;
    }
    this.pending.push(line);
    this.opening ??= this.open();
  }

  private async open(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const stream = createWriteStream(this.path, { flags: this.flags });
    await once(stream, 'open');
    this.stream = stream;
    for (const line of this.pending.splice(0)) stream.write(line);
  }

  settle(): Promise<void> | undefined {
    if (this.opening && !this.stream) return this.opening.then(() => this.settle());
    if (this.stream?.writableNeedDrain) return once(this.stream, 'drain').then(() => undefined);
    return undefined;
  }

  async close(): Promise<void> {
    if (this.opening) await this.opening;
    const stream = this.stream;
    if (!stream) return;
    this.stream = undefined;
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}

/** Keeps rejects in memory (up to `limit` entries; the count keeps going). For small loads and tests. */
export class MemoryRejectSink implements RejectSink {
  readonly entries: RejectEntry[] = [];
  private written = 0;
  constructor(private readonly limit = 10_000) {}
  get count(): number {
    return this.written;
  }
  write(entry: RejectEntry): void {
    this.written++;
    if (this.entries.length < this.limit) this.entries.push({ ...entry, raw: excerpt(entry.raw) });
  }
  settle(): undefined {
    return undefined;
  }
  async close(): Promise<void> {}
}
