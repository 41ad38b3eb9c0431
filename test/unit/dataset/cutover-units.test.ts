import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import {
  cutoverVerdict,
  type DatasetPlan,
  datasetKeys,
  expireCommand,
  flipCommand,
  versionKey,
  versionPattern,
} from '../../../shared/dataset/index.js';
import { versionedSpec } from '../../../shared/import/index.js';
import { bucketOf } from '../../../shared/mapping/index.js';
import { keySlot } from '../../../shared/redis/index.js';

const plan: DatasetPlan = {
  name: 'users',
  version: 4,
  keep: 2,
  allowPartial: false,
  maxRejectedFraction: 0.01,
  graceSeconds: 60,
  previous: 3,
  resumed: false,
};

describe('dataset keys and commands', () => {
  it('keeps the bookkeeping outside every version namespace, each a single-key command', () => {
    expect(datasetKeys('users')).toEqual({
      next: 'users:next',
      current: 'users:current',
      versions: 'users:versions',
    });
    expect(versionKey('users', 3)).toBe('users:v3');
    expect(versionPattern('users', 3)).toBe('users:v3:*');
    const flip = flipCommand('users', 4);
    // EVAL with exactly one key: never CROSSSLOT in a cluster.
    expect(flip.args.slice(2)).toEqual(['1', 'users:current', '4']);
    expect(flip.key).toBe('users:current');
    expect(expireCommand('users:v1:user:1', 60).args).toEqual(['EXPIRE', 'users:v1:user:1', '60']);
    expect(expireCommand('users:v1:user:1', 0).args).toEqual(['UNLINK', 'users:v1:user:1']);
  });

  it('spreads a version over the cluster slots (no hash tag in the namespace)', () => {
    const slots = new Set(Array.from({ length: 200 }, (_, i) => keySlot(`users:v3:user:${i}`)));
    expect(slots.size).toBeGreaterThan(150);
  });
});

describe('versionedSpec', () => {
  const dataset = { name: 'users' };
  it('moves string and hash keys into the version', () => {
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: 'user:{id}',
      model: { type: 'string', value: 'v' },
      dataset,
    });
    const v = versionedSpec(spec, 3);
    expect(v.key).toBe('users:v3:user:{id}');
    expect(v.dataset).toBeUndefined();
  });

  it('moves the buckets (and so the meta hash) into the version, keeping the key → bucket mapping', () => {
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: 'user:{id}',
      model: { type: 'bucketed', value: 'v' },
      dataset,
    });
    const v = versionedSpec(spec, 7);
    expect(v.key).toBe('user:{id}');
    expect(v.model).toMatchObject({ prefix: 'users:v7:user:bkt:' });
    const params = {
      scheme: 'hash',
      prefix: 'users:v7:user:bkt:',
      keyPrefix: 'user:',
      bucketCount: 10,
    } as const;
    const plain = bucketOf('user:42', { ...params, prefix: 'user:bkt:' });
    expect(bucketOf('user:42', params)).toEqual(
      typeof plain === 'string' ? plain : { ...plain, bucket: `users:v7:${plain.bucket}` },
    );
  });
});

describe('cutoverVerdict', () => {
  it('flips a SUCCEEDED load only', () => {
    expect(cutoverVerdict(plan, { status: 'SUCCEEDED', read: 10, rejected: 0 })).toEqual({ flip: true });
    expect(cutoverVerdict(plan, { status: 'FAILED', read: 10, rejected: 0 })).toEqual({
      flip: false,
      why: 'import FAILED',
    });
    expect(cutoverVerdict(plan, { status: 'INTERRUPTED', read: 10, rejected: 0 }).flip).toBe(false);
    expect(cutoverVerdict(plan, { status: 'PARTIAL', read: 1000, rejected: 5 })).toEqual({
      flip: false,
      why: 'import PARTIAL (5 of 1,000 records rejected) and dataset.allowPartial is off',
    });
  });

  it('with allowPartial, flips a PARTIAL load within maxRejectedFraction', () => {
    const partial = { ...plan, allowPartial: true, maxRejectedFraction: 0.01 };
    expect(cutoverVerdict(partial, { status: 'PARTIAL', read: 1000, rejected: 10 })).toEqual({ flip: true });
    expect(cutoverVerdict(partial, { status: 'PARTIAL', read: 1000, rejected: 11 }).why).toMatch(
      /over dataset\.maxRejectedFraction 1\.00 %/,
    );
  });
});
