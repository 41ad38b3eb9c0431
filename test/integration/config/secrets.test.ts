import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearSecretCache, resolveSecrets, secretsVersion } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';
import { type SecretsEndpoint, startSecretsEndpoint } from '../../support/aws-secrets.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rbl/redis-AbCdEf';
const PARAMETER = 'arn:aws:ssm:eu-west-1:123456789012:parameter/rbl/upstash-token';
const KAFKA = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_rbl-XyZ123';
const MISSING = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rbl/missing-000000';

let endpoint: SecretsEndpoint;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  endpoint = await startSecretsEndpoint();
  // The SDK clients read their endpoints and credentials from the environment, as on Lambda.
  for (const [name, value] of Object.entries(endpoint.env)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await endpoint.stop();
});

describe('resolveSecrets, through the AWS SDK against a GetSecretValue/GetParameter endpoint', () => {
  it('fills the plain variables from Secrets Manager JSON and from a bare SSM SecureString', async () => {
    clearSecretCache();
    endpoint.put(SECRET, JSON.stringify({ username: 'loader', password: 's3cr3t-one' }));
    endpoint.put(PARAMETER, 'upstash-token-value');
    endpoint.put(KAFKA, JSON.stringify({ username: 'dlq', password: 'scram-pass' }));
    const env = await resolveSecrets({
      REDIS_URL: 'redis://cache:6379',
      REDIS_SECRET_ARN: SECRET,
      UPSTASH_TOKEN_SECRET_ARN: PARAMETER,
      KAFKA_SASL_SECRET_ARN: KAFKA,
    });
    expect(env).toMatchObject({
      REDIS_URL: 'redis://cache:6379',
      REDIS_USERNAME: 'loader',
      REDIS_PASSWORD: 's3cr3t-one',
      UPSTASH_REDIS_REST_TOKEN: 'upstash-token-value',
      KAFKA_SASL_USERNAME: 'dlq',
      KAFKA_SASL_PASSWORD: 'scram-pass',
    });
  });

  it('reads a secret once per TTL and picks up a rotated value after it', async () => {
    clearSecretCache();
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rbl/rotating-111111';
    endpoint.put(arn, 'first');
    let now = 1_000_000;
    const options = { now: () => now };
    const env = { REDIS_SECRET_ARN: arn, SECRETS_TTL_SECONDS: '60' };
    const before = endpoint.reads(arn);
    const v1 = await secretsVersion(env, options);
    expect((await resolveSecrets(env, options)).REDIS_PASSWORD).toBe('first');
    endpoint.put(arn, 'second');
    now += 59_000;
    expect((await resolveSecrets(env, options)).REDIS_PASSWORD).toBe('first');
    expect(await secretsVersion(env, options)).toBe(v1);
    expect(endpoint.reads(arn) - before).toBe(1);
    now += 2_000;
    expect((await resolveSecrets(env, options)).REDIS_PASSWORD).toBe('second');
    expect(await secretsVersion(env, options)).not.toBe(v1);
    expect(endpoint.reads(arn) - before).toBe(2);
    // The fingerprint is a digest, not the secret.
    expect(v1).not.toContain('first');
  });

  it('names the variable and the ARN of a secret it cannot read, never a value', async () => {
    clearSecretCache();
    const denied = 'arn:aws:ssm:eu-west-1:123456789012:parameter/rbl/denied';
    endpoint.put(denied, 'hidden-value');
    endpoint.deny(denied);
    const missing = resolveSecrets({ REDIS_SECRET_ARN: MISSING });
    await expect(missing).rejects.toBeInstanceOf(ConfigError);
    await expect(missing).rejects.toThrow(
      `cannot read REDIS_SECRET_ARN ${MISSING}: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
    );
    const refused = resolveSecrets({ UPSTASH_TOKEN_SECRET_ARN: denied });
    await expect(refused).rejects.toThrow(
      /cannot read UPSTASH_TOKEN_SECRET_ARN .*parameter\/rbl\/denied: AccessDeniedException/,
    );
    await expect(refused).rejects.not.toThrow(/hidden-value/);
  });

  it('refuses a malformed ARN, a secret without its required field, and a secret beside the plain variable', async () => {
    clearSecretCache();
    await expect(resolveSecrets({ REDIS_SECRET_ARN: 'my-redis-secret' })).rejects.toThrow(
      /REDIS_SECRET_ARN must be the ARN of a Secrets Manager secret .* or of an SSM parameter/,
    );
    const shapeless = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rbl/shapeless-222222';
    endpoint.put(shapeless, JSON.stringify({ user: 'loader', pass: 'do-not-print' }));
    const wrong = resolveSecrets({ KAFKA_SASL_SECRET_ARN: shapeless });
    await expect(wrong).rejects.toThrow(
      `KAFKA_SASL_SECRET_ARN ${shapeless} has no "password": expected JSON with "username", "password" or the password alone`,
    );
    await expect(wrong).rejects.not.toThrow(/do-not-print/);
    endpoint.put(SECRET, 'x');
    await expect(resolveSecrets({ REDIS_SECRET_ARN: SECRET, REDIS_PASSWORD: 'plain' })).rejects.toThrow(
      'environment variable REDIS_PASSWORD and REDIS_SECRET_ARN are both set',
    );
  });
});

describe('a deployed handler with REDIS_SECRET_ARN (health-probe, real redis-server with an ACL user)', () => {
  const redis = useRedis();
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rbl/probe-333333';
  const setEnv = (vars: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(vars)) {
      saved[name] ??= process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };

  it('connects with the secret, fails on a rotated server password, and recovers once the secret rotates', async () => {
    clearSecretCache();
    const port = redis.server.port;
    await redisCli(port, 'ACL', 'SETUSER', 'loader', 'on', '>first-pass', '~*', '&*', '+@all');
    endpoint.put(arn, JSON.stringify({ username: 'loader', password: 'first-pass' }));
    // TTL 0: every invocation reads the secret again (the TTL itself is tested above with a clock).
    setEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_SECRET_ARN: arn, SECRETS_TTL_SECONDS: '0' });
    const { handler } = await import('../../../functions/health-probe/handler.js');
    const probe = async () => (await handler({}, {} as Context)) as { shards: { status: string }[] };

    expect((await probe()).shards[0]!.status).not.toBe('critical');
    expect(await redisCli(port, 'CLIENT', 'LIST')).toContain('user=loader');

    // The server's password rotates first and the old connections go: the old secret no longer works.
    await redisCli(port, 'ACL', 'SETUSER', 'loader', 'resetpass', '>second-pass');
    await redisCli(port, 'CLIENT', 'KILL', 'USER', 'loader');
    const stale = await probe();
    expect(stale.shards[0]!.status).toBe('critical');
    expect(JSON.stringify(stale)).toMatch(/WRONGPASS|credentials/i);
    expect(JSON.stringify(stale)).not.toContain('first-pass');

    // Then the secret: the next invocation builds its clients again with it.
    endpoint.put(arn, JSON.stringify({ username: 'loader', password: 'second-pass' }));
    expect((await probe()).shards[0]!.status).not.toBe('critical');
  });

  it('fails the cold start naming an ARN it cannot read', async () => {
    clearSecretCache();
    setEnv({ REDIS_URL: `redis://127.0.0.1:${redis.server.port}`, REDIS_SECRET_ARN: MISSING });
    const { handler } = await import('../../../functions/health-probe/handler.js');
    await expect(handler({}, {} as Context)).rejects.toThrow(`cannot read REDIS_SECRET_ARN ${MISSING}`);
  });
});
