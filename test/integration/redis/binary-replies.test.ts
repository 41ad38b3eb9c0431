import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type BucketParams, bucketOf, readKey } from '../../../shared/mapping/index.js';
import { type Reply, ReplyError, TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

/**
 * `exec(cmds, { buffers: true })` returns bulk-string replies as the exact bytes Redis holds; without it they
 * stay UTF-8 strings. Values are written with Buffer arguments and checked on the server with redis-cli (SHA-1
 * in Lua), so the write path is verified independently of the read path under test.
 */

const redis = useRedis();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function target(): TcpTarget {
  const t = new TcpTarget(redis.server.url);
  targets.push(t);
  return t;
}

/** Bytes that a UTF-8 decode would mangle or a sloppy parser would misframe. */
const NASTY = Buffer.concat([
  Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f]),
  Buffer.from('\r\n$-1\r\n*2\r\n+OK\r\n'),
  Buffer.from([0x0d, 0x00, 0x0a]),
]);
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/** A large binary value, so its reply arrives in many socket chunks. */
const BIG = Buffer.from(Array.from({ length: 1_500_000 }, (_, i) => (i * 131 + (i >> 9)) & 0xff));

function sha1(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** SHA-1 of a string key's value as redis-server computes it: independent of our driver. */
function serverSha1(key: string): Promise<string> {
  return redisCli(redis.server.port, 'EVAL', `return redis.sha1hex(redis.call('GET', KEYS[1]))`, '1', key);
}

function expectBytes(reply: Reply | undefined, bytes: Buffer): void {
  expect(Buffer.isBuffer(reply)).toBe(true);
  expect((reply as Buffer).equals(bytes)).toBe(true);
}

async function setAll(t: TcpTarget, entries: readonly (readonly [string, Buffer])[]): Promise<void> {
  const replies = await t.exec(entries.map(([key, value]) => ({ key, args: ['SET', key, value] })));
  expect(replies).toEqual(entries.map(() => 'OK'));
}

describe('bulk replies as Buffers', () => {
  it('GET, HGET and MGET return arbitrary bytes exactly with { buffers: true }', async () => {
    const t = target();
    const p = randomPrefix();
    const values = [NASTY, ALL_BYTES, BIG, Buffer.alloc(0)];
    await setAll(
      t,
      values.map((v, i) => [`${p}:s${i}`, v]),
    );
    for (let i = 0; i < values.length; i++) expect(await serverSha1(`${p}:s${i}`)).toBe(sha1(values[i]!));
    const hash = `${p}:h`;
    await t.exec([{ key: hash, args: ['HSET', hash, 'nasty', NASTY, Buffer.from([0xff, 0x00]), ALL_BYTES] }]);

    const replies = await t.exec(
      [
        ...values.map((_, i) => ({ key: `${p}:s${i}`, args: ['GET', `${p}:s${i}`] })),
        { key: hash, args: ['HGET', hash, 'nasty'] },
        { key: hash, args: ['HGET', hash, Buffer.from([0xff, 0x00])] },
        { key: hash, args: ['HGET', hash, 'absent'] },
        { key: `${p}:s0`, args: ['MGET', `${p}:s0`, `${p}:missing`, `${p}:s1`, `${p}:s3`] },
      ],
      { buffers: true },
    );
    values.forEach((v, i) => expectBytes(replies[i], v));
    expectBytes(replies[4], NASTY);
    expectBytes(replies[5], ALL_BYTES);
    expect(replies[6]).toBeNull();
    expect(replies[7]).toStrictEqual([Buffer.from(NASTY), null, Buffer.from(ALL_BYTES), Buffer.alloc(0)]);
  });

  it('round-trips random bytes through SET and GET', async () => {
    const t = target();
    const p = randomPrefix();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        async (arrays) => {
          const entries = arrays.map((a) => [`${p}:r${n++}`, Buffer.from(a)] as const);
          await setAll(t, entries);
          const replies = await t.exec(
            entries.map(([key]) => ({ key, args: ['GET', key] })),
            { buffers: true },
          );
          entries.forEach(([, value], i) => expectBytes(replies[i], value));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('leaves simple strings, integers, errors and nil as they are', async () => {
    const t = target();
    const p = randomPrefix();
    await redisCli(redis.server.port, 'RPUSH', `${p}:list`, 'a');
    const replies = await t.exec(
      [
        { key: `${p}:a`, args: ['SET', `${p}:a`, NASTY] },
        { key: `${p}:n`, args: ['INCR', `${p}:n`] },
        { key: `${p}:list`, args: ['GET', `${p}:list`] },
        { key: `${p}:none`, args: ['GET', `${p}:none`] },
        { args: ['PING'] },
      ],
      { buffers: true },
    );
    expect(replies.slice(0, 2)).toEqual(['OK', 1]);
    expect(replies[2]).toBeInstanceOf(ReplyError);
    expect((replies[2] as ReplyError).prefix).toBe('WRONGTYPE');
    expect(replies.slice(3)).toEqual([null, 'PONG']);
  });

  it('keeps the string decoding without the option', async () => {
    const t = target();
    const p = randomPrefix();
    await setAll(t, [
      [`${p}:a`, NASTY],
      [`${p}:b`, Buffer.from('héllo 🌍')],
    ]);
    const replies = await t.exec([
      { key: `${p}:a`, args: ['GET', `${p}:a`] },
      { key: `${p}:b`, args: ['MGET', `${p}:b`, `${p}:none`] },
    ]);
    expect(replies).toEqual([NASTY.toString('utf8'), ['héllo 🌍', null]]);
    // The lossy decode is why the option exists: the string no longer encodes back to the stored bytes.
    expect(Buffer.from(replies[0] as string).equals(NASTY)).toBe(false);
  });
});

describe('pipelines of both modes in flight at once', () => {
  const p = randomPrefix();
  const entries = [
    [`${p}:nasty`, NASTY],
    [`${p}:all`, ALL_BYTES],
    [`${p}:big`, BIG],
    [`${p}:text`, Buffer.from('héllo')],
  ] as const;
  const gets = entries.map(([key]) => ({ key, args: ['GET', key] }));
  const mget = { key: entries[0][0], args: ['MGET', ...entries.map(([key]) => key)] };

  /** Checks one pipeline's replies against its mode (Buffer.equals: deep equality is slow on megabytes). */
  function expectDecoded(replies: Reply[], buffers: boolean): void {
    expect(replies).toHaveLength(entries.length + 1);
    const mgot = replies[entries.length];
    expect(Array.isArray(mgot) && mgot.length === entries.length).toBe(true);
    entries.forEach(([, value], i) => {
      for (const reply of [replies[i], (mgot as Reply[])[i]]) {
        if (buffers) expectBytes(reply, value);
        else expect(reply).toBe(value.toString('utf8'));
      }
    });
  }

  it('decodes each pipeline by its own option, issued back to back on a live connection', async () => {
    const t = target();
    await setAll(t, entries);
    const modes = [true, false, false, true, false, true, true, false];
    // Not awaited one by one: all eight are in flight together, replies of neighbours share socket chunks.
    const pending = modes.map((buffers) => t.exec([...gets, mget], buffers ? { buffers } : undefined));
    expect(t.stats.pending).toBe(modes.length);
    const results = await Promise.all(pending);
    results.forEach((replies, i) => expectDecoded(replies, modes[i]!));
  });

  it('decodes each pipeline by its own option when issued before the connection is up', async () => {
    await setAll(target(), entries);
    const t = target();
    const both = await Promise.all([
      t.exec([...gets, mget], { buffers: true }),
      t.exec([...gets, mget]),
      t.exec([...gets, mget], { buffers: true }),
    ]);
    expectDecoded(both[0], true);
    expectDecoded(both[1], false);
    expectDecoded(both[2], true);
  });
});

describe('readKey with { buffer: true }', () => {
  it('reads a bucket field holding raw bytes exactly; the string form and absent keys are unchanged', async () => {
    const t = target();
    const p = randomPrefix();
    const params: BucketParams = {
      scheme: 'range',
      prefix: `${p}:bkt:`,
      keyPrefix: `${p}:`,
      bucketSize: 100,
    };
    const fields = [
      [`${p}:7`, NASTY],
      [`${p}:250`, ALL_BYTES],
      [`${p}:251`, Buffer.from('plain text é')],
    ] as const;
    for (const [key, value] of fields) {
      const address = bucketOf(key, params);
      if (typeof address === 'string') throw new Error(address);
      expect(
        await t.exec([{ key: address.bucket, args: ['HSET', address.bucket, address.field, value] }]),
      ).toEqual([1]);
      const script = `return redis.sha1hex(redis.call('HGET', KEYS[1], ARGV[1]))`;
      expect(await redisCli(redis.server.port, 'EVAL', script, '1', address.bucket, address.field)).toBe(
        sha1(value),
      );
    }

    for (const [key, value] of fields) {
      const bytes: Buffer | null = await readKey(t, key, params, { buffer: true });
      expectBytes(bytes, value);
      const text: string | null = await readKey(t, key, params);
      expect(text).toBe(value.toString('utf8'));
      expect(await readKey(t, key, params, { buffer: false })).toBe(value.toString('utf8'));
    }
    expect(await readKey(t, `${p}:8`, params, { buffer: true })).toBeNull();
    expect(await readKey(t, `${p}:9999`, params, { buffer: true })).toBeNull();
    await expect(readKey(t, 'other:1', params, { buffer: true })).rejects.toThrow(/does not start with/);
  });
});
