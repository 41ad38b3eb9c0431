import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  ConfigError,
  classifyReplyError,
  FatalError,
  InputError,
  RetryableError,
} from '../../../shared/errors/index.js';
import {
  type Command,
  openTarget,
  openTargets,
  ReplyError,
  TcpTarget,
  UpstashTarget,
  type UpstashTargetOptions,
} from '../../../shared/redis/index.js';
import { redisCli, useRedis } from '../../support/redis-server.js';
import { type BridgeFault, startUpstashBridge, type UpstashBridge } from '../../../cli/local-upstash.js';

const FAST_RETRY = { retries: 4, baseMs: 1, maxMs: 5 } as const;

/** Awaits `promise`, expecting a rejection, and returns the error. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function prefix(): string {
  return `ups:${randomUUID().slice(0, 8)}:`;
}

describe('UpstashTarget against the bridge and a real redis-server', () => {
  const redis = useRedis();
  let tcp: TcpTarget;
  const bridges: UpstashBridge[] = [];

  beforeAll(() => {
    tcp = new TcpTarget(redis.server.url);
  });
  afterAll(async () => {
    await tcp.close();
    await Promise.all(bridges.map((b) => b.stop()));
  });

  async function setup(
    options: { fault?: BridgeFault; bridgeMax?: number; target?: Partial<UpstashTargetOptions> } = {},
  ): Promise<{ bridge: UpstashBridge; target: UpstashTarget }> {
    const bridge = await startUpstashBridge({
      redisUrl: redis.server.url,
      ...(options.fault ? { fault: options.fault } : {}),
      ...(options.bridgeMax ? { maxRequestBytes: options.bridgeMax } : {}),
    });
    bridges.push(bridge);
    const target = new UpstashTarget(bridge.url, {
      token: bridge.token,
      retry: FAST_RETRY,
      ...options.target,
    });
    return { bridge, target };
  }

  async function keysUnder(p: string): Promise<number> {
    const [reply] = await tcp.exec([{ args: ['EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${p}*`] }]);
    return reply as number;
  }

  it('returns what TcpTarget returns, a WRONGTYPE in the middle staying in its slot', async () => {
    const { bridge, target } = await setup();
    const commands = (p: string): Command[] => [
      { key: `${p}s`, args: ['SET', `${p}s`, 'wört ✓', 'EX', '3600'] },
      { key: `${p}h`, args: ['HSET', `${p}h`, 'a', '1', 'b', 'zwei'] },
      { key: `${p}h`, args: ['EXPIRE', `${p}h`, '3600'] },
      { key: `${p}s`, args: ['HSET', `${p}s`, 'f', 'v'] },
      { key: `${p}s`, args: ['GET', `${p}s`] },
      { key: `${p}h`, args: ['HGETALL', `${p}h`] },
      { key: `${p}none`, args: ['GET', `${p}none`] },
      { key: `${p}h`, args: ['TTL', `${p}h`] },
      { args: ['PING'] },
    ];
    const viaRest = await target.exec(commands(prefix()));
    const viaTcp = await tcp.exec(commands(prefix()));
    expect(viaRest).toEqual(viaTcp);
    expect(viaRest).toEqual([
      'OK',
      2,
      1,
      expect.any(ReplyError),
      'wört ✓',
      ['a', '1', 'b', 'zwei'],
      null,
      3600,
      'PONG',
    ]);
    expect((viaRest[3] as ReplyError).prefix).toBe('WRONGTYPE');
    expect(classifyReplyError((viaRest[3] as ReplyError).message)).toBeInstanceOf(InputError);
    expect(target.requests).toBe(1);
    expect(bridge.stats.lastHeaders['upstash-encoding']).toBe('base64');
  });

  it('keeps binary values exact with { buffers: true } and refuses non-UTF-8 arguments in their slot', async () => {
    const { target } = await setup();
    const p = prefix();
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0d, 0x0a, 0x41]);
    await tcp.exec([{ args: ['SET', `${p}bin`, bytes] }]);
    const [asBuffer, asText] = await target.exec(
      [
        { key: `${p}bin`, args: ['GET', `${p}bin`] },
        { key: `${p}bin`, args: ['STRLEN', `${p}bin`] },
      ],
      { buffers: true },
    );
    expect(asBuffer).toEqual(bytes);
    expect(asText).toBe(7);
    const replies = await target.exec([
      { key: `${p}a`, args: ['SET', `${p}a`, Buffer.from('grüße', 'utf8')] },
      { key: `${p}b`, args: ['SET', `${p}b`, bytes] },
      { key: `${p}c`, args: ['SET', `${p}c`, '3'] },
    ]);
    expect(replies[0]).toBe('OK');
    expect(replies[1]).toBeInstanceOf(ReplyError);
    expect(replies[2]).toBe('OK');
    expect(await redisCli(redis.server.port, 'GET', `${p}a`)).toBe('grüße');
    expect(await redisCli(redis.server.port, 'EXISTS', `${p}b`)).toBe('0');
  });

  it('splits 2,500 commands by count and applies each exactly once', async () => {
    const { bridge, target } = await setup({ target: { maxCommandsPerRequest: 1000 } });
    const p = prefix();
    const cmds: Command[] = Array.from({ length: 2500 }, (_, i) => ({
      key: `${p}${i}`,
      args: ['SET', `${p}${i}`, `v${i}`],
    }));
    const replies = await target.exec(cmds);
    expect(replies).toEqual(new Array(2500).fill('OK'));
    expect(bridge.stats.ran.map((r) => r.commands)).toEqual([1000, 1000, 500]);
    expect(bridge.stats.commands).toBe(2500);
    expect(await keysUnder(p)).toBe(2500);
    const back = await target.exec([0, 999, 1000, 2499].map((i) => ({ args: ['GET', `${p}${i}`] })));
    expect(back).toEqual(['v0', 'v999', 'v1000', 'v2499']);
  });

  it('splits a pipeline larger than maxRequestBytes, every body within the limit, in order', async () => {
    const max = 64 * 1024;
    const { bridge, target } = await setup({ bridgeMax: max, target: { maxRequestBytes: max } });
    const p = prefix();
    const cmds: Command[] = Array.from({ length: 300 }, (_, i) => ({
      key: `${p}${i}`,
      args: ['SET', `${p}${i}`, `${i}:`.padEnd(1000, 'x')],
    }));
    const replies = await target.exec(cmds);
    expect(replies.every((r) => r === 'OK')).toBe(true);
    expect(bridge.stats.tooLarge).toBe(0);
    expect(bridge.stats.ran.length).toBeGreaterThanOrEqual(5);
    expect(bridge.stats.ran.every((r) => r.bytes <= max)).toBe(true);
    expect(bridge.stats.commands).toBe(300);
    expect(await keysUnder(p)).toBe(300);
    expect(await redisCli(redis.server.port, 'GET', `${p}299`)).toBe('299:'.padEnd(1000, 'x'));
  });

  it('applies any exec in order, each command once, every body within the limit (property)', async () => {
    const { bridge } = await setup({ bridgeMax: 8192 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 400 }), { minLength: 1, maxLength: 150 }),
        fc.integer({ min: 256, max: 8192 }),
        fc.integer({ min: 1, max: 60 }),
        async (values, maxRequestBytes, maxCommandsPerRequest) => {
          const target = new UpstashTarget(bridge.url, {
            token: bridge.token,
            maxRequestBytes,
            maxCommandsPerRequest,
          });
          const key = `${prefix()}list`;
          const seen = bridge.stats.ran.length;
          const replies = await target.exec(values.map((v) => ({ key, args: ['RPUSH', key, v] })));
          const fits = values.map(
            (v) => Buffer.byteLength(JSON.stringify(['RPUSH', key, v])) + 2 <= maxRequestBytes,
          );
          replies.forEach((r, i) => {
            if (fits[i]) expect(typeof r).toBe('number');
            else expect(classifyReplyError((r as ReplyError).message)).toBeInstanceOf(InputError);
          });
          const [list] = await tcp.exec([{ args: ['LRANGE', key, '0', '-1'] }]);
          expect(list).toEqual(values.filter((_, i) => fits[i]));
          const ran = bridge.stats.ran.slice(seen);
          expect(ran.every((r) => r.bytes <= maxRequestBytes && r.commands <= maxCommandsPerRequest)).toBe(
            true,
          );
          expect(ran.reduce((n, r) => n + r.commands, 0)).toBe(fits.filter(Boolean).length);
        },
      ),
      { numRuns: 25 },
    );
    expect(bridge.stats.tooLarge).toBe(0);
  });

  it('answers a command larger than any request with a record-level error in its slot', async () => {
    const { bridge, target } = await setup({ target: { maxRequestBytes: 4096 } });
    const p = prefix();
    const replies = await target.exec([
      { key: `${p}a`, args: ['SET', `${p}a`, '1'] },
      { key: `${p}big`, args: ['SET', `${p}big`, 'x'.repeat(5000)] },
      { key: `${p}c`, args: ['SET', `${p}c`, '3'] },
    ]);
    expect(replies[0]).toBe('OK');
    expect(replies[2]).toBe('OK');
    const big = replies[1] as ReplyError;
    expect(big).toBeInstanceOf(ReplyError);
    expect(classifyReplyError(big.message, { command: 'SET', index: 1 })).toBeInstanceOf(InputError);
    expect(bridge.stats.commands).toBe(2);
    expect(await redisCli(redis.server.port, 'EXISTS', `${p}big`)).toBe('0');
  });

  it('on HTTP 413 splits under the server’s lower limit and plans later requests under it', async () => {
    const { bridge, target } = await setup({ bridgeMax: 16 * 1024 });
    const p = prefix();
    const cmds = (from: number): Command[] =>
      Array.from({ length: 100 }, (_, i) => ({
        key: `${p}${from + i}`,
        args: ['SET', `${p}${from + i}`, 'y'.repeat(1000)],
      }));
    expect((await target.exec(cmds(0))).every((r) => r === 'OK')).toBe(true);
    const bounced = bridge.stats.tooLarge;
    // 100 KiB against 16 KiB: halving gets there in three bounces, not one per command.
    expect(bounced).toBe(3);
    expect((await target.exec(cmds(100))).every((r) => r === 'OK')).toBe(true);
    expect(bridge.stats.tooLarge).toBe(bounced);
    // Larger than the learnt size but within the server's limit: sent alone and applied, not refused.
    const [alone] = await target.exec([{ key: `${p}15k`, args: ['SET', `${p}15k`, 'w'.repeat(15_000)] }]);
    expect(alone).toBe('OK');
    const [single] = await target.exec([{ key: `${p}huge`, args: ['SET', `${p}huge`, 'z'.repeat(20_000)] }]);
    expect((single as ReplyError).message).toMatch(/refused it as too large \(HTTP 413\)/);
    expect(classifyReplyError((single as ReplyError).message)).toBeInstanceOf(InputError);
    expect(bridge.stats.commands).toBe(201);
    expect(await keysUnder(p)).toBe(201);
  });

  it('retries HTTP 429 and writes every key exactly once', async () => {
    const { bridge, target } = await setup({ fault: { every: 2, retryAfterSeconds: 0 } });
    const p = prefix();
    for (let batch = 0; batch < 10; batch++) {
      const cmds: Command[] = Array.from({ length: 50 }, (_, i) => ({
        key: `${p}${batch * 50 + i}`,
        args: ['HSET', `${p}b${batch}`, `f${i}`, `${batch}:${i}`],
      }));
      expect((await target.exec(cmds)).every((r) => r === 1)).toBe(true);
    }
    // Requests 2, 4, …, 18 were throttled: batches 1 to 9 each went twice.
    expect(bridge.stats.faults).toBe(9);
    expect(target.requests).toBe(19);
    expect(bridge.stats.requests).toBe(19);
    // A 429 ran nothing: each command reached Redis once.
    expect(bridge.stats.commands).toBe(500);
    expect(await redisCli(redis.server.port, 'HGET', `${p}b9`, 'f49')).toBe('9:49');
    expect(await keysUnder(p)).toBe(10);
  });

  it('retries a 5xx after the server applied the request: idempotent writes end the same', async () => {
    const { bridge, target } = await setup({ fault: { first: 2, status: 503, afterExecute: true } });
    const p = prefix();
    const cmds: Command[] = Array.from({ length: 20 }, (_, i) => ({
      key: `${p}${i}`,
      args: ['SET', `${p}${i}`, `v${i}`, 'EX', '600'],
    }));
    expect(await target.exec(cmds)).toEqual(new Array(20).fill('OK'));
    expect(bridge.stats.executed).toBe(3);
    expect(bridge.stats.commands).toBe(60);
    expect(await keysUnder(p)).toBe(20);
    expect(await redisCli(redis.server.port, 'GET', `${p}19`)).toBe('v19');
  });

  it('retries a connection cut before the answer', async () => {
    const { bridge, target } = await setup({ fault: { first: 1, status: 'reset' } });
    const p = prefix();
    expect(await target.exec([{ key: `${p}k`, args: ['SET', `${p}k`, '1'] }])).toEqual(['OK']);
    expect(bridge.stats.faults).toBe(1);
    expect(target.requests).toBe(2);
  });

  it('waits at least Retry-After before the retry', async () => {
    const { target } = await setup({ fault: { first: 1, retryAfterSeconds: 1 } });
    const started = performance.now();
    expect(await target.exec([{ args: ['PING'] }])).toEqual(['PONG']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('gives up with a RetryableError when the attempts are spent', async () => {
    const { bridge, target } = await setup({ fault: { every: 1, status: 503 } });
    const error = await rejection(target.exec([{ args: ['PING'] }]));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.name).toBe('RetryableError');
    expect(error.message).toMatch(/HTTP 503: ERR service unavailable \(5 attempts\)$/);
    expect(bridge.stats.requests).toBe(5);
    expect(bridge.stats.commands).toBe(0);
  });

  it('fails with AuthError after exactly one request, the token in neither message nor name', async () => {
    const bridge = await startUpstashBridge({ redisUrl: redis.server.url });
    bridges.push(bridge);
    const wrong = 'AXwrongToken-0123456789abcdef';
    const target = new UpstashTarget(bridge.url, { token: wrong, retry: FAST_RETRY });
    const error = await rejection(target.exec([{ args: ['SET', 'k', 'v'] }]));
    expect(error).toBeInstanceOf(AuthError);
    expect(error.name).toBe('AuthError');
    expect(error.message).toMatch(
      /refused the token \(HTTP 401: Unauthorized\): check UPSTASH_REDIS_REST_TOKEN/,
    );
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain('\n');
    expect(target.name).not.toContain(wrong);
    expect(bridge.stats.requests).toBe(1);
    expect(target.requests).toBe(1);
  });

  it('applies concurrent execs in call order', async () => {
    const { target } = await setup({ target: { maxCommandsPerRequest: 1 } });
    const p = prefix();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        target.exec([
          { key: `${p}last`, args: ['SET', `${p}last`, String(i)] },
          { key: `${p}list`, args: ['RPUSH', `${p}list`, String(i)] },
        ]),
      ),
    );
    expect(await redisCli(redis.server.port, 'GET', `${p}last`)).toBe('19');
    const list = await tcp.exec([{ args: ['LRANGE', `${p}list`, '0', '-1'] }]);
    expect(list[0]).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it('fails an exec queued behind a failed one without sending it; later ones go out', async () => {
    const { bridge, target } = await setup({ fault: { first: 1, status: 503 }, target: { retry: false } });
    const p = prefix();
    const first = target.exec([{ key: `${p}a`, args: ['SET', `${p}a`, '1'] }]);
    const second = target.exec([{ key: `${p}b`, args: ['SET', `${p}b`, '2'] }]);
    const [e1, e2] = await Promise.all([rejection(first), rejection(second)]);
    expect(e1).toBeInstanceOf(RetryableError);
    expect(e2).toBe(e1);
    expect(bridge.stats.requests).toBe(1);
    expect(await target.exec([{ key: `${p}b`, args: ['SET', `${p}b`, '2'] }])).toEqual(['OK']);
    expect(await redisCli(redis.server.port, 'EXISTS', `${p}a`)).toBe('0');
  });

  it('reads INFO and takes the server identity from it', async () => {
    const { target } = await setup();
    expect(target.identity()).toBeUndefined();
    const info = await target.info(['server', 'memory']);
    expect(Number(info.memory?.used_memory)).toBeGreaterThan(0);
    const direct = await tcp.info(['server']);
    expect(target.identity()?.runId).toBe(direct.server?.run_id);
  });

  it('is what openTarget gives for an http(s) URL with a token', async () => {
    const { bridge } = await setup();
    const target = await openTarget(bridge.url, { restToken: bridge.token, rest: { retry: false } });
    expect(target).toBeInstanceOf(UpstashTarget);
    expect(await target.exec([{ args: ['PING'] }])).toEqual(['PONG']);
    const missing = await rejection(openTarget(bridge.url));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toMatch(/set UPSTASH_REDIS_REST_TOKEN/);
    await expect(openTarget(bridge.url, { restToken: 't', cluster: true })).rejects.toThrow(ConfigError);
    // A lenient open hides unreachable servers, never a REST URL without its token.
    await expect(openTargets([redis.server.url, bridge.url], { lenient: true })).rejects.toThrow(
      /UPSTASH_REDIS_REST_TOKEN/,
    );
  });
});

describe('UpstashTarget against an endpoint that never answers', () => {
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    // Takes requests and never answers them.
    server = http.createServer(() => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('counts a request with no response in time as lost, retryably', async () => {
    const target = new UpstashTarget(url, { token: 't', requestTimeoutMs: 200, retry: false });
    const error = await rejection(target.exec([{ args: ['PING'] }]));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toMatch(/no response within 200 ms \(1 attempt\)/);
  });

  it('close() aborts the request in flight and the exec queued behind it', async () => {
    const target = new UpstashTarget(url, { token: 't', retry: false });
    const arrived = once(server, 'request');
    const inFlight = target.exec([{ args: ['PING'] }]);
    const queued = target.exec([{ args: ['PING'] }]);
    await arrived;
    await target.close();
    const [e1, e2] = await Promise.all([rejection(inFlight), rejection(queued)]);
    expect(e1).toBeInstanceOf(RetryableError);
    expect(e1.message).toMatch(/closed while a request was in flight/);
    expect(e2).toBe(e1);
    expect(target.requests).toBe(1);
  });

  it('reports a refused connection as retryable', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const target = new UpstashTarget(`http://127.0.0.1:${port}`, { token: 't', retry: FAST_RETRY });
    const error = await rejection(target.exec([{ args: ['PING'] }]));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(target.requests).toBe(5);
    expect(error).not.toBeInstanceOf(FatalError);
  });
});
