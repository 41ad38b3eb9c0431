import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyReplyError, ConfigError, FatalError, InputError } from '../../../shared/errors/index.js';
import { isRestUrl, parseRestUrl, ReplyError, UpstashTarget } from '../../../shared/redis/index.js';
import {
  decodePipelineResponse,
  decodeResult,
  planBodies,
  planRequests,
  responseText,
  restArgs,
  retryAfterMs,
  tooLargeReply,
} from '../../../shared/redis/upstash-protocol.js';

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

describe('planRequests', () => {
  it('fills requests greedily, in order, within both limits', () => {
    expect(planRequests([10, 10, 10], { maxRequestBytes: 100, maxCommands: 2 })).toEqual({
      groups: [[0, 1], [2]],
      oversized: [],
    });
    // [ + 10 + , + 10 + ] = 24 bytes: a third command no longer fits in 30.
    expect(planRequests([10, 10, 10], { maxRequestBytes: 30, maxCommands: 10 })).toEqual({
      groups: [[0, 1], [2]],
      oversized: [],
    });
    expect(planRequests([5, 40, 5], { maxRequestBytes: 30, maxCommands: 10 })).toEqual({
      groups: [[0, 2]],
      oversized: [1],
    });
  });

  it('sends a command between the planned and the hard limit alone, in its place', () => {
    expect(planRequests([5, 40, 5, 5], { maxRequestBytes: 30, hardMaxBytes: 60, maxCommands: 10 })).toEqual({
      groups: [[0], [1], [2, 3]],
      oversized: [],
    });
  });

  it('never passes a limit, keeps order and leaves out exactly the commands too large alone', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 2, max: 400 }), { maxLength: 200 }),
        fc.integer({ min: 3, max: 1000 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 50 }),
        (sizes, maxRequestBytes, extra, maxCommands) => {
          const hardMaxBytes = maxRequestBytes + extra;
          const { groups, oversized } = planRequests(sizes, { maxRequestBytes, hardMaxBytes, maxCommands });
          for (const g of groups) {
            expect(g.length).toBeGreaterThan(0);
            expect(g.length).toBeLessThanOrEqual(maxCommands);
            const bytes = 2 + (g.length - 1) + g.reduce((n, i) => n + sizes[i]!, 0);
            if (g.length > 1) expect(bytes).toBeLessThanOrEqual(maxRequestBytes);
            else expect(bytes).toBeLessThanOrEqual(hardMaxBytes);
          }
          expect(oversized).toEqual(sizes.flatMap((s, i) => (s + 2 > hardMaxBytes ? [i] : [])));
          expect(groups.flat()).toEqual(sizes.flatMap((s, i) => (s + 2 > hardMaxBytes ? [] : [i])));
        },
      ),
    );
  });
});

describe('planBodies', () => {
  const arb = fc.array(
    fc.record({
      key: fc.string({ maxLength: 12 }),
      value: fc.string({ unit: 'grapheme', maxLength: 300 }),
      skip: fc.boolean(),
    }),
    { maxLength: 120 },
  );

  it('splits an exec into JSON bodies under the byte and count limits, every command once, in order', () => {
    fc.assert(
      fc.property(
        arb,
        fc.integer({ min: 64, max: 4000 }),
        fc.integer({ min: 1, max: 40 }),
        (rows, max, count) => {
          const args = rows.map((r) => (r.skip ? undefined : ['HSET', r.key, 'f', r.value]));
          const oversized: number[] = [];
          const requests = [
            ...planBodies(args, { maxRequestBytes: max, maxCommands: count }, (i) => oversized.push(i)),
          ];
          const sent: number[] = [];
          for (const { indexes, body, bytes } of requests) {
            expect(bytes).toBe(Buffer.byteLength(body, 'utf8'));
            expect(bytes).toBeLessThanOrEqual(max);
            expect(indexes.length).toBeLessThanOrEqual(count);
            expect(JSON.parse(body)).toEqual(indexes.map((i) => args[i]));
            sent.push(...indexes);
          }
          const tooLarge = (i: number) => Buffer.byteLength(JSON.stringify(args[i]), 'utf8') + 2 > max;
          const expected = args.flatMap((a, i) => (a === undefined || tooLarge(i) ? [] : [i]));
          expect(sent).toEqual(expected);
          expect(oversized.sort((a, b) => a - b)).toEqual(
            args.flatMap((a, i) => (a !== undefined && tooLarge(i) ? [i] : [])),
          );
        },
      ),
    );
  });

  it('plans only the positions it is given', () => {
    const args = [
      ['SET', 'a', '1'],
      ['SET', 'b', '2'],
      ['SET', 'c', '3'],
    ];
    const requests = [...planBodies(args, { maxRequestBytes: 1000, maxCommands: 10 }, () => {}, [0, 2])];
    expect(requests).toEqual([{ indexes: [0, 2], body: '[["SET","a","1"],["SET","c","3"]]', bytes: 33 }]);
  });
});

describe('restArgs', () => {
  it('passes strings, turns UTF-8 buffers into text and refuses other bytes', () => {
    const args = ['SET', 'k', 'v'];
    expect(restArgs({ args })).toBe(args);
    expect(restArgs({ args: ['SET', 'k', Buffer.from('wört ✓')] })).toEqual(['SET', 'k', 'wört ✓']);
    const refused = restArgs({ args: ['set', 'k', Buffer.from([0xff, 0xfe, 0x00])] });
    expect(refused).toBeInstanceOf(ReplyError);
    expect((refused as ReplyError).message).toMatch(/argument 3 of SET is binary/);
    // Not a record-level error: binary values need a TCP Redis, which the load says and stops for.
    expect(classifyReplyError((refused as ReplyError).message)).toBeInstanceOf(FatalError);
    expect(classifyReplyError((refused as ReplyError).message)).not.toBeInstanceOf(InputError);
  });
});

