import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { type BridgeFault, type UpstashBridge, startUpstashBridge } from '../../cli/local-upstash.js';

// `import` into an Upstash REST endpoint: the CLI against the Upstash-compatible bridge, which runs every
// command on a real redis-server; results are read from that server directly.
const redis = useRedis();
const tmp = useTempDir();
let bridges: UpstashBridge[] = [];

afterEach(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  bridges = [];
});

async function bridge(fault?: BridgeFault): Promise<UpstashBridge> {
  const b = await startUpstashBridge({ redisUrl: redis.server.url, ...(fault ? { fault } : {}) });
  bridges.push(b);
  return b;
}

const ROWS = 20_000;

async function csv(p: string): Promise<string> {
  const lines = Array.from({ length: ROWS }, (_, i) => `${i},${(i * 7) % 1000},n${i}`);
  return tmp.write(`${p}.csv`, `id,score,name\n${lines.join('\n')}\n`);
}

/** Every field and value of the hashes whose keys match `pattern`, except the dataset's `meta`. */
async function bucketFields(pattern: string): Promise<Map<string, string>> {
  const flat = await redisCli(
    redis.server.port,
    'EVAL',
    `local out = {}
     for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
       if string.sub(k, -4) ~= 'meta' and redis.call('TYPE', k).ok == 'hash' then
         local kv = redis.call('HGETALL', k)
         for i = 1, #kv do out[#out + 1] = kv[i] end
       end
     end
     return out`,
    '0',
    pattern,
  );
  const parts = flat === '' ? [] : flat.split('\n');
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) map.set(parts[i]!, parts[i + 1]!);
  return map;
}

async function importVia(b: UpstashBridge, file: string, args: string[], token = b.token) {
  return runCli(['import', file, '--redis', b.url, '--json', ...args], { UPSTASH_REDIS_REST_TOKEN: token });
}

describe('import into Upstash REST (the bridge, a real redis-server behind it)', () => {
  it('loads every model, each key read back equal to the source', async () => {
    const b = await bridge();
    for (const model of ['string', 'hash', 'bucketed'] as const) {
      const p = randomPrefix();
      const file = await csv(p);
      const modelArgs =
        model === 'string'
          ? ['--value', 'score', '--ttl', '3600']
          : model === 'hash'
            ? ['--model', 'hash']
            : ['--model', 'bucketed', '--value', 'score'];
      const result = await importVia(b, file, ['--key', `${p}:{id}`, ...modelArgs]);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        status: 'completed',
        counts: { read: ROWS, written: ROWS, rejected: 0 },
      });
      if (model === 'string') {
        const values = await redisCli(redis.server.port, 'MGET', `${p}:0`, `${p}:1`, `${p}:${ROWS - 1}`);
        expect(values.split('\n')).toEqual(['0', '7', String(((ROWS - 1) * 7) % 1000)]);
        expect(Number(await redisCli(redis.server.port, 'TTL', `${p}:5`))).toBeGreaterThan(3000);
      } else if (model === 'hash') {
        expect(await redisCli(redis.server.port, 'HGET', `${p}:123`, 'name')).toBe('n123');
        expect(await redisCli(redis.server.port, 'HGET', `${p}:123`, 'score')).toBe(String((123 * 7) % 1000));
      } else {
        const fields = await bucketFields(`${p}*`);
        expect(fields.size).toBe(ROWS);
        for (let i = 0; i < ROWS; i += 997) expect(fields.get(String(i))).toBe(String((i * 7) % 1000));
      }
    }
    expect(b.stats.requests).toBeGreaterThan(3);
  });

  it('groups any bucketed load by default (billed per command): every field read back, one HSET per bucket', async () => {
    const b = await bridge();
    const p = randomPrefix();
    const file = await csv(p);
    const result = await importVia(b, file, [
      '--key',
      `${p}:{id}`,
      '--model',
      'bucketed',
      '--value',
      'score',
      '--temp-dir',
      tmp.dir,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({
      counts: { read: ROWS, written: ROWS, rejected: 0 },
      writePath: { path: 'grouped', reason: expect.stringMatching(/billed per command/) },
    });
    const fields = await bucketFields(`${p}*`);
    expect(fields.size).toBe(ROWS);
    for (let i = 0; i < ROWS; i += 991) expect(fields.get(String(i))).toBe(String((i * 7) % 1000));
    // Direct writes send one HSET per bucket a reader batch touches (about 40 per 100 keys at this size);
    // grouped writes one per bucket.
    const buckets = Number(
      await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${p}*`),
    );
    // `buckets` counts the dataset's meta hash too, written outside the load's count.
    expect(summary.counts.commands).toBe(buckets - 1);
    expect(summary.commandsPer100Keys).toBeLessThan(2);
  });

  it('retries HTTP 429 without losing or doubling a record', async () => {
    const b = await bridge({ status: 429, every: 3, retryAfterSeconds: 0 });
    const p = randomPrefix();
    const file = await csv(p);
    const result = await importVia(b, file, ['--key', `${p}:{id}`, '--model', 'hash']);
    expect(result.code, result.stderr).toBe(0);
    expect(b.stats.faults).toBeGreaterThan(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ counts: { read: ROWS, written: ROWS, rejected: 0 } });
    const count = await redisCli(
      redis.server.port,
      'EVAL',
      `return #redis.call('KEYS', ARGV[1])`,
      '0',
      `${p}:*`,
    );
    expect(Number(count)).toBe(ROWS);
    expect(await redisCli(redis.server.port, 'HGET', `${p}:19999`, 'name')).toBe('n19999');
  });

  it('rejects a record too large for a request with its line, and loads the rest', async () => {
    const b = await bridge();
    const p = randomPrefix();
    const big = 'x'.repeat(8 * 1024);
    const file = await tmp.write(`${p}.csv`, `id,v\n1,small\n2,${big}\n3,also-small\n`);
    const rejects = join(tmp.dir, `${p}.rejects.jsonl`);
    const result = await importVia(b, file, [
      '--key',
      `${p}:{id}`,
      '--value',
      'v',
      '--max-request-bytes',
      '4096',
      '--rejects',
      rejects,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ counts: { read: 3, written: 2, rejected: 1 } });
    const [reject] = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(reject).toMatchObject({ line: 3 });
    expect(String(reject.reason)).toMatch(/exceeds maximum allowed size/);
    expect(await redisCli(redis.server.port, 'GET', `${p}:3`)).toBe('also-small');
  });

  it('a wrong token fails fast: one request, a one-line error, exit 3, and the token never printed', async () => {
    const b = await bridge();
    const p = randomPrefix();
    const file = await csv(p);
    const wrong = 'AXXXwrong-token-value-0123456789';
    const result = await runCli(
      ['import', file, '--redis', b.url, '--key', `${p}:{id}`, '--value', 'score'],
      {
        UPSTASH_REDIS_REST_TOKEN: wrong,
      },
    );
    expect(result.code).toBe(3);
    expect(b.stats.requests).toBe(1);
    expect(b.stats.unauthorized).toBe(1);
    const output = result.stdout + result.stderr;
    expect(output).not.toContain(wrong);
    expect(output).not.toContain(b.token);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/refused the token .*UPSTASH_REDIS_REST_TOKEN/);
  });
});
