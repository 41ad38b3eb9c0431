import { describe, expect, it } from 'vitest';
import {
  AuthError,
  backoffDelay,
  classifyError,
  classifyReplyError,
  FatalError,
  InputError,
  RedisOutOfMemoryError,
  RetryableError,
  withRetry,
} from '../../../shared/errors/index.js';

describe('classifyReplyError', () => {
  it('maps server replies onto the error classes, with a stable name', () => {
    const cases: [string, string][] = [
      ["OOM command not allowed when used memory > 'maxmemory'.", 'RedisOutOfMemoryError'],
      ['NOAUTH Authentication required.', 'AuthError'],
      ['WRONGPASS invalid username-password pair or user is disabled.', 'AuthError'],
      ["NOPERM this user has no permissions to run the 'hset' command", 'AuthError'],
      ['LOADING Redis is loading the dataset in memory', 'RetryableError'],
      ['BUSY Redis is busy running a script.', 'RetryableError'],
      ["READONLY You can't write against a read only replica.", 'RetryableError'],
      ['TRYAGAIN Multiple keys request during rehashing of slot', 'RetryableError'],
      ['WRONGTYPE Operation against a key holding the wrong kind of value', 'InputError'],
    ];
    for (const [message, name] of cases) expect(classifyReplyError(message).name).toBe(name);
    expect(classifyReplyError('OOM x')).toBeInstanceOf(FatalError);
    expect(classifyReplyError('OOM x')).toBeInstanceOf(RedisOutOfMemoryError);
    expect(classifyReplyError('OOM x').retryable).toBe(false);
  });
});

describe('classifyError', () => {
  it('treats lost connections, throttling and 5xx as retryable; 403 as auth; the rest fatal', () => {
    expect(classifyError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBeInstanceOf(
      RetryableError,
    );
    expect(
      classifyError(Object.assign(new Error('slow'), { $metadata: { httpStatusCode: 503 } })),
    ).toBeInstanceOf(RetryableError);
    expect(classifyError(Object.assign(new Error('x'), { status: 429 }))).toBeInstanceOf(RetryableError);
    expect(
      classifyError(Object.assign(new Error('no'), { $metadata: { httpStatusCode: 403 } })),
    ).toBeInstanceOf(AuthError);
    expect(classifyError(new Error('boom'))).toBeInstanceOf(FatalError);
    const input = new InputError('bad');
    expect(classifyError(input)).toBe(input);
    expect(classifyError(new Error('x'.repeat(500))).message.length).toBeLessThan(210);
  });
});

describe('withRetry', () => {
  it('retries retryable errors up to the budget, then surfaces the last one', async () => {
    let calls = 0;
    const events: number[] = [];
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new RetryableError('flaky');
        },
        { retries: 3, baseMs: 1, maxMs: 2 },
        { onRetry: (e) => events.push(e.attempt) },
      ),
    ).rejects.toThrow('flaky');
    expect(calls).toBe(4);
    expect(events).toEqual([0, 1, 2]);
  });

  it('never retries a fatal error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new AuthError('WRONGPASS');
        },
        { retries: 5, baseMs: 1, maxMs: 1 },
      ),
    ).rejects.toBeInstanceOf(AuthError);
    expect(calls).toBe(1);
  });

  it('returns the first success', async () => {
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new RetryableError('not yet');
        return 'done';
      },
      { retries: 5, baseMs: 1, maxMs: 1 },
    );
    expect(value).toBe('done');
  });

  it('draws full-jitter delays below an exponential ceiling', () => {
    const policy = { retries: 10, baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
    expect(backoffDelay(9, policy, () => 0.999)).toBe(999);
    expect(backoffDelay(2, policy, () => 0)).toBe(0);
  });
});
