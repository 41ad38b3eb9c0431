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
    fc.constant<Wire>({ t: 'simple', s: 'QUEUED' }),
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

  it('reads +QUEUED whole or split anywhere, and other replies that start like it', () => {
    const bytes = Buffer.from('+QUEUED\r\n+QUEUE\r\n+QUEUEDX\r\n*2\r\n+QUEUED\r\n:1\r\n');
    const replies = ['QUEUED', 'QUEUE', 'QUEUEDX', ['QUEUED', 1]];
    expect(parseSplit(bytes, [])).toStrictEqual(replies);
    expect(
      parseSplit(
        bytes,
        Array.from({ length: bytes.length }, (_, i) => i),
      ),
    ).toStrictEqual(replies);
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

/** What a parser with `buffers = true` yields for `w`: bulk strings as their bytes, everything else as before. */
function expectedBuffers(w: Wire): Reply {
  if (w.t === 'bulk') return Buffer.from(w.s, 'utf8');
  if (w.t === 'array') return w.items.map(expectedBuffers);
  return expected(w);
}

/** A bulk string reply carrying exactly `bytes`. */
function bulk(bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);
}

/** Like {@link parseSplit}, with bulk strings kept as Buffers. */
function parseBytesSplit(bytes: Buffer, cuts: readonly number[]): Reply[] {
  const replies: Reply[] = [];
  const parser = new ReplyParser((reply) => replies.push(reply));
  parser.buffers = true;
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const point of [...points, bytes.length]) {
    parser.push(bytes.subarray(from, point));
    from = point;
  }
  expect(parser.idle).toBe(true);
  return replies;
}

describe('ReplyParser with buffers = true', () => {
  /** NUL, 0xff, a lone continuation byte, a truncated sequence, CRLF and a fake RESP header inside. */
  const binary = Buffer.from([0x00, 0xff, 0x80, 0xc3, 0x28, 0x0d, 0x0a, 0x24, 0x2d, 0x31, 0x0d, 0x0a, 0xe2]);

  it('keeps bulk strings as bytes, nested and nil included; other types are unchanged', () => {
    const bytes = Buffer.concat([
      Buffer.from('+OK\r\n-ERR no\r\n:5\r\n$-1\r\n*-1\r\n*0\r\n'),
      bulk(binary),
      bulk(Buffer.alloc(0)),
      Buffer.from('*3\r\n'),
      bulk(Buffer.from('héllo')),
      Buffer.from('$-1\r\n*2\r\n'),
      bulk(binary),
      Buffer.from('*1\r\n:7\r\n'),
    ]);
    const replies = parseBytesSplit(bytes, []);
    expect(replies).toStrictEqual([
      'OK',
      new ReplyError('ERR no'),
      5,
      null,
      null,
      [],
      Buffer.from(binary),
      Buffer.alloc(0),
      [Buffer.from('héllo'), null, [Buffer.from(binary), [7]]],
    ]);
    expect(Buffer.isBuffer(replies[6])).toBe(true);
  });

  it('yields the same bytes for arbitrary binary bulks and nested arrays split at any points', () => {
    const value: fc.Arbitrary<{ wire: Buffer; reply: Reply }> = fc.letrec<{
      value: { wire: Buffer; reply: Reply };
    }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.uint8Array({ maxLength: 60 }).map((b) => ({ wire: bulk(b), reply: Buffer.from(b) })),
        fc.constant({ wire: Buffer.from('$-1\r\n'), reply: null }),
        fc.integer().map((n) => ({ wire: Buffer.from(`:${n}\r\n`), reply: n })),
        fc.array(tie('value'), { maxLength: 4 }).map((items) => ({
          wire: Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map((i) => i.wire)]),
          reply: items.map((i) => i.reply),
        })),
      ),
    })).value;
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (values, cuts) => {
          const bytes = Buffer.concat(values.map((v) => v.wire));
          expect(parseBytesSplit(bytes, cuts)).toStrictEqual(values.map((v) => v.reply));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('yields the UTF-8 bytes of text replies for any reply list split at any points', () => {
    fc.assert(
      fc.property(
        fc.array(wire, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (replies, cuts) => {
          const bytes = Buffer.concat(replies.map(encodeWire));
          expect(parseBytesSplit(bytes, cuts)).toStrictEqual(replies.map(expectedBuffers));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits a binary bulk inside its header, its bytes and its CRLF, byte by byte', () => {
    const bytes = Buffer.concat([bulk(binary), Buffer.from('*2\r\n'), bulk(binary), Buffer.from('$-1\r\n')]);
    const cuts = Array.from({ length: bytes.length }, (_, i) => i);
    expect(parseBytesSplit(bytes, cuts)).toStrictEqual([Buffer.from(binary), [Buffer.from(binary), null]]);
  });

  it('assembles a 5 MB binary bulk fed in 1000-byte chunks into a copy it owns', () => {
    const payload = Buffer.alloc(5_000_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 131) & 0xff;
    const bytes = Buffer.concat([Buffer.from('*2\r\n'), bulk(payload), Buffer.from(':1\r\n'), bulk(binary)]);
    const replies: Reply[] = [];
    const parser = new ReplyParser((reply) => replies.push(reply));
    parser.buffers = true;
    for (let from = 0; from < bytes.length; from += 1000) parser.push(bytes.subarray(from, from + 1000));
    expect(parser.idle).toBe(true);
    expect(replies).toHaveLength(2);
    const [array, last] = replies as [Reply[], Buffer];
    expect(Buffer.isBuffer(array[0]) && payload.equals(array[0])).toBe(true);
    expect(array[1]).toBe(1);
    expect(last.equals(binary)).toBe(true);
    // The socket may reuse its chunks: a reply must not be a view of them.
    bytes.fill(0);
    expect(last.equals(binary)).toBe(true);
  });

  it('decodes each top-level reply by the flag set when the previous one was delivered', () => {
    // As a connection does: the flag follows the pipeline whose reply comes next, flipped from onReply.
    const modes = [true, false, true, true, false];
    const replies: Reply[] = [];
    const parser = new ReplyParser((reply) => {
      replies.push(reply);
      parser.buffers = modes[replies.length] ?? false;
    });
    parser.buffers = modes[0]!;
    const one = Buffer.concat([Buffer.from('*2\r\n'), bulk(Buffer.from('ab')), bulk(Buffer.from('é'))]);
    parser.push(Buffer.concat([one, bulk(Buffer.from('é')), one, bulk(Buffer.from('x')), one]));
    expect(replies).toStrictEqual([
      [Buffer.from('ab'), Buffer.from('é')],
      'é',
      [Buffer.from('ab'), Buffer.from('é')],
      Buffer.from('x'),
      ['ab', 'é'],
    ]);
  });
});
