import type { ImportSpec } from '../config/index.js';
import { type ByteSource, readRecords } from '../records/index.js';
import type { RejectEntry } from './rejects.js';

/** A record the server refused at load time: only its offset is in the spill. */
export interface LateReject {
  readonly offset: number;
  readonly reason: string;
}

/**
 * Turns rejects found by the load pass (a `WRONGTYPE` on a bucket) into full reject entries: their line and raw
 * text are read back from the source, from the nearest line checkpoint of the partition pass at or before each
 * offset (so at most about a checkpoint's distance is read per group of rejects). Rare by nature: a server error
 * about a bucket's data.
 *
 * @example
 * const entries = await resolveRejects(source, spec, lines, [{ offset: 1834, reason: 'WRONGTYPE …' }]);
 */
export async function resolveRejects(
  source: ByteSource,
  spec: ImportSpec,
  lines: readonly (readonly [number, number])[],
  rejects: readonly LateReject[],
): Promise<RejectEntry[]> {
  const sorted = [...rejects].sort((a, b) => a.offset - b.offset);
  const out: RejectEntry[] = [];
  let i = 0;
  while (i < sorted.length) {
    const checkpoint = checkpointAt(lines, sorted[i]!.offset);
    const next = lines[lines.indexOf(checkpoint) + 1]?.[0] ?? Number.POSITIVE_INFINITY;
    const group: LateReject[] = [];
    while (i < sorted.length && sorted[i]!.offset < next) group.push(sorted[i++]!);
    const wanted = new Map<number, string[]>();
    for (const r of group) wanted.set(r.offset, [...(wanted.get(r.offset) ?? []), r.reason]);
    const [start, line] = checkpoint;
    const found = new Map<number, { line: number | undefined; raw: string }>();
    for await (const batch of readRecords(source, {
      format: spec.format,
      start,
      end: group[group.length - 1]!.offset + 1,
      ...(line > 0 ? { startLine: line } : {}),
      maxRecordBytes: spec.limits.maxRecordBytes,
    })) {
      for (const record of batch.records) {
        if (wanted.has(record.offset)) found.set(record.offset, { line: record.line, raw: record.raw });
      }
    }
    for (const [offset, reasons] of wanted) {
      const record = found.get(offset);
      for (const reason of reasons) {
        out.push({
          file: source.name,
          ...(record?.line === undefined ? {} : { line: record.line }),
          offset,
          reason,
          raw: record?.raw ?? '',
        });
      }
    }
  }
  return out;
}

/** The last checkpoint at or before `offset` (the first one is the range start). */
function checkpointAt(
  lines: readonly (readonly [number, number])[],
  offset: number,
): readonly [number, number] {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lines[mid]![0] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lines[lo]!;
}
