import { maxRecordBytes, SPILL_HEADER_BYTES, spillHeader, writeSpillRecord } from './spill-format.js';
import { writeVarint } from './varint.js';
import type { SpillFile, SpillStore } from './spill-store.js';

/** How a {@link PartitionWriter} buffers. */
export interface PartitionWriterOptions {
  /** Partitions of the load: records are routed by the caller to `0 … partitions - 1`. */
  readonly partitions: number;
  /** Write buffer per partition. @default 8 MiB over all partitions, within 32 KiB … 256 KiB each */
  readonly bufferBytes?: number;
  /** Bytes handed to the store and not yet written, over all partitions, before `add` makes the caller wait. @default 8 MiB */
  readonly maxPendingBytes?: number;
}

/** What one segment's partition files hold once written. */
export interface PartitionStats {
  /** Bytes of each partition's file, header included. */
  readonly bytes: number[];
  /** Records in each partition's file. */
  readonly records: number[];
}

const HEADER = spillHeader();
const EMPTY = Buffer.alloc(0);

/**
 * Writes one segment's records into its partition files in the spill format, in bounded memory: one buffer per
 * partition (`bufferBytes`), flushed in order when full, and at most `maxPendingBytes` in flight to the store
 * (then {@link add} returns a promise to await). Records of a partition keep the order they were added in.
 *
 * @example
 * const writer = await PartitionWriter.open(store, 0, { partitions: 8 });
 * for (const r of records) { const wait = writer.add(r.bucket % 8, r.offset, r.suffix, r.value); if (wait) await wait; }
 * const { bytes, records } = await writer.finish();
 */
export class PartitionWriter {
  private readonly bufs: Buffer[];
  private readonly positions: number[];
  private readonly lastOffsets: number[];
  private readonly chains: Promise<void>[];
  private readonly counts: number[];
  private readonly sizes: number[];
  private readonly pool: Buffer[] = [];
  private readonly bufferBytes: number;
  private readonly maxPending: number;
  private pending = 0;
  private waiters: (() => void)[] = [];
  private failure: unknown;

  private constructor(
    private readonly files: SpillFile[],
    options: PartitionWriterOptions,
  ) {
    const n = options.partitions;
    const share = Math.floor((8 * 1024 * 1024) / n);
    this.bufferBytes = Math.max(
      4096,
      options.bufferBytes ?? Math.min(256 * 1024, Math.max(32 * 1024, share)),
    );
    this.maxPending = Math.max(this.bufferBytes, options.maxPendingBytes ?? 8 * 1024 * 1024);
    this.bufs = Array.from({ length: n }, () => this.take());
    this.positions = this.bufs.map((b) => HEADER.copy(b, 0));
    this.lastOffsets = new Array<number>(n).fill(0);
    this.chains = new Array<Promise<void>>(n).fill(Promise.resolve());
    this.counts = new Array<number>(n).fill(0);
    this.sizes = new Array<number>(n).fill(SPILL_HEADER_BYTES);
  }

  /** Creates (truncating) the partition files of `segment` in `store`. */
  static async open(
    store: SpillStore,
    segment: number,
    options: PartitionWriterOptions,
  ): Promise<PartitionWriter> {
    if (!Number.isSafeInteger(options.partitions) || options.partitions < 1) {
      throw new RangeError(`partitions must be a positive integer, got ${options.partitions}`);
    }
    const files: SpillFile[] = [];
    try {
      for (let p = 0; p < options.partitions; p++) files.push(await store.create(segment, p));
    } catch (err) {
      await Promise.allSettled(files.map((f) => f.close()));
      throw err;
    }
    return new PartitionWriter(files, options);
  }

  /** Bytes written or buffered so far, over all partitions. */
  get bytes(): number {
    let sum = 0;
    for (const s of this.sizes) sum += s;
    return sum;
  }

