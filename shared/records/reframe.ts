import type { DecodeFailure, RecordDecoder } from './decoder.js';
import { cutUtf8 } from './utf8.js';

const NL = 0x0a;
const CR = 0x0d;

/** The leading lines of a multiline CSV record rejected by a re-frame, and where framing resumes. */
export interface Cut {
  readonly reason: string;
  /** Text of the rejected lines, cut to 200 bytes. */
  readonly raw: string;
  /** Physical lines rejected. */
  readonly lines: number;
  /** Index in the buffer of the first byte after the rejected lines. */
  readonly next: number;
}

/**
 * A multiline CSV record failed on a quoting error that a newline follows: the quote that made those newlines
 * look quoted was probably stray (`55" screen`). Rather than lose every line up to the next odd quote, reject
 * up to the end of the error's line and frame again after it. Well-formed files never get here, so range
 * reads of them stay consistent with whole-file reads.
 *
 * @param text the record (or its prefix) decoded from `buf` at `pos`.
 * @returns the cut, or undefined when no newline follows the error (the record is rejected whole).
 */
export function cutAfterError(
  buf: Buffer,
  pos: number,
  text: string,
  failure: DecodeFailure,
): Cut | undefined {
  if (failure.index < 0) return undefined;
  const lineEnd = text.indexOf('\n', failure.index);
  if (lineEnd === -1) return undefined;
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i <= lineEnd; i = text.indexOf('\n', i + 1)) lines++;
  let nl = pos - 1;
  for (let k = 0; k < lines; k++) nl = buf.indexOf(NL, nl + 1);
  const rejected = text.charCodeAt(lineEnd - 1) === CR ? text.slice(0, lineEnd - 1) : text.slice(0, lineEnd);
  return { reason: failure.reason, raw: cutUtf8(rejected), lines, next: nl + 1 };
}

/**
 * An over-long multiline CSV record: looks for a quoting error in its first `maxRecordBytes` + 1 bytes (as
 * much as every chunking guarantees to hold, so the answer never depends on chunk boundaries). A long but
 * well-formed quoted field has none and is skipped whole; a stray quote is cut after its line.
 */
export function strayQuoteCut(
  buf: Buffer,
  pos: number,
  maxRecordBytes: number,
  decoder: RecordDecoder,
): Cut | undefined {
  const prefix = buf.toString('utf8', pos, pos + maxRecordBytes + 1);
  const failure = decoder.syntaxError?.(prefix);
  return failure === undefined ? undefined : cutAfterError(buf, pos, prefix, failure);
}
