import { describe, expect, it } from 'vitest';
import { consumerRuntime } from '../../../functions/kafka-consumer/handler.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { useTempDir } from '../../support/files.js';

const tmp = useTempDir();

const SPEC = { key: 'user:{id}', model: { type: 'hash' } };
const env = (extra: Record<string, string | undefined> = {}) => ({
  REDIS_URL: 'redis://127.0.0.1:6379',
  CONSUMER_SPEC: JSON.stringify(SPEC),
  CONSUMER_GROUP_ID: 'profiles',
  ...extra,
});

/** The ConfigError a cold start with `extra` over the base environment fails with. */
async function coldStartError(extra: Record<string, string | undefined>): Promise<string> {
  const error = await consumerRuntime(env(extra)).then(
    () => new Error('the cold start succeeded'),
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

const withSpec = (spec: unknown) => coldStartError({ CONSUMER_SPEC: JSON.stringify(spec) });

describe('consumerRuntime: a good configuration', () => {
  it('builds without touching Redis for an unbucketed model (connections open on the first event)', async () => {
    const rt = await consumerRuntime(env());
    expect(rt.env).toMatchObject({ CONSUMER_GROUP_ID: 'profiles', WATERMARK_PREFIX: 'rbl:wm:' });
    expect(rt.spec).toMatchObject({
      key: 'user:{id}',
      model: { type: 'hash', nulls: 'skip' },
      watermarks: true,
    });
  });

  it('reads CONSUMER_SPEC from a file path', async () => {
    const path = await tmp.write('spec.json', JSON.stringify(SPEC));
    expect((await consumerRuntime(env({ CONSUMER_SPEC: path }))).spec).toEqual(
      (await consumerRuntime(env())).spec,
    );
  });
});

describe('consumerRuntime: a bad CONSUMER_SPEC fails the cold start with the path and the problem', () => {
  it.each([
    [
      { key: 'user:{id}', model: { type: 'set' } },
      'CONSUMER_SPEC is invalid: model.type: expected one of "string", "hash", "bucketed", "counter", got the string "set"',
    ],
    [
      { key: 'user:{id}', model: { type: 'counter' } },
      'CONSUMER_SPEC is invalid: model.by: required (expected a string)',
    ],
    [
      { ...SPEC, colour: 'red' },
      'CONSUMER_SPEC is invalid: colour: unknown key; expected one of format, key, model, ttl, op, limits, watermarks, batch, retry',
    ],
    [
      { key: 'user:{id}', model: { type: 'hash', feilds: ['a'] } },
      'CONSUMER_SPEC is invalid: model.feilds: unknown key; did you mean fields?',
    ],
    [
      { ...SPEC, ttl: { seconds: 0 } },
      'CONSUMER_SPEC is invalid: ttl.seconds: expected a number >= 1, got the number 0',
    ],
    [
      { key: 'user:{id', model: { type: 'hash' } },
      'CONSUMER_SPEC is invalid: key: key template has an unclosed "{" at position 5',
    ],
    // These two passed the spec schema and then failed every event instead of the cold start.
    [
      { key: 'user:{id}}', model: { type: 'hash' } },
      'CONSUMER_SPEC is invalid: key: key template has an unmatched "}" at position 9 (write "}}" for a literal brace)',
    ],
    [
      { key: '{{id}}', model: { type: 'hash' } },
      'CONSUMER_SPEC is invalid: key: key template needs at least one {field} placeholder, e.g. "user:{id}"',
    ],
    [
      { key: 'user:{id}', model: { type: 'bucketed', scheme: 'range', bucketCount: 10 } },
      'CONSUMER_SPEC is invalid: model.bucketCount: only the hash scheme takes a bucket count',
    ],
  ])('%j', async (spec, expected) => {
    expect(await withSpec(spec)).toBe(expected);
  });

  it('names bad JSON and an unreadable file', async () => {
    expect(await coldStartError({ CONSUMER_SPEC: '{"key": ' })).toMatch(/^CONSUMER_SPEC is not valid JSON: /);
    expect(await coldStartError({ CONSUMER_SPEC: '/nonexistent/spec.json' })).toBe(
      'CONSUMER_SPEC (/nonexistent/spec.json): cannot read the spec file: ENOENT',
    );
  });

  it('checks the environment before the spec', async () => {
    expect(await coldStartError({ CONSUMER_GROUP_ID: undefined, CONSUMER_SPEC: '{' })).toBe(
      "environment variable CONSUMER_GROUP_ID is required (the mapping's consumer group id)",
    );
  });
});

describe('consumerRuntime: secrets stay out of cold-start errors', () => {
  const secrets = {
    REDIS_PASSWORD: 'redis-s3cret',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'dlq',
    KAFKA_SASL_PASSWORD: 'kafka-s3cret',
  };

  it.each([
    [
      'a malformed REDIS_URL with a password',
      { REDIS_URL: 'redis://loader:url-s3cret@' },
      /invalid Redis URL redis:\/\/loader:\*\*\*@/,
    ],
    [
      'a bad db in REDIS_URL',
      { REDIS_URL: 'redis://loader:url-s3cret@cache:6379/x' },
      /the path must be empty or \/<db>/,
    ],
    ['a wrong scheme', { REDIS_URL: 'ftp://loader:url-s3cret@cache' }, /unknown scheme 'ftp:'/],
    [
      'an Upstash REST URL with credentials in it',
      { REDIS_URL: 'https://loader:url-s3cret@cache.upstash.io' },
      /Upstash REST URL/,
    ],
    [
      'a URL without a password, filled from REDIS_PASSWORD',
      { REDIS_URL: 'redis://cache:6379?tls=1' },
      /query strings/,
    ],
    ['a bad spec', { CONSUMER_SPEC: JSON.stringify({ ...SPEC, model: { type: 'x' } }) }, /model\.type/],
    ['a bad variable', { DEAD_LETTER_S3: 'dlq' }, /DEAD_LETTER_S3/],
  ])('%s', async (_, extra, expected) => {
    const message = await coldStartError({ ...secrets, ...extra });
    expect(message).toMatch(expected);
    expect(message).not.toMatch(/s3cret/);
  });
});
