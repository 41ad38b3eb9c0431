import type { ImportSpec } from '../shared/config/index.js';
import { ConfigError } from '../shared/errors/index.js';
import { missingFields } from '../shared/mapping/index.js';
import { type ByteSource, readRecords } from '../shared/records/index.js';

/** How far into a CSV the header check looks for its first well-formed record. */
const HEADER_SCAN_BYTES = 1024 * 1024;

/**
 * The column names of a CSV source as the loader reads them: `format.columns`, or the header row (taken from
 * the first record that decodes; undefined for JSON Lines, or a CSV with no such record in its first MiB).
 */
export async function csvColumns(source: ByteSource, spec: ImportSpec): Promise<string[] | undefined> {
  if (spec.format.type !== 'csv') return undefined;
  if (spec.format.columns) return [...spec.format.columns];
  const size = await source.size();
  const records = readRecords(source, {
    format: spec.format,
    start: 0,
    end: Math.min(size, HEADER_SCAN_BYTES),
    maxRecordBytes: spec.limits.maxRecordBytes,
  });
  for await (const batch of records) {
    const first = batch.records[0];
    if (first !== undefined) return Object.keys(first.values);
  }
  return undefined;
}

/**
 * Fails before any write when the fields the key template, the value or the hash fields need are not among
 * `columns` (`where` says where the names came from: `--columns`, `the header of users.csv`).
 *
 * @throws {ConfigError} naming each missing field and the columns there are.
 */
export function checkColumns(spec: ImportSpec, columns: readonly string[], where: string): void {
  const problems = missingFields(spec, columns, where);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
}

/**
 * The checks `import` runs on its source before contacting Redis: a resume offset inside the file, and a CSV
 * header that holds every field the spec needs.
 *
 * @throws {ConfigError} for `--start-offset` past the end, or a missing field.
 */
export async function checkSource(
  source: ByteSource,
  spec: ImportSpec,
  options: { label: string; startOffset?: number },
): Promise<void> {
  const size = await source.size();
  const start = options.startOffset ?? 0;
  if (start > size) {
    throw new ConfigError(
      `--start-offset ${start} is past the end of ${options.label} (${size} bytes): nothing to resume`,
    );
  }
  // Given column names are checked without reading (see checkColumns); a header is read here.
  if (spec.format.type !== 'csv' || spec.format.columns) return;
  const columns = await csvColumns(source, spec);
  if (columns !== undefined) checkColumns(spec, columns, `the header of ${options.label}`);
}
