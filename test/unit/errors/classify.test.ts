import { describe, expect, it } from 'vitest';
import {
  AUTH_REPLY_PREFIXES,
  AuthError,
  backoffDelay,
  classifyError,
  classifyReplyError,
  FatalError,
  INPUT_REPLY_PREFIXES,
  InputError,
  matchesReplyPrefix,
  RedisOutOfMemoryError,
  REPLY_ERROR_HINTS,
  RETRYABLE_REPLY_PREFIXES,
  RetryableError,
  SCRIPT_ERROR_HINT,
  SCRIPT_ERROR_SUFFIX,
  withRetry,
} from '../../../shared/errors/index.js';
import { DATA_REPLIES, SERVER_REPLIES } from './server-replies.js';

describe('classifyReplyError', () => {
  it.each(Object.entries(SERVER_REPLIES))('%s → its class', (_id, { reply, name }) => {
    const error = classifyReplyError(reply);
    expect(error.name).toBe(name);
    expect(error.retryable).toBe(name === 'RetryableError');
    if (name !== 'InputError' && name !== 'RetryableError') expect(error).toBeInstanceOf(FatalError);
  });

  it('rejects the record for every entry of the data allowlist, and for nothing outside it', () => {
    for (const prefix of INPUT_REPLY_PREFIXES) {
      expect(classifyReplyError(prefix)).toBeInstanceOf(InputError);
      expect(classifyReplyError(`${prefix} and more text`)).toBeInstanceOf(InputError);
      expect(classifyReplyError(`${prefix}X`)).not.toBeInstanceOf(InputError);
    }
    const data = Object.values(SERVER_REPLIES).filter((r) => r.name === 'InputError');
    expect(data.map((r) => r.reply)).toEqual(Object.values(DATA_REPLIES).map((r) => r.reply));
    for (const { reply } of data) expect(matchesReplyPrefix(reply, INPUT_REPLY_PREFIXES)).toBe(true);
  });

  it('keeps each retryable and auth prefix in its class', () => {
    for (const prefix of RETRYABLE_REPLY_PREFIXES)
      expect(classifyReplyError(`${prefix} now`)).toBeInstanceOf(RetryableError);
    for (const prefix of AUTH_REPLY_PREFIXES)
      expect(classifyReplyError(`${prefix} no`)).toBeInstanceOf(AuthError);
    expect(classifyReplyError('OOM x')).toBeInstanceOf(RedisOutOfMemoryError);
  });

  it('matches prefixes at a word boundary only', () => {
    expect(matchesReplyPrefix('BUSY Redis is busy', ['BUSY'])).toBe(true);
    expect(matchesReplyPrefix('BUSY', ['BUSY'])).toBe(true);
    expect(matchesReplyPrefix('BUSYKEY Target key name already exists.', ['BUSY'])).toBe(false);
    expect(
      matchesReplyPrefix("ERR invalid expire time in 'set' command", ['ERR invalid expire time in']),
    ).toBe(true);
    expect(matchesReplyPrefix('ERR invalid', ['ERR invalid expire time in'])).toBe(false);
  });

  it('treats a data error raised inside a script or function as fatal, with a hint', () => {
    for (const id of ['scriptWrongType', 'scriptNotInteger', 'functionWrongType', 'redis6Script'] as const) {
      const { reply } = SERVER_REPLIES[id];
      expect(SCRIPT_ERROR_SUFFIX.test(reply) || reply.startsWith('ERR Error running script')).toBe(true);
      expect(classifyReplyError(reply).message).toContain(`(hint: ${SCRIPT_ERROR_HINT})`);
    }
    // A reply that redis.pcall caught and the script returned has no suffix: it is the command's own error.
    expect(classifyReplyError(SERVER_REPLIES.wrongType.reply)).toBeInstanceOf(InputError);
  });

  it('keeps the message `redis: <reply>` without a context, as before', () => {
    expect(classifyReplyError(SERVER_REPLIES.wrongType.reply).message).toBe(
      'redis: WRONGTYPE Operation against a key holding the wrong kind of value',
    );
    expect(classifyReplyError(SERVER_REPLIES.noReplicas.reply).message).toBe(
      'redis: NOREPLICAS Not enough good replicas to write.',
    );
    expect(classifyReplyError(SERVER_REPLIES.wrongType.reply, {}).message).toBe(
      'redis: WRONGTYPE Operation against a key holding the wrong kind of value',
    );
  });

  it('names the command, its 1-based position and the shard when given them', () => {
    const shard = 'redis://127.0.0.1:6379/0';
    const error = classifyReplyError(SERVER_REPLIES.unknownCommand.reply, {
      shard,
      command: 'foo',
      index: 2,
    });
    expect(error).toBeInstanceOf(FatalError);
    expect(error.message).toBe(
      `Command 3 [ FOO ] on ${shard} failed: redis: ERR unknown command 'FOO', with args beginning with: 'bar'  ` +
        '(hint: this server does not offer the command (an older version, or renamed or disabled by its operator))',
    );
    expect(classifyReplyError('WRONGTYPE x', { shard, command: 'HSET', index: 0 }).message).toBe(
      `Command 1 [ HSET ] on ${shard} failed: redis: WRONGTYPE x`,
    );
    expect(classifyReplyError('WRONGTYPE x', { shard }).message).toBe(
      `Command on ${shard} failed: redis: WRONGTYPE x`,
    );
    expect(classifyReplyError('WRONGTYPE x', { index: 9 }).message).toBe(
      'Command 10 failed: redis: WRONGTYPE x',
    );
    expect(classifyReplyError('WRONGTYPE x', { command: ' set ' }).message).toBe(
      'Command [ SET ] failed: redis: WRONGTYPE x',
    );
  });

  it('adds a cluster hint to MOVED, ASK and CROSSSLOT', () => {
    for (const id of ['moved', 'ask', 'crossSlot'] as const) {
      const error = classifyReplyError(SERVER_REPLIES[id].reply, { shard: 'redis://10.0.0.1:6379/0' });
      expect(error).toBeInstanceOf(FatalError);
      expect(error.message).toContain('(hint: the server is a Redis Cluster node: load it in cluster mode');
    }
    expect(classifyReplyError(SERVER_REPLIES.moved.reply).message).toMatch(
      /^redis: MOVED 1234 10\.0\.0\.1:6379 \(hint: the server is a Redis Cluster node/,
    );
  });

  it('keeps max number of clients fatal, telling what to change', () => {
    const error = classifyReplyError(SERVER_REPLIES.maxClients.reply);
    expect(error.name).toBe('FatalError');
    expect(error.message).toBe(
      "redis: ERR max number of clients reached (hint: raise the server's maxclients or lower the loader's concurrency)",
    );
  });

  it('gives a hint for every fatal reply the hint table names', () => {
    for (const { prefixes, hint } of REPLY_ERROR_HINTS) {
      for (const prefix of prefixes) {
        const error = classifyReplyError(`${prefix} 1`);
        expect(error.name).toBe('FatalError');
        expect(error.message).toContain(`(hint: ${hint})`);
      }
    }
    expect(classifyReplyError(SERVER_REPLIES.syntax.reply).message).toBe('redis: ERR syntax error');
  });

  it('cuts the reply at 200 characters and never prints a password', () => {
    const long = `WRONGTYPE ${'x'.repeat(500)}`;
    const error = classifyReplyError(long, {
      shard: 'redis://loader:s3cr3t@10.0.0.5:6379/0',
      command: 'HSET',
    });
    expect(error.message).toBe(
      `Command [ HSET ] on redis://loader:***@10.0.0.5:6379/0 failed: redis: ${long.slice(0, 200)}…`,
    );
    expect(error.message).not.toContain('s3cr3t');
    const redacted = 'rediss://:***@cache.example.com:6380/2';
    expect(classifyReplyError('ERR x', { shard: redacted }).message).toContain(`on ${redacted} failed`);
    expect(classifyReplyError('ERR x', { shard: 'redis://:p@ss/w@h:1/0' }).message).toContain(
      'on redis://:***@h:1/0',
    );
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
