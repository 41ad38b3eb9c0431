import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consumerEnvSchema, parseEnv } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  CONSUMER_SPEC: '{"key":"user:{id}","model":{"type":"hash"}}',
  CONSUMER_GROUP_ID: 'profiles',
};

const parse = (extra: Record<string, string | undefined> = {}) =>
  parseEnv(consumerEnvSchema, { ...base, ...extra });

/** The message of the ConfigError that parsing `extra` over the base environment throws. */
function parseError(extra: Record<string, string | undefined>): string {
  try {
    parse(extra);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`parsed without an error: ${JSON.stringify(extra)}`);
}

describe('kafka-consumer environment: required variables', () => {
  it('names every missing variable in one message', () => {
    const message = parseError({
      REDIS_URL: undefined,
      CONSUMER_SPEC: undefined,
      CONSUMER_GROUP_ID: undefined,
    });
    expect(message).toMatch(/^environment variable /);
    expect(message).toContain('REDIS_URL is required');
    expect(message).toContain('CONSUMER_SPEC is required (the consumer spec as JSON, or a file path)');
    expect(message).toContain("CONSUMER_GROUP_ID is required (the mapping's consumer group id)");
  });

  it('counts an empty group id or spec as missing', () => {
    expect(parseError({ CONSUMER_GROUP_ID: '' })).toBe('environment variable CONSUMER_GROUP_ID is required');
    expect(parseError({ CONSUMER_SPEC: '' })).toBe('environment variable CONSUMER_SPEC is required');
  });
});

describe('kafka-consumer environment: defaults', () => {
  it('fills the documented defaults and leaves the optional destinations unset', () => {
    const env = parse();
    expect(env).toEqual({
      REDIS_URL: ['redis://127.0.0.1:6379'],
      REDIS_CLUSTER: 'auto',
      REDIS_CONNECT_TIMEOUT_MS: 5_000,
      REDIS_COMMAND_TIMEOUT_MS: 10_000,
      CONSUMER_SPEC: base.CONSUMER_SPEC,
      CONSUMER_GROUP_ID: 'profiles',
      WATERMARK_PREFIX: 'rbl:wm:',
      KAFKA_TLS: false,
      TRACE_HEADER: 'traceparent',
      TIMEOUT_MARGIN_MS: 10_000,
    });
  });

  it('reads the empty strings serverless.yml passes for unset parameters as unset', () => {
    const env = parse({
      REDIS_USERNAME: '',
      REDIS_PASSWORD: '',
      S3_ENDPOINT: '',
      DEAD_LETTER_TOPIC: '',
      DEAD_LETTER_S3: '',
      KAFKA_BROKERS: '',
      KAFKA_SASL_MECHANISM: '',
      KAFKA_SASL_USERNAME: '',
      KAFKA_SASL_PASSWORD: '',
      KAFKA_TLS: '',
      TIMEOUT_MARGIN_MS: '',
    });
    expect(env).toEqual(parse());
  });

  it('keeps the values it is given', () => {
    expect(
      parse({ WATERMARK_PREFIX: 'wm:', TRACE_HEADER: 'x-trace-id', TIMEOUT_MARGIN_MS: '2500' }),
    ).toMatchObject({ WATERMARK_PREFIX: 'wm:', TRACE_HEADER: 'x-trace-id', TIMEOUT_MARGIN_MS: 2500 });
  });
});

describe('kafka-consumer environment: DEAD_LETTER_S3', () => {
  it('splits s3://bucket/prefix into bucket and prefix', () => {
    expect(parse({ DEAD_LETTER_S3: 's3://dlq-bucket/profiles/' }).DEAD_LETTER_S3).toEqual({
      bucket: 'dlq-bucket',
      prefix: 'profiles/',
    });
    expect(parse({ DEAD_LETTER_S3: 's3://dlq.bucket-1' }).DEAD_LETTER_S3).toEqual({
      bucket: 'dlq.bucket-1',
      prefix: '',
    });
    expect(parse({ DEAD_LETTER_S3: 's3://dlq/a/b/c/' }).DEAD_LETTER_S3).toEqual({
      bucket: 'dlq',
      prefix: 'a/b/c/',
    });
  });

  it.each([
    'bucket/prefix',
    'https://bucket/prefix/',
    's3://',
    's3:///prefix/',
    's3://ab',
    's3://Upper-Case/',
    's3://under_score/',
    's3://-leading-dash/',
  ])('refuses %j and names the variable', (location) => {
    expect(parseError({ DEAD_LETTER_S3: location })).toBe(
      'environment variable DEAD_LETTER_S3 must look like s3://bucket/prefix/',
    );
  });

  it('any valid bucket name and one-line prefix come back as they were written (property)', () => {
    const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    const prefix = fc.string({ maxLength: 40 }).filter((p) => !/[\n\r\u2028\u2029]/.test(p));
    fc.assert(
      fc.property(bucket, prefix, (b, p) => {
        expect(parse({ DEAD_LETTER_S3: `s3://${b}/${p}` }).DEAD_LETTER_S3).toEqual({ bucket: b, prefix: p });
      }),
    );
  });
});

