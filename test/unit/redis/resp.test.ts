import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FatalError } from '../../../shared/errors/index.js';
import {
  type Command,
  encodeCommands,
  type Reply,
  ReplyError,
  ReplyParser,
} from '../../../shared/redis/index.js';

/** The straightforward encoder the fast one must match byte for byte. */
function referenceEncode(cmds: readonly Command[]): Buffer {
  const parts: Buffer[] = [];
  for (const { args } of cmds) {
    parts.push(Buffer.from(`*${args.length}\r\n`));
    for (const arg of args) {
      const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

/** A reply as the server would send it, tagged with the RESP type to encode it as. */
type Wire =
  | { t: 'simple'; s: string }
  | { t: 'bulk'; s: string }
  | { t: 'int'; n: number }
  | { t: 'error'; s: string }
  | { t: 'nullBulk' }
  | { t: 'nullArray' }
  | { t: 'array'; items: Wire[] };

function encodeWire(w: Wire): Buffer {
  switch (w.t) {
    case 'simple':
      return Buffer.from(`+${w.s}\r\n`);
    case 'error':
      return Buffer.from(`-${w.s}\r\n`);
    case 'int':
      return Buffer.from(`:${w.n}\r\n`);
    case 'bulk':
      return Buffer.from(`$${Buffer.byteLength(w.s)}\r\n${w.s}\r\n`);
    case 'nullBulk':
      return Buffer.from('$-1\r\n');
    case 'nullArray':
      return Buffer.from('*-1\r\n');
    case 'array':
      return Buffer.concat([Buffer.from(`*${w.items.length}\r\n`), ...w.items.map(encodeWire)]);
  }
}

function expected(w: Wire): Reply {
  switch (w.t) {
    case 'simple':
    case 'bulk':
      return w.s;
    case 'error':
      return new ReplyError(w.s);
    case 'int':
      return w.n;
    case 'nullBulk':
    case 'nullArray':
      return null;
    case 'array':
      return w.items.map(expected);
  }
}

const line = fc
  .string({ unit: 'binary', maxLength: 30 })
  .filter((s) => !s.includes('\r') && !s.includes('\n'));

const wire: fc.Arbitrary<Wire> = fc.letrec<{ wire: Wire }>((tie) => ({
  wire: fc.oneof(
    { depthSize: 'small' },
    line.map((s): Wire => ({ t: 'simple', s })),
    fc.constant<Wire>({ t: 'simple', s: 'OK' }),
    fc.string({ unit: 'binary', maxLength: 100 }).map((s): Wire => ({ t: 'bulk', s })),
    fc
      .oneof(fc.integer(), fc.maxSafeInteger(), fc.constant(-Number.MAX_SAFE_INTEGER))
      .map((n): Wire => ({ t: 'int', n })),
    line.map((s): Wire => ({ t: 'error', s: `ERR ${s}` })),
    fc.constant<Wire>({ t: 'nullBulk' }),
    fc.constant<Wire>({ t: 'nullArray' }),
    fc.array(tie('wire'), { maxLength: 5 }).map((items): Wire => ({ t: 'array', items })),
  ),
})).wire;

/** Feeds `bytes` split at `cuts` (any positions) and collects the replies. */
function parseSplit(bytes: Buffer, cuts: readonly number[]): Reply[] {
  const replies: Reply[] = [];
  const parser = new ReplyParser((reply) => replies.push(reply));
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const point of [...points, bytes.length]) {
    parser.push(bytes.subarray(from, point));
    from = point;
  }
  expect(parser.idle).toBe(true);
  return replies;
}

describe('encodeCommands', () => {
  it('encodes a SET as RESP2 bulk strings', () => {
    const out = encodeCommands([{ key: 'user:1', args: ['SET', 'user:1', '42'] }]);
    expect(out.toString('latin1')).toBe('*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$2\r\n42\r\n');
  });

  it('counts UTF-8 bytes, not characters, and passes Buffers through', () => {
    const out = encodeCommands([
      { args: ['SET', 'clé', 'héllo 🌍'] },
      { args: ['SET', Buffer.from([0, 13, 10, 255]), Buffer.alloc(0)] },
    ]);
    const expectedBytes = Buffer.concat([
      Buffer.from(
        '*3\r\n$3\r\nSET\r\n$4\r\ncl\xc3\xa9\r\n$11\r\nh\xc3\xa9llo \xf0\x9f\x8c\x8d\r\n',
        'latin1',
      ),
      Buffer.from('*3\r\n$3\r\nSET\r\n$4\r\n\x00\r\n\xff\r\n$0\r\n\r\n', 'latin1'),
    ]);
    expect(out.equals(expectedBytes)).toBe(true);
  });

  it('handles empty input, long arguments and pipelines larger than its scratch buffer', () => {
    expect(encodeCommands([]).length).toBe(0);
    const big = 'x'.repeat(1_000_000);
    const cmds: Command[] = [{ args: ['SET', 'big', big] }];
    for (let i = 0; i < 20_000; i++) cmds.push({ args: ['SET', `key:${i}`, `é${i}`] });
    expect(encodeCommands(cmds).equals(referenceEncode(cmds))).toBe(true);
    // The scratch buffer survives a huge call: small calls after it still come out right.
    const small: Command[] = [{ args: ['GET', 'k'] }];
    expect(encodeCommands(small).equals(referenceEncode(small))).toBe(true);
  });

  it('matches the reference encoder for arbitrary strings and Buffers', () => {
    const arg = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 200 }),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    );
    const cmds = fc.array(
      fc.array(arg, { minLength: 1, maxLength: 12 }).map((args): Command => ({ args })),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(cmds, (list) => {
        expect(encodeCommands(list).equals(referenceEncode(list))).toBe(true);
      }),
    );
  });

  it('rejects arguments that are neither strings nor Buffers', () => {
    const bad = [{ args: ['SET', 'k', 42] }] as unknown as Command[];
    expect(() => encodeCommands(bad)).toThrow(TypeError);
  });
});

