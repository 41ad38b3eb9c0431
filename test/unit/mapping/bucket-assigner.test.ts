import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { type BucketParams, createBucketAssigner, emptyAssignment } from '../../../shared/mapping/index.js';
import { createGenericBucketAssigner } from '../../../shared/mapping/bucket-assigner.js';
import { recordFactory } from '../../support/records.js';

const spec = parseImportSpec({
  format: { type: 'jsonl' },
  key: 'u:{id}',
  model: { type: 'bucketed', value: 'v' },
  limits: { maxKeyBytes: 12, maxValueBytes: 8 },
});
const buckets: BucketParams = { scheme: 'hash', prefix: 'u:bkt:', keyPrefix: 'u:', bucketCount: 97 };

const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 14 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom(null, undefined, '', {}, [1]),
);

describe('bucket assigner', () => {
  it('the `prefix{field}` fast path places, skips and rejects exactly as the generic path', () => {
    const fast = createBucketAssigner(spec, buckets);
    const generic = createGenericBucketAssigner(spec, buckets);
    fc.assert(
      fc.property(scalar, scalar, (id, v) => {
        const values: Record<string, unknown> = {};
        if (id !== undefined) values.id = id;
        if (v !== undefined) values.v = v;
        const record = recordFactory(values);
        const a = emptyAssignment();
        const b = emptyAssignment();
        const got = fast(record, a);
        expect(got).toBe(generic(record, b));
        if (got >= 0) expect([a.field, a.suffix, a.value]).toEqual([b.field, b.suffix, b.value]);
        else if (got === -1) expect(a.reason).toBe(b.reason);
      }),
      { numRuns: 2000 },
    );
  });
});
