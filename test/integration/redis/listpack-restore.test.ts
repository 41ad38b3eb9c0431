import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { hashPayload } from '../../../shared/grouping/listpack.js';
import { crc64Hex } from '../../../shared/grouping/crc64.js';
import { ReplyError, TcpTarget } from '../../../shared/redis/index.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

/**
 * The client-built `DUMP` payload of a listpack hash (used by grouped bucket writes with `RESTORE`) against a
 * real redis-server: byte for byte what the server's own `DUMP` gives for the same hash built with `HSET`
 * (with `rdbcompression no`, so the server does not LZF the listpack), restorable, and read back field for
 * field with the listpack encoding.
 */

const redis = useRedis();
let target: TcpTarget | undefined;
afterAll(async () => {
  await target?.close();
});

const HEX_DUMP = `local d = redis.call('DUMP', KEYS[1]) local t = {} for i = 1, #d do t[i] = string.format('%02x', string.byte(d, i)) end return table.concat(t)`;

function open(): TcpTarget {
  target ??= new TcpTarget(redis.server.url);
  return target;
}

async function serverDump(key: string, pairs: readonly (readonly [string, string])[]): Promise<string> {
  const t = open();
  await t.exec([
    { key, args: ['DEL', key] },
    { key, args: ['HSET', key, ...pairs.flat()] },
  ]);
  return redisCli(redis.server.port, 'EVAL', HEX_DUMP, '1', key);
}

async function restoreAndRead(
  key: string,
  payload: Buffer,
): Promise<{ fields: Map<string, string>; encoding: string }> {
  const t = open();
  const replies = await t.exec([
    { key, args: ['RESTORE', key, '0', payload, 'REPLACE'] },
    { key, args: ['HGETALL', key] },
    { key, args: ['OBJECT', 'ENCODING', key] },
  ]);
  expect(replies[0]).toBe('OK');
  const flat = replies[1] as string[];
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  return { fields, encoding: String(replies[2]) };
}

describe('listpack hash payloads', () => {
  it('match the server DUMP byte for byte, across every entry encoding', async () => {
    await redisCli(redis.server.port, 'CONFIG', 'SET', 'rdbcompression', 'no');
    await redisCli(redis.server.port, 'CONFIG', 'SET', 'hash-max-listpack-value', '30000');
    const pairs: [string, string][] = [
      ['0', '127'],
      ['128', '-1'],
      ['4095', '-4096'],
      ['4096', '-4097'],
      ['32767', '-32768'],
      ['32768', '8388607'],
      ['-8388608', '8388608'],
      ['2147483647', '-2147483648'],
      ['2147483648', '9007199254740993'],
      ['9223372036854775807', '-9223372036854775808'],
      ['9223372036854775808', '-9223372036854775809'],
      ['007', '-0'],
      ['+5', ' 5'],
      ['5 ', '1e3'],
      ['', 'empty field'],
      ['x'.repeat(63), 'y'.repeat(64)],
      ['z'.repeat(127), 'w'.repeat(200)],
      ['ü€😀', 'v'.repeat(4095)],
      ['long', 'l'.repeat(20_000)],
    ];
    const ours = hashPayload(pairs).toString('hex');
    expect(ours).toBe(await serverDump('lp:all', pairs));
    const back = await restoreAndRead('lp:restored', hashPayload(pairs));
    expect(back.encoding).toBe('listpack');
    expect(back.fields).toEqual(new Map(pairs));
  });

  it('restore any fields and values to the same hash HSET builds (property)', async () => {
    await redisCli(redis.server.port, 'CONFIG', 'SET', 'rdbcompression', 'no');
    const text = fc.oneof(
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map(String),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
      fc.string({ maxLength: 70 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom('0', '-0', '00', '1', '-1', '127', '128', '-4096', '18446744073709551616'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(text, text), { selector: (p) => p[0], minLength: 1, maxLength: 40 }),
        async (pairs) => {
          const payload = hashPayload(pairs);
          expect(payload.toString('hex')).toBe(await serverDump('lp:prop', pairs));
          const back = await restoreAndRead('lp:prop:restored', payload);
          expect(back.fields).toEqual(new Map(pairs));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('carry the CRC-64 Redis checks: a flipped byte is refused', async () => {
    expect(crc64Hex(Buffer.from('123456789'))).toBe('e9c6d914c4b8d9ca');
    const payload = hashPayload([['a', '1']]);
    payload[3]! ^= 1;
    const replies = await open().exec([{ key: 'lp:bad', args: ['RESTORE', 'lp:bad', '0', payload] }]);
    expect(replies[0]).toBeInstanceOf(ReplyError);
    expect((replies[0] as ReplyError).message).toMatch(/DUMP payload version or checksum are wrong/);
  });
});
