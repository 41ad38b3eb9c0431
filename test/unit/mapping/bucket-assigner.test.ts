import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import {
  type BucketParams,
  createBucketAssigner,
  emptyAssignment,
  fieldOfSuffix,
  fnv1a32,
} from '../../../shared/mapping/index.js';
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

describe('bucket assigner with a stripped field prefix', () => {
  const keySpec = parseImportSpec({
    format: { type: 'jsonl' },
    key: '{id}',
    model: { type: 'bucketed', value: 'v' },
  });
  const stripped: BucketParams = {
    scheme: 'hash',
    prefix: 'bkt:',
    keyPrefix: '',
    bucketCount: 97,
    fieldStrip: 'user:',
  };

  it('the fast and generic paths agree: field without the prefix (or marked), suffix and bucket of the whole key', () => {
    const fast = createBucketAssigner(keySpec, stripped);
    const generic = createGenericBucketAssigner(keySpec, stripped);
    const id = fc.oneof(
      fc.string({ maxLength: 10 }).map((s) => `user:${s}`),
      fc.string({ maxLength: 10 }).map((s) => `user:\u0000${s}`),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(id, fc.string({ maxLength: 6 }), (key, v) => {
        const a = emptyAssignment();
        const b = emptyAssignment();
        const got = fast(recordFactory({ id: key, v }), a);
        expect(got).toBe(generic(recordFactory({ id: key, v }), b));
        if (got < 0) return;
        expect([a.field, a.suffix, a.value]).toEqual([b.field, b.suffix, b.value]);
        expect(a.suffix).toBe(key);
        expect(a.field).toBe(fieldOfSuffix(key, 'user:'));
        expect(got).toBe(fnv1a32(key) % 97);
      }),
      { numRuns: 2000 },
    );
  });
});
