import { describe, expect, it } from 'vitest';
import { consumerRuntime } from '../../../functions/kafka-consumer/handler.js';
import {
  consumerEnvSchema,
  loadConsumerSpec,
  parseConsumerSpec,
  parseEnv,
} from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { useTempDir } from '../../support/files.js';

const tmp = useTempDir();
const SPEC = JSON.stringify({ key: 'user:{id}', model: { type: 'hash' } });
const env = (extra: Record<string, string | undefined> = {}) => ({
  REDIS_URL: 'redis://127.0.0.1:6379',
  CONSUMER_SPEC: SPEC,
  CONSUMER_GROUP_ID: 'profiles',
  ...extra,
});

function message(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('consumerEnvSchema', () => {
  it('fills the defaults', () => {
    const parsed = parseEnv(consumerEnvSchema, env());
    expect(parsed).toMatchObject({
      CONSUMER_GROUP_ID: 'profiles',
      WATERMARK_PREFIX: 'rbl:wm:',
      TRACE_HEADER: 'traceparent',
      TIMEOUT_MARGIN_MS: 10_000,
    });
    expect(parsed.DEAD_LETTER_TOPIC).toBeUndefined();
  });

  it('names a missing group id, a bad SASL mechanism and a bad S3 location', () => {
    expect(message(() => parseEnv(consumerEnvSchema, env({ CONSUMER_GROUP_ID: undefined })))).toMatch(
      /CONSUMER_GROUP_ID/,
    );
    expect(message(() => parseEnv(consumerEnvSchema, env({ KAFKA_SASL_MECHANISM: 'gssapi' })))).toMatch(
      /KAFKA_SASL_MECHANISM/,
    );
    expect(message(() => parseEnv(consumerEnvSchema, env({ DEAD_LETTER_S3: 'bucket/prefix' })))).toMatch(
      /DEAD_LETTER_S3/,
    );
  });

  it('reads s3://bucket/prefix, brokers as a list, and the SASL mechanism in any case', () => {
    const parsed = parseEnv(
      consumerEnvSchema,
      env({
        DEAD_LETTER_S3: 's3://dlq-bucket/profiles/',
        KAFKA_BROKERS: 'b-1:9092, b-2:9092',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      }),
    );
    expect(parsed.DEAD_LETTER_S3).toEqual({ bucket: 'dlq-bucket', prefix: 'profiles/' });
    expect(parsed.KAFKA_BROKERS).toEqual(['b-1:9092', 'b-2:9092']);
    expect(parsed.KAFKA_SASL_MECHANISM).toBe('scram-sha-512');
  });

  it('never shows a password in its errors', () => {
    const text = message(() =>
      parseEnv(
        consumerEnvSchema,
        env({
          REDIS_URL: 'redis://user:hunter2-secret@',
          KAFKA_SASL_PASSWORD: 'kafka-s3cret',
          CONSUMER_GROUP_ID: undefined,
        }),
      ),
    );
    expect(text).not.toMatch(/hunter2-secret|kafka-s3cret/);
  });
});

describe('a bad CONSUMER_SPEC fails the cold start with the path and the problem', () => {
  it.each([
    [{ key: 'user:{id}', model: { type: 'set' } }, /CONSUMER_SPEC is invalid: model\.type/],
    [{ key: 'user:{id}', model: { type: 'counter' } }, /model\.by/],
    [{ key: 'user:{id}', model: { type: 'hash' }, colour: 'red' }, /colour/],
    [{ key: 'user:{id', model: { type: 'hash' } }, /key/],
    [{ key: 'user:{id}', model: { type: 'hash' }, ttl: { seconds: 0 } }, /ttl\.seconds/],
  ])('%j', async (spec, expected) => {
    await expect(consumerRuntime(env({ CONSUMER_SPEC: JSON.stringify(spec) }))).rejects.toThrow(expected);
  });

  it('names bad JSON and an unreadable file', async () => {
    await expect(consumerRuntime(env({ CONSUMER_SPEC: '{"key": ' }))).rejects.toThrow(
      /CONSUMER_SPEC is not valid JSON/,
    );
    await expect(consumerRuntime(env({ CONSUMER_SPEC: '/nonexistent/spec.json' }))).rejects.toThrow(
      /cannot read the spec file: ENOENT/,
    );
  });
});

describe('parseConsumerSpec / loadConsumerSpec', () => {
  it('fills the defaults', () => {
    const spec = parseConsumerSpec({ key: 'c:{id}', model: { type: 'counter', by: 'n' } });
    expect(spec).toMatchObject({
      format: { type: 'json' },
      ttl: false,
      watermarks: true,
      batch: { maxRecords: 500, maxBytes: 1024 * 1024 },
      retry: { retries: 3, baseMs: 100, maxMs: 2000 },
      model: { type: 'counter', by: 'n', buckets: false },
    });
  });

  it('a string value must name $ fields, and a range-scheme bucket takes no count', () => {
    expect(() =>
      parseConsumerSpec({ format: { type: 'string' }, key: 'k:{$key}', model: { type: 'counter', by: 'n' } }),
    ).toThrow(/cannot be read from a string value/);
    expect(() =>
      parseConsumerSpec({ format: { type: 'string' }, key: 'k:{$key}', model: { type: 'hash' } }),
    ).toThrow(/model\.fields/);
    expect(() =>
      parseConsumerSpec({
        key: 'k:{id}',
        model: { type: 'bucketed', value: 'v', scheme: 'range', bucketCount: 10 },
      }),
    ).toThrow(/model\.bucketCount: only the hash scheme/);
  });

  it('reads a spec from a file path as from JSON text', async () => {
    const path = await tmp.write('consumer.json', SPEC);
    const fromFile = await loadConsumerSpec(path);
    expect(fromFile).toEqual(await loadConsumerSpec(SPEC));
    await expect(loadConsumerSpec('  ')).rejects.toThrow(/CONSUMER_SPEC is required/);
  });
});
