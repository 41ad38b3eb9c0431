import { describe, expect, it } from 'vitest';
import { outsideAllowlist } from '../../../shared/import/index.js';

const allowed = [
  { bucket: 'data', prefix: 'incoming/' },
  { bucket: 'open', prefix: '' },
];

describe('the import-start allowlist', () => {
  it('admits keys under an allowed prefix, and any key of a bucket allowed whole', () => {
    expect(outsideAllowlist(allowed, 'data', 'incoming/users.csv')).toBeUndefined();
    expect(outsideAllowlist(allowed, 'data', 'incoming/a..b/x.csv')).toBeUndefined();
    expect(outsideAllowlist(allowed, 'open', 'any/where.csv')).toBeUndefined();
  });

  it('refuses other buckets and prefixes', () => {
    expect(outsideAllowlist(allowed, 'data', 'elsewhere/x.csv')).toBe(
      's3://data/elsewhere/x.csv is outside the allowed sources',
    );
    expect(outsideAllowlist(allowed, 'other', 'incoming/x.csv')).toMatch(/outside the allowed sources$/);
  });

  it('refuses a key with a ".." segment even when the prefix matches', () => {
    for (const key of ['incoming/../secret/x.csv', 'incoming/a/../../x.csv', 'incoming/..']) {
      expect(outsideAllowlist(allowed, 'data', key)).toBe(
        `s3://data/${key} is outside the allowed sources: its key has a ".." path segment`,
      );
    }
    expect(outsideAllowlist(allowed, 'open', '../x.csv')).toMatch(/".." path segment/);
  });
});