  /**
   * Appends one record to `partition`. `offset` is the record's source offset, not below the previous one of
   * the same partition. Returns a promise only when the caller must wait for the store.
   */
  add(partition: number, offset: number, suffix: string, value: string): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const pos = this.room(partition, maxRecordBytes(suffix.length, value.length));
    const buf = this.bufs[partition]!;
    this.wrote(
      partition,
      offset,
      pos,
      writeSpillRecord(buf, pos, offset - this.lastOffsets[partition]!, suffix, value),
    );
    return this.pending > this.maxPending ? this.below() : undefined;
  }

  /**
   * {@link add} for a record whose suffix and value are UTF-8 bytes already: `src[suffixStart, suffixEnd)` and
   * `src[valueStart, valueEnd)`, copied as they are. Never waits: the caller asks {@link ready} now and then.
   */
  addBytes(
    partition: number,
    offset: number,
    src: Buffer,
    suffixStart: number,
    suffixEnd: number,
    valueStart: number,
    valueEnd: number,
  ): void {
    const suffixBytes = suffixEnd - suffixStart;
    const valueBytes = valueEnd - valueStart;
    const pos = this.room(partition, 8 + 5 + suffixBytes + 5 + valueBytes);
    const buf = this.bufs[partition]!;
    let at = writeVarint(buf, pos, offset - this.lastOffsets[partition]!);
    at = writeVarint(buf, at, suffixBytes);
    // Keys and values of bulk files are short: a loop beats the native call of `copy` below ~32 bytes.
    if (suffixBytes < 32) for (let i = suffixStart; i < suffixEnd; i++) buf[at++] = src[i]!;
    else at += src.copy(buf, at, suffixStart, suffixEnd);
    at = writeVarint(buf, at, valueBytes);
    if (valueBytes < 32) for (let i = valueStart; i < valueEnd; i++) buf[at++] = src[i]!;
    else at += src.copy(buf, at, valueStart, valueEnd);
    this.wrote(partition, offset, pos, at);
  }

  /**
   * What {@link add} returns, for records added with {@link addBytes}: a promise only when the caller must wait
   * (the writes in flight are past the bound), rejected with the first write error.
   */
  ready(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.pending > this.maxPending ? this.below() : undefined;
  }

  /** Writes everything buffered and closes the files; throws the first write error. */
  async finish(): Promise<PartitionStats> {
    for (let p = 0; p < this.bufs.length; p++) this.flush(p);
    await Promise.all(this.chains);
    await Promise.all(this.files.map((f) => f.close()));
    if (this.failure !== undefined) throw this.failure;
    return { bytes: [...this.sizes], records: [...this.counts] };
  }

  /** Stops: closes the files without flushing what is buffered (the caller throws the segment away). */
  async abort(): Promise<void> {
    await Promise.allSettled(this.chains);
    await Promise.allSettled(this.files.map((f) => f.close()));
  }

  /** Makes room for `need` bytes in `partition`'s buffer (flushing it when full); returns where they go. */
  private room(partition: number, need: number): number {
    const pos = this.positions[partition]!;
    if (pos + need <= this.bufs[partition]!.length) return pos;
    this.flush(partition);
    // A record larger than a buffer (a huge value) gets a buffer of its own, written on the next flush.
    this.bufs[partition] = need > this.bufferBytes ? Buffer.allocUnsafe(need) : this.take();
    return 0;
  }

  /** Accounts for one record written to `partition`'s buffer at `[pos, end)`. */
  private wrote(partition: number, offset: number, pos: number, end: number): void {
    this.sizes[partition]! += end - pos;
    this.positions[partition] = end;
    this.lastOffsets[partition] = offset;
    this.counts[partition]!++;
  }

  private take(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafe(this.bufferBytes);
  }

  private flush(partition: number): void {
    const length = this.positions[partition]!;
    const buf = this.bufs[partition]!;
    this.bufs[partition] = EMPTY;
    this.positions[partition] = 0;
    if (length === 0) {
      this.release(buf);
      return;
    }
    this.pending += length;
    const file = this.files[partition]!;
    this.chains[partition] = this.chains[partition]!.then(() => file.append(buf.subarray(0, length)))
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.pending -= length;
        this.release(buf);
        if (this.pending <= this.maxPending) for (const wake of this.waiters.splice(0)) wake();
      });
  }

  private release(buf: Buffer): void {
    if (buf.length === this.bufferBytes && this.pool.length < 8) this.pool.push(buf);
  }

  private below(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }
}