describe('ReplyParser', () => {
  it('parses every reply type', () => {
    const bytes = Buffer.from(
      '+OK\r\n-WRONGTYPE bad\r\n:-7\r\n$5\r\nhé\r\n\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n:1\r\n*1\r\n+x\r\n',
    );
    expect(parseSplit(bytes, [])).toStrictEqual([
      'OK',
      new ReplyError('WRONGTYPE bad'),
      -7,
      'hé\r\n',
      null,
      null,
      [],
      [1, ['x']],
    ]);
  });

  it('yields the same replies for any reply list split at any points', () => {
    fc.assert(
      fc.property(
        fc.array(wire, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (replies, cuts) => {
          const bytes = Buffer.concat(replies.map(encodeWire));
          expect(parseSplit(bytes, cuts)).toStrictEqual(replies.map(expected));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('splits inside CRLF and inside +OK byte by byte', () => {
    const bytes = Buffer.from('+OK\r\n$3\r\nabc\r\n+OK\r\n');
    const cuts = Array.from({ length: bytes.length }, (_, i) => i);
    expect(parseSplit(bytes, cuts)).toStrictEqual(['OK', 'abc', 'OK']);
  });

  it('assembles a 5 MB bulk reply fed in 1000-byte chunks', () => {
    const payload = 'abcdefghij'.repeat(500_000);
    const bytes = Buffer.from(`+OK\r\n$${payload.length}\r\n${payload}\r\n:1\r\n`);
    const replies: Reply[] = [];
    const parser = new ReplyParser((reply) => replies.push(reply));
    for (let from = 0; from < bytes.length; from += 1000) parser.push(bytes.subarray(from, from + 1000));
    expect(replies).toHaveLength(3);
    expect(replies[0]).toBe('OK');
    expect(replies[1] === payload).toBe(true);
    expect(replies[2]).toBe(1);
  });

  it('throws FatalError on bytes that are not RESP', () => {
    const parser = new ReplyParser(() => {});
    expect(() => parser.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n'))).toThrow(FatalError);
    expect(() => new ReplyParser(() => {}).push(Buffer.from(':12x\r\n'))).toThrow(/bad integer/);
    expect(() => new ReplyParser(() => {}).push(Buffer.from('$2\r\nabcd'))).toThrow(/CRLF/);
  });
});
