import { describe, expect, it } from 'vitest';
import { finishEnvSchema, parseEnv, startEnvSchema } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';

const base = {
  REDIS_URL: 'redis://a:6379',
  REPORT_BUCKET: 'reports',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:1:stateMachine:x',
  ALLOWED_SOURCES: 'data/incoming/',
};

function parseError(env: Record<string, string>): ConfigError {
  try {
    parseEnv(startEnvSchema, { ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`parsed without an error: ${JSON.stringify(env)}`);
}

describe('import-start environment: the memory pre-flight settings', () => {
  it('defaults to a limit of 0.85 and no force (unset or empty)', () => {
    expect(parseEnv(startEnvSchema, base)).toMatchObject({ MEMORY_LIMIT: 0.85, PREFLIGHT_FORCE: false });
    expect(parseEnv(startEnvSchema, { ...base, MEMORY_LIMIT: '', PREFLIGHT_FORCE: '' })).toMatchObject({
      MEMORY_LIMIT: 0.85,
      PREFLIGHT_FORCE: false,
    });
  });

  it('reads MEMORY_LIMIT as a fraction in (0, 1]', () => {
    expect(parseEnv(startEnvSchema, { ...base, MEMORY_LIMIT: '0.5' }).MEMORY_LIMIT).toBe(0.5);
    expect(parseEnv(startEnvSchema, { ...base, MEMORY_LIMIT: '1' }).MEMORY_LIMIT).toBe(1);
    expect(parseError({ MEMORY_LIMIT: '0' }).message).toMatch(/MEMORY_LIMIT must be > 0/);
    expect(parseError({ MEMORY_LIMIT: '85' }).message).toMatch(/MEMORY_LIMIT must be <= 1 .*not a percent/);
    expect(parseError({ MEMORY_LIMIT: 'most' }).message).toMatch(/MEMORY_LIMIT must be a number/);
  });

  it('reads PREFLIGHT_FORCE as a boolean, and refuses anything else rather than reading it as false', () => {
    for (const [text, value] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['false', false],
      ['0', false],
    ] as const) {
      expect(parseEnv(startEnvSchema, { ...base, PREFLIGHT_FORCE: text }).PREFLIGHT_FORCE).toBe(value);
    }
    expect(parseError({ PREFLIGHT_FORCE: 'yes please' }).message).toContain(
      'PREFLIGHT_FORCE must be true or false',
    );
  });

  it('names both variables when both are wrong', () => {
    const message = parseError({ MEMORY_LIMIT: '-1', PREFLIGHT_FORCE: 'maybe' }).message;
    expect(message).toContain('MEMORY_LIMIT');
    expect(message).toContain('PREFLIGHT_FORCE');
  });
});

describe('import-finish environment: the price of the bill', () => {
  const finish = { REDIS_URL: 'redis://a:6379', REPORT_BUCKET: 'reports' };

  it('reads PRICE_PER_100K as US dollars; unset or empty is no price', () => {
    expect(parseEnv(finishEnvSchema, { ...finish, PRICE_PER_100K: '0.3' }).PRICE_PER_100K).toBe(0.3);
    expect(parseEnv(finishEnvSchema, { ...finish, PRICE_PER_100K: '' }).PRICE_PER_100K).toBeUndefined();
    expect(parseEnv(finishEnvSchema, finish).PRICE_PER_100K).toBeUndefined();
  });

  it('names PRICE_PER_100K when it is not a price', () => {
    for (const bad of ['cheap', '-1']) {
      expect(() => parseEnv(finishEnvSchema, { ...finish, PRICE_PER_100K: bad })).toThrow(/PRICE_PER_100K/);
    }
  });
});
