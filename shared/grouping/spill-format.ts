import { FatalError } from '../errors/index.js';
import { type Cursor, readVarint, varintBytes, writeVarint } from './varint.js';

/**
 * The spill format of grouped writes: one file (or object) per source segment and partition, holding the
 * records the partition pass routed there, in source order.
 *
 * ```
 * header   "RBLS" · version u8 (1) · 11 reserved bytes (0)                          16 bytes
 * record   varint offsetDelta · varint suffixLength · suffix · varint valueLength · value
 * ```
 *
 * - `offsetDelta`: the record's byte offset in the source minus the previous record's in this file (the
 *   first: minus 0). Offsets rise within a file, so deltas stay small: 1–2 bytes.
 * - `suffix`: the key without the template's literal prefix, UTF-8. The bucket and field are derived from it
 *   at load time exactly as `locateBucket` does (hash scheme: the field is the suffix; range scheme: the
 *   suffix is the integer id), so neither is stored.
 * - `value`: UTF-8.
 *
 * Line numbers are not stored: the partition pass keeps a sparse offset → line index (see the manifest), which
 * is all a reject found at load time needs to be reported with its line.
 */

export const SPILL_MAGIC = 'RBLS';
export const SPILL_VERSION = 1;
export const SPILL_HEADER_BYTES = 16;

/** The 16-byte header every spill file starts with. */
export function spillHeader(): Buffer {
  const header = Buffer.alloc(SPILL_HEADER_BYTES);
  header.write(SPILL_MAGIC, 0, 'latin1');
  header[4] = SPILL_VERSION;
  return header;
}

/** Throws a {@link FatalError} naming `name` unless `buf` starts with this version's header. */
export function checkSpillHeader(buf: Uint8Array, name: string): void {
  const magic = Buffer.from(buf.buffer, buf.byteOffset, Math.min(4, buf.length)).toString('latin1');
  if (buf.length < SPILL_HEADER_BYTES || magic !== SPILL_MAGIC) {
    throw new FatalError(`spill file ${name} is not a spill file (no ${SPILL_MAGIC} header): remove it`);
  }
  if (buf[4] !== SPILL_VERSION) {
    throw new FatalError(
      `spill file ${name} has format version ${buf[4]}, this loader reads ${SPILL_VERSION}: remove the spill directory`,
    );
  }
}

/** The most bytes one record with these UTF-16 lengths can take (UTF-8 ≤ 3 bytes per code unit). */
export function maxRecordBytes(suffixLength: number, valueLength: number): number {
  return 8 + 5 + suffixLength * 3 + 5 + valueLength * 3;
}

/** Exact bytes of one record (for estimates and tests). */
export function recordBytes(offsetDelta: number, suffix: string, value: string): number {
  const s = Buffer.byteLength(suffix, 'utf8');
  const v = Buffer.byteLength(value, 'utf8');
  return varintBytes(offsetDelta) + varintBytes(s) + s + varintBytes(v) + v;
}

/**
 * Writes `text` as varint length + UTF-8 at `off` (the caller made room for the worst case); returns the offset
 * after it. Short ASCII is copied in JS: its byte length is its length, so no native call is needed.
 */
export function writeSpillString(buf: Buffer, off: number, text: string): number {
  const len = text.length;
  if (len < 128) {
    const start = off + 1;
    let i = 0;
    for (; i < len; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) break;
      buf[start + i] = code;
    }
    if (i === len) {
      buf[off] = len;
      return start + len;
    }
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  off = writeVarint(buf, off, bytes);
  return off + buf.write(text, off, 'utf8');
}

/** Writes one record at `off` (room for {@link maxRecordBytes} assumed); returns the offset after it. */
export function writeSpillRecord(
  buf: Buffer,
  off: number,
  offsetDelta: number,
  suffix: string,
  value: string,
): number {
  off = writeVarint(buf, off, offsetDelta);
  off = writeSpillString(buf, off, suffix);
  return writeSpillString(buf, off, value);
}

/** One decoded record: where its suffix and value lie in the buffer, and its source offset. */
export interface SpillView {
  /** The record's byte offset in the source. */
  offset: number;
  suffixStart: number;
  suffixEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Walks the records of one spill file's bytes (header included) in order. `next` fills `view` and returns
 * true, or returns false at the end; a truncated record is a {@link FatalError} naming the file.
 *
 * @example
 * const reader = new SpillReader(bytes, 'part-3.bin');
 * const view = emptyView();
 * while (reader.next(view)) use(bytes.latin1Slice(view.suffixStart, view.suffixEnd));
 */
export class SpillReader {
  private readonly cursor: Cursor = { pos: SPILL_HEADER_BYTES };
  private offset = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly name: string,
  ) {
    checkSpillHeader(buf, name);
  }

  /** Where the next record starts. */
  get position(): number {
    return this.cursor.pos;
  }

  next(view: SpillView): boolean {
    const { buf, cursor } = this;
    if (cursor.pos >= buf.length) return false;
    const at = cursor.pos;
    const delta = readVarint(buf, cursor);
    const suffixLength = delta < 0 ? -1 : readVarint(buf, cursor);
    const suffixStart = cursor.pos;
    const suffixEnd = suffixStart + suffixLength;
    cursor.pos = suffixEnd;
    const valueLength = suffixLength < 0 || suffixEnd > buf.length ? -1 : readVarint(buf, cursor);
    const valueStart = cursor.pos;
    const valueEnd = valueStart + valueLength;
    if (valueLength < 0 || valueEnd > buf.length) {
      throw new FatalError(`spill file ${this.name} is truncated at byte ${at}: remove the spill directory`);
    }
    cursor.pos = valueEnd;
    this.offset += delta;
    view.offset = this.offset;
    view.suffixStart = suffixStart;
    view.suffixEnd = suffixEnd;
    view.valueStart = valueStart;
    view.valueEnd = valueEnd;
    return true;
  }
}

/** A {@link SpillView} to reuse. */
export function emptyView(): SpillView {
  return { offset: 0, suffixStart: 0, suffixEnd: 0, valueStart: 0, valueEnd: 0 };
}
