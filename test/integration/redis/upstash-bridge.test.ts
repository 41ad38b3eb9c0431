import { randomUUID } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCli, useRedis } from '../../support/redis-server.js';
import { startUpstashBridge, type UpstashBridge } from '../../../cli/local-upstash.js';

// The bridge is only worth its name if Upstash's own client works against it unchanged.
describe('Upstash bridge driven by @upstash/redis', () => {
  const redis = useRedis();
  let bridge: UpstashBridge;
  const prefix = `upb:${randomUUID().slice(0, 8)}:`;

  beforeAll(async () => {
    bridge = await startUpstashBridge({ redisUrl: redis.server.url });
  });
  afterAll(async () => {
    await bridge.stop();
  });

  function client(options: { token?: string; responseEncoding?: false } = {}): Redis {
    return new Redis({
      url: bridge.url,
      token: options.token ?? bridge.token,
      enableTelemetry: false,
      enableAutoPipelining: false,
      retry: false,
      ...(options.responseEncoding === false ? { responseEncoding: false } : {}),
    });
  }

  it('runs SET/GET and HSET/HGETALL with base64 responses (the client default)', async () => {
    const c = client();
    expect(await c.set(`${prefix}s`, 'héllo ✓ wörld')).toBe('OK');
    expect(await c.get(`${prefix}s`)).toBe('héllo ✓ wörld');
    expect(await c.hset(`${prefix}h`, { a: 'eins', b: 'zwei' })).toBe(2);
    expect(await c.hgetall(`${prefix}h`)).toEqual({ a: 'eins', b: 'zwei' });
    expect(await c.get(`${prefix}missing`)).toBeNull();
    expect(bridge.stats.lastHeaders['upstash-encoding']).toBe('base64');
    // What the client wrote is in Redis as it is, read back over TCP.
    expect(await redisCli(redis.server.port, 'GET', `${prefix}s`)).toBe('héllo ✓ wörld');
  });

  it('answers plain JSON strings without Upstash-Encoding', async () => {
    const c = client({ responseEncoding: false });
    await c.set(`${prefix}plain`, 'abc');
    expect(await c.get(`${prefix}plain`)).toBe('abc');
    expect(bridge.stats.lastHeaders['upstash-encoding']).toBeUndefined();
  });

  it('runs a pipeline with a per-command error kept in its slot', async () => {
    const c = client();
    await c.set(`${prefix}str`, 'x');
    const results = await c
      .pipeline()
      .set(`${prefix}p1`, 'one')
      .hset(`${prefix}str`, { f: 'v' })
      .get(`${prefix}p1`)
      .exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: 'OK', error: undefined });
    expect(results[1]!.error).toMatch(/^WRONGTYPE /);
    expect(results[2]).toEqual({ result: 'one', error: undefined });
    await expect(c.pipeline().hset(`${prefix}str`, { f: 'v' }).exec()).rejects.toThrow(
      /Command 1 \[ hset \] failed: WRONGTYPE/,
    );
  });

  it('runs MULTI/EXEC through /multi-exec', async () => {
    const c = client();
    const before = bridge.stats.ran.length;
    const results = await c.multi().set(`${prefix}m`, '1').incr(`${prefix}m`).get(`${prefix}m`).exec();
    // The client parses '2' as JSON, as it does against Upstash.
    expect(results).toEqual(['OK', 2, 2]);
    expect(bridge.stats.ran.slice(before)).toEqual([
      { path: '/multi-exec', bytes: expect.any(Number) as number, commands: 3 },
    ]);
  });

  it('turns a single-command error into HTTP 400 that the client throws', async () => {
    const c = client();
    await expect(c.hget(`${prefix}str`, 'f')).rejects.toThrow(/WRONGTYPE/);
  });

  it('refuses a wrong token with 401 and Upstash’s error body', async () => {
    const before = bridge.stats.unauthorized;
    await expect(client({ token: 'not-the-token' }).get(`${prefix}s`)).rejects.toThrow(/Unauthorized/);
    expect(bridge.stats.unauthorized).toBe(before + 1);
    const res = await fetch(`${bridge.url}/pipeline`, { method: 'POST', body: '[["PING"]]' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'Unauthorized' });
  });

  it('answers 413 past the request limit and 429 with Retry-After when told to', async () => {
    const small = await startUpstashBridge({
      redisUrl: redis.server.url,
      maxRequestBytes: 64,
      fault: { first: 1, retryAfterSeconds: 3 },
    });
    try {
      const post = (body: string) =>
        fetch(`${small.url}/pipeline`, {
          method: 'POST',
          headers: { authorization: `Bearer ${small.token}` },
          body,
        });
      const big = await post(JSON.stringify([['SET', `${prefix}big`, 'x'.repeat(100)]]));
      expect(big.status).toBe(413);
      const throttled = await post('[["PING"]]');
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('3');
      const ok = await post('[["PING"]]');
      expect(await ok.json()).toEqual([{ result: 'PONG' }]);
      expect(small.stats).toMatchObject({ requests: 3, tooLarge: 1, faults: 1, executed: 1, commands: 1 });
    } finally {
      await small.stop();
    }
  });
});
