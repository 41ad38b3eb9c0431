import type { ImportSpec } from '../config/index.js';
import { type ByteSource, readRecords } from '../records/index.js';

/** What a sample of the source says about the whole. */
export interface SourceEstimate {
  /** Bytes of the source (or of the range). */
  bytes: number;
  /** Records in the sample. */
  sampled: number;
  /** Mean bytes per record in the sample (0 when the sample is empty). */
  bytesPerRecord: number;
  /** Estimated records in all: bytes / bytesPerRecord (exact when the sample covered everything). */
  records: number;
}

/**
 * Estimates how many records a source holds from its first `sampleBytes` (default 1 MiB), without reading the
 * rest. Used to size hash buckets and, later, the memory pre-flight.
 */
export async function estimateRecords(
  source: ByteSource,
  spec: ImportSpec,
  sampleBytes = 1024 * 1024,
): Promise<SourceEstimate> {
  const bytes = await source.size();
  const end = Math.min(bytes, sampleBytes);
  let sampled = 0;
  let first = -1;
  let last = 0;
  for await (const batch of readRecords(source, {
    format: spec.format,
    start: 0,
    end,
    maxRecordBytes: spec.limits.maxRecordBytes,
  })) {
    const n = batch.records.length + batch.rejects.length;
    if (n > 0 && first < 0) first = batch.records[0]?.offset ?? batch.rejects[0]!.offset;
    sampled += n;
    last = batch.nextOffset;
  }
  if (sampled === 0) return { bytes, sampled, bytesPerRecord: 0, records: 0 };
  const bytesPerRecord = (last - Math.max(0, first)) / sampled;
  const records = end >= bytes ? sampled : Math.ceil((bytes - Math.max(0, first)) / bytesPerRecord);
  return { bytes, sampled, bytesPerRecord, records };
}
