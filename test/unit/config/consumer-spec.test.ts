import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConsumerSpec, parseConsumerSpec } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { compileTemplate } from '../../../shared/mapping/index.js';
import { useTempDir } from '../../support/files.js';

const tmp = useTempDir();

const MiB = 1024 * 1024;
/** What every spec gets when it leaves the top-level settings out. */
const TOP_DEFAULTS = {
  format: { type: 'json' },
  ttl: false,
  limits: { maxKeyBytes: 1024, maxValueBytes: MiB, maxRecordBytes: 4 * MiB },
  watermarks: true,
  batch: { maxRecords: 500, maxBytes: MiB },
  retry: { retries: 3, baseMs: 100, maxMs: 2000 },
};

/** The message of the ConfigError `parseConsumerSpec(input, 'S')` throws. */
function problem(input: unknown): string {
  try {
    parseConsumerSpec(input, 'S');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

/** A hash spec with `extra` merged in at the top level. */
const hash = (extra: Record<string, unknown> = {}) => ({
  key: 'user:{id}',
  model: { type: 'hash' },
  ...extra,
});

describe('parseConsumerSpec: each model, with its defaults', () => {
  it('string: the whole value by default', () => {
    expect(parseConsumerSpec({ key: 'user:{id}', model: { type: 'string' } })).toEqual({
      ...TOP_DEFAULTS,
      key: 'user:{id}',
      model: { type: 'string', value: '$value' },
    });
    expect(parseConsumerSpec({ key: 'u:{id}', model: { type: 'string', value: ['a', 'b'] } }).model).toEqual({
      type: 'string',
      value: ['a', 'b'],
    });
  });

  it('hash: every field, nulls skipped', () => {
    expect(parseConsumerSpec(hash())).toEqual({
      ...TOP_DEFAULTS,
      key: 'user:{id}',
      model: { type: 'hash', nulls: 'skip' },
    });
    expect(parseConsumerSpec(hash({ model: { type: 'hash', fields: ['a'], nulls: 'empty' } })).model).toEqual(
      { type: 'hash', fields: ['a'], nulls: 'empty' },
    );
  });

  it('bucketed: the whole value into hash-scheme buckets of 100', () => {
    expect(parseConsumerSpec({ key: 'user:{id}', model: { type: 'bucketed' } })).toEqual({
      ...TOP_DEFAULTS,
      key: 'user:{id}',
      model: { type: 'bucketed', value: '$value', scheme: 'hash', bucketSize: 100 },
    });
  });

  it('counter: one key per counter, or buckets with the bucketed defaults', () => {
    expect(parseConsumerSpec({ key: 'c:{id}', model: { type: 'counter', by: 'n' } })).toEqual({
      ...TOP_DEFAULTS,
      key: 'c:{id}',
      model: { type: 'counter', by: 'n', buckets: false },
    });
    expect(
      parseConsumerSpec({ key: 'c:{id}', model: { type: 'counter', by: 'n', buckets: {} } }).model,
    ).toEqual({ type: 'counter', by: 'n', buckets: { scheme: 'hash', bucketSize: 100 } });
  });

  it('fills the defaults inside ttl and op', () => {
    expect(parseConsumerSpec(hash({ ttl: { seconds: 60 }, op: { field: 'op' } }))).toMatchObject({
      ttl: { seconds: 60, jitterPercent: 0 },
      op: { field: 'op', delete: ['delete'] },
    });
  });

  it('requires a key and a model, and counter.by', () => {
    expect(problem({ model: { type: 'hash' } })).toBe('S is invalid: key: required (expected a string)');
    expect(problem({ key: 'u:{id}' })).toBe('S is invalid: model: required (expected an object)');
    expect(problem({ key: 'u:{id}', model: { type: 'counter' } })).toBe(
      'S is invalid: model.by: required (expected a string)',
    );
    expect(problem({ key: 'u:{id}', model: { type: 'counter', by: '' } })).toBe(
      'S is invalid: model.by: a field name cannot be empty',
    );
    expect(problem([])).toBe('S is invalid: (spec): expected an object, got an array');
  });

  it('names an unknown model or format type with the allowed ones', () => {
    expect(problem({ key: 'u:{id}', model: { type: 'set' } })).toBe(
      'S is invalid: model.type: expected one of "string", "hash", "bucketed", "counter", got the string "set"',
    );
    expect(problem({ key: 'u:{id}', model: { type: 'Hash' } })).toMatch(
      /model\.type: .*did you mean hash\?$/,
    );
    expect(problem(hash({ format: { type: 'avro' } }))).toBe(
      'S is invalid: format.type: expected one of "json", "string", got the string "avro"',
    );
  });
});

describe('parseConsumerSpec: unknown keys are errors, with their path', () => {
  it.each([
    [hash({ watermark: false }), 'watermark: unknown key; did you mean watermarks?'],
    [
      { key: 'u:{id}', model: { type: 'counter', by: 'n', bye: 'n' } },
      'model.bye: unknown key; did you mean by?',
    ],
    [
      { key: 'u:{id}', model: { type: 'counter', by: 'n', buckets: { bucketsize: 5 } } },
      'model.buckets.bucketsize: unknown key; did you mean bucketSize?',
    ],
    [
      { key: 'u:{id}', model: { type: 'string', fields: ['a'] } },
      'model.fields: unknown key; expected one of type, value',
    ],
    [hash({ batch: { maxRecord: 5 } }), 'batch.maxRecord: unknown key; did you mean maxRecords?'],
    [hash({ op: { field: 'op', deletes: ['x'] } }), 'op.deletes: unknown key; did you mean delete?'],
    [
      hash({ ttl: { seconds: 5, jitter: 5 } }),
      'ttl.jitter: unknown key; expected one of seconds, jitterPercent',
    ],
    [
      hash({ limits: { maxKeySize: 5 } }),
      'limits.maxKeySize: unknown key; expected one of maxKeyBytes, maxValueBytes, maxRecordBytes',
    ],
    [hash({ retry: { backoff: 5 } }), 'retry.backoff: unknown key; expected one of retries, baseMs, maxMs'],
    [hash({ format: { type: 'json', schema: 'x' } }), 'format.schema: unknown key; expected one of type'],
  ])('%j', (input, expected) => {
    expect(problem(input)).toBe(`S is invalid: ${expected}`);
  });

  it('lists every problem at once', () => {
    expect(problem({ key: 'u', model: { type: 'counter' }, colour: 'red' })).toBe(
      'S is invalid: key: key template needs at least one {field} placeholder, e.g. "user:{id}"; ' +
        'model.by: required (expected a string); ' +
        'colour: unknown key; expected one of format, key, model, ttl, op, limits, watermarks, batch, retry',
    );
  });
});

describe('parseConsumerSpec: key templates', () => {
  it.each([
    'user:{id}',
    'order:{shop}:{id}',
    'flag:{$key}',
    'raw:{$value}',
    'pos:{$topic}:{$partition}:{$offset}',
    'at:{$timestamp}:{id}',
    '{{literal}}:{id}',
  ])('accepts %j', (key) => {
    expect(parseConsumerSpec(hash({ key })).key).toBe(key);
  });

  it.each([
    ['', /key: key template cannot be empty/],
    ['user', /key: key template needs at least one \{field\} placeholder/],
    ['user:{}', /key: key template has an empty \{\} placeholder/],
    ['user:{ }', /key: key template has an empty \{\} placeholder/],
    ['user:{id', /key: key template has an unclosed "\{" at position 5/],
    [
      'user:{id}}',
      /key: key template has an unmatched "\}" at position 9 \(write "\}\}" for a literal brace\)/,
    ],
    ['user:}{id}', /key: key template has an unmatched "\}" at position 5/],
    ['{{id}}', /key: key template needs at least one \{field\} placeholder/],
  ])('refuses %j with the path', (key, expected) => {
    expect(problem(hash({ key }))).toMatch(expected);
  });

  it('accepts exactly the templates the mapper can compile (property)', () => {
    const template = fc.string({ unit: fc.constantFrom('{', '}', 'a', 'b', ' ', ':', '$'), maxLength: 12 });
    fc.assert(
      fc.property(template, (key) => {
        let compiles = true;
        try {
          compileTemplate(key);
        } catch {
          compiles = false;
        }
        expect(consumerSpecAccepts(hash({ key }))).toBe(compiles);
      }),
      { numRuns: 2000 },
    );
  });
});

function consumerSpecAccepts(input: unknown): boolean {
  try {
    parseConsumerSpec(input);
    return true;
  } catch (err) {
    if (err instanceof ConfigError) return false;
    throw err;
  }
}

describe('parseConsumerSpec: a string value', () => {
  it('can only feed $ fields to the model', () => {
    const string = { format: { type: 'string' }, key: 'k:{$key}' };
    expect(parseConsumerSpec({ ...string, model: { type: 'string' } }).model).toEqual({
      type: 'string',
      value: '$value',
    });
    expect(parseConsumerSpec({ ...string, model: { type: 'counter', by: '$value' } }).model).toMatchObject({
      by: '$value',
    });
    expect(problem({ ...string, model: { type: 'counter', by: 'n' } })).toBe(
      "S is invalid: model: field 'n' cannot be read from a string value (format.type is 'string'); " +
        "use $value, $key, $topic, $partition, $offset or $timestamp, or format.type 'json'",
    );
    expect(problem({ ...string, model: { type: 'string', value: ['$key', 'x'] } })).toMatch(/field 'x'/);
    expect(problem({ ...string, model: { type: 'hash' } })).toBe(
      'S is invalid: model.fields: a string value has no fields of its own; name them (e.g. ["$value"])',
    );
  });
});

describe('parseConsumerSpec: bucket layouts', () => {
  const bucketed = (layout: Record<string, unknown>) => ({
    key: 'u:{id}',
    model: { type: 'bucketed', ...layout },
  });
  const counter = (buckets: unknown) => ({ key: 'u:{id}', model: { type: 'counter', by: 'n', buckets } });

  it('takes a scheme, a size, a count (hash scheme) and a prefix', () => {
    expect(
      parseConsumerSpec(bucketed({ scheme: 'hash', bucketSize: 1, bucketCount: 2 ** 31, prefix: 'b:' }))
        .model,
    ).toEqual({
      type: 'bucketed',
      value: '$value',
      scheme: 'hash',
      bucketSize: 1,
      bucketCount: 2 ** 31,
      prefix: 'b:',
    });
    expect(parseConsumerSpec(counter({ scheme: 'range', bucketSize: 100_000 })).model).toEqual({
      type: 'counter',
      by: 'n',
      buckets: { scheme: 'range', bucketSize: 100_000 },
    });
  });

  it.each([
    [bucketed({ bucketSize: 0 }), 'model.bucketSize: expected a number >= 1, got the number 0'],
    [
      bucketed({ bucketSize: 100_001 }),
      'model.bucketSize: expected a number <= 100000, got the number 100001',
    ],
    [bucketed({ bucketCount: 0 }), 'model.bucketCount: expected a number >= 1, got the number 0'],
    [bucketed({ bucketCount: 1.5 }), 'model.bucketCount: expected an integer, got the number 1.5'],
    [bucketed({ prefix: '' }), 'model.prefix: expected at least 1 characters'],
    [
      bucketed({ scheme: 'range', bucketCount: 10 }),
      'model.bucketCount: only the hash scheme takes a bucket count',
    ],
    [counter(true), 'model.buckets: expected false or an object, got true'],
    [
      counter({ scheme: 'ring' }),
      'model.buckets.scheme: expected one of "hash", "range", got the string "ring"',
    ],
    [
      counter({ scheme: 'range', bucketCount: 3 }),
      'model.buckets.bucketCount: only the hash scheme takes a bucket count',
    ],
  ])('%j', (input, expected) => {
    expect(problem(input)).toBe(`S is invalid: ${expected}`);
  });
});

describe('parseConsumerSpec: ttl and batch bounds', () => {
  it('takes a jitter from 0 to 100 percent, and whole seconds from 1', () => {
    expect(parseConsumerSpec(hash({ ttl: { seconds: 1, jitterPercent: 0 } })).ttl).toEqual({
      seconds: 1,
      jitterPercent: 0,
    });
    expect(parseConsumerSpec(hash({ ttl: { seconds: 60, jitterPercent: 100 } })).ttl).toEqual({
      seconds: 60,
      jitterPercent: 100,
    });
    expect(parseConsumerSpec(hash({ ttl: { seconds: 60, jitterPercent: 12.5 } })).ttl).toMatchObject({
      jitterPercent: 12.5,
    });
    expect(problem(hash({ ttl: { seconds: 60, jitterPercent: -1 } }))).toBe(
      'S is invalid: ttl.jitterPercent: expected a number >= 0, got the number -1',
    );
    expect(problem(hash({ ttl: { seconds: 60, jitterPercent: 100.5 } }))).toBe(
      'S is invalid: ttl.jitterPercent: expected a number <= 100, got the number 100.5',
    );
    expect(problem(hash({ ttl: { seconds: 0 } }))).toBe(
      'S is invalid: ttl.seconds: expected a number >= 1, got the number 0',
    );
    expect(problem(hash({ ttl: { seconds: 1.5 } }))).toBe(
      'S is invalid: ttl.seconds: expected an integer, got the number 1.5',
    );
    expect(problem(hash({ ttl: 60 }))).toBe(
      'S is invalid: ttl: expected false or an object, got the number 60',
    );
  });

  it('bounds batch.maxRecords to 1..100000 and batch.maxBytes to 1 KiB..64 MiB', () => {
    expect(parseConsumerSpec(hash({ batch: { maxRecords: 1, maxBytes: 1024 } })).batch).toEqual({
      maxRecords: 1,
      maxBytes: 1024,
    });
    expect(parseConsumerSpec(hash({ batch: { maxRecords: 100_000, maxBytes: 64 * MiB } })).batch).toEqual({
      maxRecords: 100_000,
      maxBytes: 64 * MiB,
    });
    expect(parseConsumerSpec(hash({ batch: { maxRecords: 10 } })).batch).toEqual({
      maxRecords: 10,
      maxBytes: MiB,
    });
    for (const [batch, expected] of [
      [{ maxRecords: 0 }, 'batch.maxRecords: expected a number >= 1, got the number 0'],
      [{ maxRecords: 100_001 }, 'batch.maxRecords: expected a number <= 100000, got the number 100001'],
      [{ maxRecords: 1.5 }, 'batch.maxRecords: expected an integer, got the number 1.5'],
      [{ maxRecords: '500' }, 'batch.maxRecords: expected a number, got the string "500"'],
      [{ maxBytes: 1023 }, 'batch.maxBytes: expected a number >= 1024, got the number 1023'],
      [{ maxBytes: 64 * MiB + 1 }, 'batch.maxBytes: expected a number <= 67108864, got the number 67108865'],
    ] as const) {
      expect(problem(hash({ batch }))).toBe(`S is invalid: ${expected}`);
    }
  });

  it('needs at least one delete value for op, and a boolean for watermarks', () => {
    expect(problem(hash({ op: { field: 'op', delete: [] } }))).toBe(
      'S is invalid: op.delete: expected at least 1 items',
    );
    expect(problem(hash({ watermarks: 'yes' }))).toBe(
      'S is invalid: watermarks: expected true or false, got the string "yes"',
    );
    expect(parseConsumerSpec(hash({ watermarks: false })).watermarks).toBe(false);
  });
});

describe('loadConsumerSpec', () => {
  const SPEC = JSON.stringify({ key: 'user:{id}', model: { type: 'counter', by: 'n' } });

  it('reads JSON text, with whitespace around it', async () => {
    expect(await loadConsumerSpec(`\n  ${SPEC}  \n`)).toEqual(parseConsumerSpec(JSON.parse(SPEC)));
  });

  it('reads the path of a JSON file the same as its text', async () => {
    const path = await tmp.write('consumer.json', SPEC);
    expect(await loadConsumerSpec(path)).toEqual(await loadConsumerSpec(SPEC));
    expect(await loadConsumerSpec(` ${path} `)).toEqual(await loadConsumerSpec(SPEC));
  });

  it('names the file in its errors', async () => {
    const invalid = await tmp.write(
      'invalid.json',
      JSON.stringify({ key: 'user:{id}', model: { type: 'set' } }),
    );
    await expect(loadConsumerSpec(invalid)).rejects.toThrow(
      `CONSUMER_SPEC (${invalid}) is invalid: model.type: expected one of`,
    );
    const broken = await tmp.write('broken.json', '{"key": "user:{id}",');
    await expect(loadConsumerSpec(broken)).rejects.toThrow(`CONSUMER_SPEC (${broken}) is not valid JSON: `);
    const missing = join(tmp.dir, 'missing.json');
    await expect(loadConsumerSpec(missing)).rejects.toThrow(
      `CONSUMER_SPEC (${missing}): cannot read the spec file: ENOENT`,
    );
    const dir = join(tmp.dir, 'a-directory');
    await mkdir(dir);
    await expect(loadConsumerSpec(dir)).rejects.toThrow(
      `CONSUMER_SPEC (${dir}): cannot read the spec file: EISDIR`,
    );
  });

  it('says where JSON text breaks, and uses the origin it is given', async () => {
    const error = await loadConsumerSpec('{"key": "user:{id}", }', '--spec').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^--spec is not valid JSON: .*position 21/);
    await expect(
      loadConsumerSpec('{"key": "u:{id}", "model": {"type": "hash"}, "x": 1}', '--spec'),
    ).rejects.toThrow('--spec is invalid: x: unknown key');
  });

  it('requires a spec', async () => {
    for (const text of [undefined, '', '   ']) {
      await expect(loadConsumerSpec(text)).rejects.toThrow(
        'CONSUMER_SPEC is required: a consumer spec as JSON, or the path of a JSON file',
      );
    }
  });
});