describe('tooLargeReply', () => {
  it('is classified as a record-level InputError', () => {
    const reply = tooLargeReply(20_000_000, 10_485_760);
    expect(reply.message).toMatch(/^ERR string exceeds maximum allowed size \(the command is 20000000 bytes/);
    expect(classifyReplyError(reply.message, { command: 'SET', index: 4 })).toBeInstanceOf(InputError);
  });
});

describe('decodeResult and decodePipelineResponse', () => {
  it('decodes base64 strings except a top-level OK, numbers, null and nested arrays', () => {
    expect(decodeResult('OK', true, false)).toBe('OK');
    expect(decodeResult(b64('OK'), true, false)).toBe('OK');
    expect(decodeResult(b64('héllo'), true, false)).toBe('héllo');
    expect(decodeResult(7, true, false)).toBe(7);
    expect(decodeResult(null, true, false)).toBeNull();
    expect(decodeResult([b64('f'), b64('v'), [b64('x'), 3]], true, false)).toEqual(['f', 'v', ['x', 3]]);
    expect(decodeResult('plain', false, false)).toBe('plain');
  });

  it('keeps bytes exact with buffers', () => {
    const bytes = Buffer.from([0, 0xff, 0x80, 0x41]);
    expect(decodeResult(b64(bytes), true, true)).toEqual(bytes);
    expect(decodeResult([b64(bytes)], true, true)).toEqual([bytes]);
  });

  it('puts errors in their slots and refuses a body of the wrong shape', () => {
    const replies = decodePipelineResponse(
      [
        { result: 'OK' },
        { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
        { result: null },
      ],
      3,
      true,
      false,
    );
    expect(replies[0]).toBe('OK');
    expect(replies[1]).toBeInstanceOf(ReplyError);
    expect((replies[1] as ReplyError).prefix).toBe('WRONGTYPE');
    expect(replies[2]).toBeNull();
    expect(() => decodePipelineResponse([{ result: 'OK' }], 2, true, false)).toThrow(FatalError);
    expect(() => decodePipelineResponse({ result: 'OK' }, 1, true, false)).toThrow(/not a JSON array/);
    expect(() => decodePipelineResponse([{ result: { a: 1 } }], 1, true, false)).toThrow(FatalError);
  });
});

describe('retryAfterMs and responseText', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('0')).toBe(0);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs('Wed, 01 Jan 2025 00:00:03 GMT', now)).toBe(3000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('shows Upstash’s error text on one line without the token', () => {
    expect(responseText('{"error":"Unauthorized"}', 'tok')).toBe('Unauthorized');
    expect(responseText('<html>\n bad gateway tok123 \n</html>', 'tok123')).toBe(
      '<html> bad gateway *** </html>',
    );
    expect(responseText('x'.repeat(500), 's').length).toBeLessThanOrEqual(201);
  });
});

describe('Upstash REST URLs', () => {
  it('takes https:// and http://host:port, without a trailing slash', () => {
    expect(parseRestUrl('https://eu1-cat-1.upstash.io/')).toEqual({
      base: 'https://eu1-cat-1.upstash.io',
      name: 'https://eu1-cat-1.upstash.io',
    });
    expect(parseRestUrl('http://127.0.0.1:8079')).toEqual({
      base: 'http://127.0.0.1:8079',
      name: 'http://127.0.0.1:8079',
    });
    expect(parseRestUrl('https://proxy.local/upstash/')).toMatchObject({
      base: 'https://proxy.local/upstash',
    });
    expect(isRestUrl('https://x.upstash.io')).toBe(true);
    expect(isRestUrl('HTTP://x')).toBe(true);
    expect(isRestUrl('redis://x')).toBe(false);
  });

  it('refuses a token in the URL without showing it', () => {
    for (const url of ['https://x.upstash.io/?_token=s3cret', 'https://user:s3cret@x.upstash.io']) {
      const error = (() => {
        try {
          parseRestUrl(url);
        } catch (err) {
          return err as Error;
        }
        throw new Error('expected a ConfigError');
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/UPSTASH_REDIS_REST_TOKEN/);
      expect(error.message).not.toContain('s3cret');
    }
    expect(() => parseRestUrl('ftp://x')).toThrow(ConfigError);
    expect(() => parseRestUrl('https://')).toThrow(ConfigError);
  });
});

describe('UpstashTarget options', () => {
  it('needs a token, rejects unknown options and never names the token', () => {
    expect(() => new UpstashTarget('https://x.upstash.io', { token: '' })).toThrow(
      /UPSTASH_REDIS_REST_TOKEN/,
    );
    expect(() => new UpstashTarget('https://x.upstash.io', { token: 't', maxRetries: 3 } as never)).toThrow(
      /unknown option 'maxRetries'/,
    );
    expect(() => new UpstashTarget('https://x.upstash.io', { token: 't', maxRequestBytes: 0 })).toThrow(
      ConfigError,
    );
    const target = new UpstashTarget('https://x.upstash.io/', { token: 'AXsecretToken' });
    expect(target.name).toBe('https://x.upstash.io');
    expect(target.requests).toBe(0);
    expect(target.identity()).toBeUndefined();
  });
});
