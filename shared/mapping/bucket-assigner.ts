import type { ImportSpec } from '../config/index.js';
import type { SourceRecord } from '../records/index.js';
import { type BucketParams, type BucketSlot, fieldOfSuffix, locateBucket } from './buckets.js';
import { fnv1a32 } from './fnv.js';
import { createRecordChecks } from './record-checks.js';
import { compileTemplate, keyPart } from './template.js';

/** What {@link BucketAssigner} leaves behind for a record it places: its key's suffix, field and value. */
export interface BucketAssignment extends BucketSlot {
  /** The record's key without the bucket parameters' `keyPrefix`: the bucket and field come from it. */
  suffix: string;
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
  const field = hashSuffixField(spec, buckets);
  return field !== undefined && buckets.scheme === 'hash'
    ? suffixAssigner(spec, buckets, field)
    : createGenericBucketAssigner(spec, buckets);
}

/**
 * The field whose text, after the key prefix, is the whole key suffix of a hash-scheme bucketed load (`id` for
 * `user:{id}`): then a record's bucket is `fnv1a32(suffix, fnv1a32(keyPrefix)) % bucketCount`, with no key
 * built and sliced again. Undefined for any other template or scheme, and when the prefix ends in half a
 * surrogate pair (the key's UTF-8 is then not the prefix's followed by the suffix's).
 */
export function hashSuffixField(spec: ImportSpec, buckets: BucketParams): string | undefined {
  if (buckets.scheme !== 'hash') return undefined;
  const template = compileTemplate(spec.key);
  const prefix = buckets.keyPrefix;
  return template.literalPrefix === prefix && !/[\ud800-\udbff]$/.test(prefix)
    ? template.suffixField
    : undefined;
}

/**
 * {@link createBucketAssigner} for any template and scheme: renders the key, checks it and the value, and finds
 * the bucket with `locateBucket`. Exported for the test that holds the fast path to it.
 */
export function createGenericBucketAssigner(spec: ImportSpec, buckets: BucketParams): BucketAssigner {
  const model = spec.model;
  if (model.type !== 'bucketed') throw new TypeError('not a bucketed spec');
  const checks = createRecordChecks(spec);
  const valueField = model.value;
  const prefixLength = buckets.keyPrefix.length;
  const byField = buckets.scheme === 'hash';
  const stripped = buckets.scheme === 'hash' && buckets.fieldStrip !== undefined;
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
    out.suffix = byField && !stripped ? out.field : key.slice(prefixLength);
    out.value = value;
    return index;
  };
}

/** The hash scheme's assigner for a `<keyPrefix>{field}` template: the same answers, less work per record. */
function suffixAssigner(
  spec: ImportSpec,
  buckets: BucketParams & { scheme: 'hash' },
  field: string,
): BucketAssigner {
  const model = spec.model;
  if (model.type !== 'bucketed') throw new TypeError('not a bucketed spec');
  const checks = createRecordChecks(spec);
  const valueField = model.value;
  const { maxKeyBytes } = spec.limits;
  const prefix = buckets.keyPrefix;
  const prefixBytes = Buffer.byteLength(prefix, 'utf8');
  const seed = fnv1a32(prefix);
  const count = buckets.bucketCount;
  const strip = buckets.fieldStrip;
  return (record, out) => {
    const suffix = keyPart(record.values, field);
    if (typeof suffix !== 'string') {
      out.reason = suffix.reason;
      return ASSIGN_REJECT;
    }
    if ((prefix.length + suffix.length) * 3 > maxKeyBytes) {
      const bytes = prefixBytes + Buffer.byteLength(suffix, 'utf8');
      if (bytes > maxKeyBytes) {
        out.reason = `key is ${bytes} bytes, limit ${maxKeyBytes}`;
        return ASSIGN_REJECT;
      }
    }
    const value = checks.value(record, valueField);
    if (value === null) return ASSIGN_SKIP;
    if (typeof value !== 'string') {
      out.reason = value.reason;
      return ASSIGN_REJECT;
    }
    out.field = strip === undefined ? suffix : fieldOfSuffix(suffix, strip);
    out.suffix = suffix;
    out.value = value;
    return fnv1a32(suffix, seed) % count;
  };
}

/** A fresh {@link BucketAssignment} to reuse across records. */
export function emptyAssignment(): BucketAssignment {
  return { suffix: '', value: '', field: '', reason: '' };
}
