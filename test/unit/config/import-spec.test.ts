import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';

describe('parseImportSpec', () => {
  it('fills documented defaults', () => {
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: 'user:{id}',
      model: { type: 'bucketed', value: 'v' },
    });
    expect(spec.format).toEqual({ type: 'csv', delimiter: ',', quote: '"', multiline: true });
    expect(spec.model).toEqual({ type: 'bucketed', value: 'v', scheme: 'hash', bucketSize: 100 });
    expect(spec.ttl).toBe(false);
    expect(spec.limits).toEqual({ maxKeyBytes: 1024, maxValueBytes: 1048576, maxRecordBytes: 4194304 });
    expect(spec.rejectBudget).toEqual({ fraction: 0.01, minRecords: 1000 });
    expect(spec.batch).toEqual({ maxCommands: 2000, maxBytes: 2097152, inFlight: 4 });
    expect(spec.retry).toEqual({ retries: 8, baseMs: 100, maxMs: 10000 });
  });

  it('names every problem, typos included, with its path', () => {
    let error: unknown;
    try {
      parseImportSpec(
        {
          format: { type: 'csv', delimeter: ';' },
          key: 'user',
          model: { type: 'string' },
          ttl: { seconds: 0 },
        },
        'spec file x.json',
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^spec file x\.json is invalid: /);
    expect(message).toMatch(/format\.delimeter: unknown key; did you mean delimiter\?/);
    expect(message).toMatch(/key: key template needs at least one \{field\} placeholder/);
    expect(message).toMatch(/model\.value: required \(expected a string or an array\)/);
    expect(message).toMatch(/ttl\.seconds: expected a number >= 1, got the number 0/);
  });

  it('refuses a bucket count for the range scheme', () => {
    expect(() =>
      parseImportSpec({
        format: { type: 'jsonl' },
        key: 'u:{id}',
        model: { type: 'bucketed', value: 'v', scheme: 'range', bucketCount: 5 },
      }),
    ).toThrow(/only the hash scheme/);
  });
});
