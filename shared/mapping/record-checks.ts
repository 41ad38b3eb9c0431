import type { ImportSpec } from '../config/index.js';
import type { SourceRecord } from '../records/index.js';
import { exceedsBytes } from './limits.js';
import { compileTemplate, type KeyTemplate, type RenderFailure, valueToString } from './template.js';

/** The per-record checks every data model shares: each returns the text, or why the record is rejected. */
export interface RecordChecks {
  readonly template: KeyTemplate;
  /** The record's key: rendered from the template and within `maxKeyBytes`. */
  key(record: SourceRecord): string | RenderFailure;
  /**
   * The text of one value field within `maxValueBytes`; `null` when the field is JSON null (the record or
   * field is skipped, not rejected).
   */
  value(record: SourceRecord, field: string): string | null | RenderFailure;
  /** `text` if it is within `maxValueBytes` (for values built from several fields). */
  sized(text: string, label: string): string | RenderFailure;
}

/** Builds the checks of a spec (template compiled once). */
export function createRecordChecks(spec: ImportSpec): RecordChecks {
  const template = compileTemplate(spec.key);
  const { maxKeyBytes, maxValueBytes } = spec.limits;
  const sized = (text: string, label: string): string | RenderFailure => {
    const bytes = exceedsBytes(text, maxValueBytes);
    return bytes === undefined
      ? text
      : { reason: `value of '${label}' is ${bytes} bytes, limit ${maxValueBytes}` };
  };
  return {
    template,
    sized,
    key(record) {
      const key = template.render(record.values);
      if (typeof key !== 'string') return key;
      const bytes = exceedsBytes(key, maxKeyBytes);
      return bytes === undefined ? key : { reason: `key is ${bytes} bytes, limit ${maxKeyBytes}` };
    },
    value(record, field) {
      const raw = record.values[field];
      if (raw === undefined) return { reason: `missing value field '${field}'` };
      const value = valueToString(raw);
      return value === undefined ? null : sized(value, field);
    },
  };
}