describe('kafka-consumer environment: the dead-letter producer', () => {
  it.each([
    ['plain', 'plain'],
    ['PLAIN', 'plain'],
    ['scram-sha-256', 'scram-sha-256'],
    ['SCRAM-SHA-512', 'scram-sha-512'],
  ])('reads KAFKA_SASL_MECHANISM %j as %j', (text, mechanism) => {
    expect(parse({ KAFKA_SASL_MECHANISM: text }).KAFKA_SASL_MECHANISM).toBe(mechanism);
  });

  it.each(['gssapi', 'oauthbearer', 'scram-sha-1', 'scram'])('refuses KAFKA_SASL_MECHANISM %j', (text) => {
    expect(parseError({ KAFKA_SASL_MECHANISM: text })).toBe(
      'environment variable KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512',
    );
  });

  it('reads brokers as a trimmed list and KAFKA_TLS as a strict boolean', () => {
    expect(parse({ KAFKA_BROKERS: ' b-1:9092 ,, b-2:9092 ' }).KAFKA_BROKERS).toEqual([
      'b-1:9092',
      'b-2:9092',
    ]);
    expect(parse({ KAFKA_TLS: 'TRUE' }).KAFKA_TLS).toBe(true);
    expect(parse({ KAFKA_TLS: '0' }).KAFKA_TLS).toBe(false);
    expect(parseError({ KAFKA_TLS: 'yes' })).toBe('environment variable KAFKA_TLS must be true or false');
  });
});

describe('kafka-consumer environment: TIMEOUT_MARGIN_MS', () => {
  it('takes an integer between 0 and 15 minutes', () => {
    expect(parse({ TIMEOUT_MARGIN_MS: '0' }).TIMEOUT_MARGIN_MS).toBe(0);
    expect(parse({ TIMEOUT_MARGIN_MS: '900000' }).TIMEOUT_MARGIN_MS).toBe(900_000);
    expect(parseError({ TIMEOUT_MARGIN_MS: '900001' })).toBe(
      'environment variable TIMEOUT_MARGIN_MS must be <= 900000',
    );
    expect(parseError({ TIMEOUT_MARGIN_MS: '-1' })).toBe(
      'environment variable TIMEOUT_MARGIN_MS must be >= 0',
    );
    expect(parseError({ TIMEOUT_MARGIN_MS: '1.5' })).toBe(
      'environment variable TIMEOUT_MARGIN_MS must be an integer',
    );
    expect(parseError({ TIMEOUT_MARGIN_MS: '10s' })).toBe(
      'environment variable TIMEOUT_MARGIN_MS must be an integer',
    );
  });
});

describe('kafka-consumer environment: messages', () => {
  it('names every invalid variable at once', () => {
    const message = parseError({
      CONSUMER_GROUP_ID: '',
      DEAD_LETTER_S3: 'bucket',
      KAFKA_SASL_MECHANISM: 'gssapi',
      KAFKA_TLS: 'maybe',
      TIMEOUT_MARGIN_MS: 'soon',
      REDIS_CONNECT_TIMEOUT_MS: '5',
    });
    for (const name of [
      'CONSUMER_GROUP_ID',
      'DEAD_LETTER_S3',
      'KAFKA_SASL_MECHANISM',
      'KAFKA_TLS',
      'TIMEOUT_MARGIN_MS',
      'REDIS_CONNECT_TIMEOUT_MS',
    ]) {
      expect(message).toContain(`${name} `);
    }
  });

  it('never shows a password, whatever else is wrong', () => {
    const secrets = {
      REDIS_URL: 'redis://loader:url-s3cret@cache:6379',
      REDIS_PASSWORD: 'redis-s3cret',
      KAFKA_SASL_USERNAME: 'dlq',
      KAFKA_SASL_PASSWORD: 'kafka-s3cret',
    };
    const message = parseError({
      ...secrets,
      CONSUMER_GROUP_ID: undefined,
      DEAD_LETTER_S3: 'nope',
      KAFKA_SASL_MECHANISM: 'gssapi',
      KAFKA_TLS: 'maybe',
      TIMEOUT_MARGIN_MS: 'x',
    });
    expect(message).toContain('CONSUMER_GROUP_ID');
    expect(message).not.toMatch(/s3cret/);
  });
});
