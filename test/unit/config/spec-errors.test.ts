import { describe, expect, it } from 'vitest';
import { closestMatch, parseImportSpec } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';

const base = { format: { type: 'csv' }, key: 'user:{id}', model: { type: 'string', value: 'score' } };

/** The problems of a spec, as the one ConfigError message lists them (after "is invalid: "). */
function problems(input: unknown): string[] {
  try {
    parseImportSpec(input, 'spec file s.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message.startsWith('spec file s.json is invalid: ')).toBe(true);
    // Problems are joined by "; " and each starts with its path and a colon ("; did you mean" does not).
    return message.slice('spec file s.json is invalid: '.length).split(/; (?=[\w.[\]()]+: )/);
  }
  throw new Error('expected the spec to be invalid');
}

describe('spec errors name the full path, the expected type and what was given', () => {
  it('a nested value of the wrong type, inside the ttl union', () => {
    expect(problems({ ...base, ttl: { seconds: '86400' } })).toEqual([
      'ttl.seconds: expected a number, got the string "86400"',
    ]);
  });

  it('an unknown key suggests the closest allowed key of that object', () => {
    expect(problems({ ...base, model: { type: 'string', valu: 'score' } })).toEqual([
      'model.value: required (expected a string or an array)',
      'model.valu: unknown key; did you mean value?',
    ]);
    expect(problems({ ...base, format: { type: 'csv', delimeter: ';' } })).toEqual([
      'format.delimeter: unknown key; did you mean delimiter?',
    ]);
  });

  it('an unknown key far from every allowed one lists the allowed keys', () => {
    expect(problems({ ...base, batch: { parallel: 3 } })).toEqual([
      'batch.parallel: unknown key; expected one of maxCommands, maxBytes, inFlight',
    ]);
  });

  it('several unknown keys in one object are listed one by one', () => {
    expect(problems({ ...base, retry: { retires: 3, baseMS: 5 } })).toEqual([
      'retry.retires: unknown key; did you mean retries?',
      'retry.baseMS: unknown key; did you mean baseMs?',
    ]);
  });

  it('a top-level typo is found too', () => {
    expect(problems({ ...base, rejectBuget: { fraction: 0.1 } })).toEqual([
      'rejectBuget: unknown key; did you mean rejectBudget?',
    ]);
  });

  it('integers, ranges, enums and discriminators say what they expected', () => {
    expect(
      problems({
        format: { type: 'csvv' },
        key: 'u:{id}',
        model: { type: 'bucketed', value: 'v', scheme: 'rng', bucketSize: 1.5 },
        batch: { inFlight: 0 },
        limits: { maxKeyBytes: 'big' },
      }),
    ).toEqual([
      'format.type: expected one of "csv", "jsonl", got the string "csvv"; did you mean csv?',
      'model.scheme: expected one of "hash", "range", got the string "rng"',
      'model.bucketSize: expected an integer, got the number 1.5',
      'limits.maxKeyBytes: expected a number, got the string "big"',
      'batch.inFlight: expected a number >= 1, got the number 0',
    ]);
    expect(problems({ ...base, model: { type: 'strng', value: 'v' } })).toEqual([
      'model.type: expected one of "string", "hash", "bucketed", got the string "strng"; did you mean string?',
    ]);
  });

  it('a union given the wrong kind of value names every alternative', () => {
    expect(problems({ ...base, ttl: '86400', retry: true })).toEqual([
      'ttl: expected false or an object, got the string "86400"',
      'retry: expected false or an object, got true',
    ]);
  });

  it('keeps the schema’s own messages and indexes array items', () => {
    expect(
      problems({ format: { type: 'csv', columns: ['id', ''] }, key: 'user', model: base.model }),
    ).toEqual([
      'format.columns[1]: a field name cannot be empty',
      'key: key template needs at least one {field} placeholder, e.g. "user:{id}"',
    ]);
    expect(problems('not a spec')).toEqual(['(spec): expected an object, got the string "not a spec"']);
  });
});

describe('closestMatch', () => {
  it('finds the nearest candidate within a small edit distance, else nothing', () => {
    expect(closestMatch('valu', ['type', 'value'])).toBe('value');
    expect(closestMatch('Value', ['type', 'value'])).toBe('value');
    expect(closestMatch('bucketsize', ['bucketSize', 'bucketCount'])).toBe('bucketSize');
    expect(closestMatch('parallel', ['maxCommands', 'maxBytes', 'inFlight'])).toBeUndefined();
    expect(closestMatch('x', ['y'])).toBeUndefined();
  });
});
