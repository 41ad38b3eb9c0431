import type { SourceRecord } from '../../shared/records/index.js';

/** A record as the reader would yield it, for mapper and writer tests. */
export function recordFactory(values: Record<string, unknown>, line = 2, offset = 0): SourceRecord {
  return { line, offset, raw: JSON.stringify(values), values };
}
