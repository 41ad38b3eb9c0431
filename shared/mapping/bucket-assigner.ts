import type { ImportSpec } from '../config/index.js';
import type { SourceRecord } from '../records/index.js';
import { type BucketParams, type BucketSlot, locateBucket } from './buckets.js';
import { createRecordChecks } from './record-checks.js';

/** What {@link BucketAssigner} leaves behind for a record it places: its key, field and value. */
export interface BucketAssignment extends BucketSlot {
  /** The record's key (`keyPrefix` + the suffix the bucket and field come from). */
  key: string;
  /** The value to store in the field. */
  value: string;
}

/** {@link BucketAssigner}'s answer for a record that is rejected: the reason is in `reason`. */
export const ASSIGN_REJECT = -1;
/** {@link BucketAssigner}'s answer for a record with a null value: skipped, not written. */
export const ASSIGN_SKIP = -2;

/**
 * Places one record of the bucketed model: returns its bucket index (and fills `out`), {@link ASSIGN_SKIP}
 * for a null value, or {@link ASSIGN_REJECT} with `out.reason` (a bad key or value, a key that does not fit the
 * scheme). Allocation-free apart from the strings themselves: the hot path of both write paths.
 */
export type BucketAssigner = (record: SourceRecord, out: BucketAssignment) => number;

/**
 * The record checks and bucket arithmetic the bucketed mapper applies, as one function, so that the direct
 * path (the mapper) and the grouped path (the partition pass) accept, skip and reject exactly the same records.
 *
 * @example
 * const assign = createBucketAssigner(spec, params);
 * const out = emptyAssignment();
 * const index = assign(record, out); // >= 0: HSET <prefix><index> out.field out.value
 */
export function createBucketAssigner(spec: ImportSpec, buckets: BucketParams): BucketAssigner {
  const model = spec.model;
  if (model.type !== 'bucketed') throw new TypeError('not a bucketed spec');
  const checks = createRecordChecks(spec);
  const valueField = model.value;
  return (record, out) => {
    const key = checks.key(record);
    if (typeof key !== 'string') {
      out.reason = key.reason;
      return ASSIGN_REJECT;
    }
    const value = checks.value(record, valueField);
    if (value === null) return ASSIGN_SKIP;
    if (typeof value !== 'string') {
      out.reason = value.reason;
      return ASSIGN_REJECT;
    }
    const index = locateBucket(key, buckets, out);
    if (index < 0) return ASSIGN_REJECT;
    out.key = key;
    out.value = value;
    return index;
  };
}

/** A fresh {@link BucketAssignment} to reuse across records. */
export function emptyAssignment(): BucketAssignment {
  return { key: '', value: '', field: '', reason: '' };
}
