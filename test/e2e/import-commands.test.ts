import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { dataCommandCalls, resetCommandStats } from '../support/commandstats.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { idValueRows } from '../support/read-back.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { putObject, s3Event, useS3 } from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';

/**
 * The commands an import reports (`counts.commands`, `commandsPer100Keys`, the bill) against what the server
 * itself counted (`INFO commandstats`, read with redis-cli after `CONFIG RESETSTAT`): the CLI and the Lambda
 * import, every model. The only data commands outside the count are the bucket parameters' `HSET` on the
 * dataset's meta hash (one per shard) and a Lambda chunk's completion marker (one `SET … EX` per chunk).
 */

const ROWS = 100_000;
const redis = useRedis();
const tmp = useTempDir();
const s3 = useS3();
const stacks = useImportStacks();

interface Summary {
  status: string;
  counts: { written: number; commands: number };
  commandsPer100Keys: number | null;
  bill?: { pricePer100k: number; usd: number };
}

interface Plan {
  commands: { model: string; commands: number; commandsPer100Keys: number }[];
}

const TTL = ['--ttl', '3600', '--ttl-jitter', '10'];

describe('import (CLI): the commands in the summary are the commands the server ran', () => {
  it.each([
    ['string', ['--value', 'v'], { set: ROWS }, 0],
    ['string with a TTL (SET … EX)', ['--value', 'v', ...TTL], { set: ROWS }, 0],
    [
      'hash with a TTL (HSET + EXPIRE)',
      ['--model', 'hash', '--fields', 'v', ...TTL],
      { hset: ROWS, expire: ROWS },
      0,
    ],
    ['bucketed, hash scheme, with a TTL', ['--model', 'bucketed', '--value', 'v', ...TTL], undefined, 1],
    [
      'bucketed, range scheme, with a TTL',
      ['--model', 'bucketed', '--bucket-scheme', 'range', '--value', 'v', ...TTL],
      undefined,
      1,
    ],
  ] as const)('%s', async (_, flags, exact, metaWrites) => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, idValueRows(ROWS));
    const port = redis.server.port;
    await resetCommandStats([port]);
    const result = await runCli([
      'import',
      file,
      '-r',
      redis.server.url,
      '-k',
      `${p}:{id}`,
      ...flags,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const server = await dataCommandCalls([port]);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary.status).toBe('completed');
    expect(summary.counts.written).toBe(ROWS);
    if (exact) expect(server.byCommand).toEqual(exact);
    // The meta hash of a bucketed dataset is the one data write outside the load's count.
    expect(summary.counts.commands).toBe(server.total - metaWrites);
    expect(summary.commandsPer100Keys).toBeCloseTo((100 * summary.counts.commands) / ROWS, 6);
    // No Upstash URL and no --price-per-100k: no bill.
    expect(summary.bill).toBeUndefined();

    // `plan` predicted it: the spec's model comes first in its command estimates.
    const plan = await runCli(['plan', file, '-r', redis.server.url, '-k', `${p}:{id}`, ...flags, '--json']);
    expect(plan.code).toBe(0);
    const [own] = (JSON.parse(plan.stdout) as Plan).commands;
    const measured = summary.commandsPer100Keys!;
    expect(Math.abs(own!.commandsPer100Keys - measured) / measured).toBeLessThan(0.05);
  });

  it('billed per command, a bucketed load is grouped: one HSET and one EXPIRE per bucket, as plan says', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, idValueRows(ROWS));
    const port = redis.server.port;
    await resetCommandStats([port]);
    const flags = ['--model', 'bucketed', '--value', 'v', ...TTL, '--price-per-100k', '0.2'];
    const result = await runCli([
      'import',
      file,
      '-r',
      redis.server.url,
      '-k',
      `${p}:{id}`,
      ...flags,
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary & { writePath: { path: string } };
    expect(summary.writePath.path).toBe('grouped');
    const server = await dataCommandCalls([port]);
    // The keys under the bucket prefix: the buckets and the dataset's meta hash.
    const keys = Number(
      await redisCli(port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${p}:bkt:*`),
    );
    const buckets = keys - 1;
    expect(server.byCommand).toEqual({ hset: buckets + 1, expire: buckets });
    expect(summary.counts.commands).toBe(server.total - 1);
    const plan = await runCli(['plan', file, '-r', redis.server.url, '-k', `${p}:{id}`, ...flags, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const [own] = (JSON.parse(plan.stdout) as Plan).commands;
    expect(own).toMatchObject({ grouped: true });
    const measured = summary.commandsPer100Keys!;
    expect(Math.abs(own!.commandsPer100Keys - measured) / measured).toBeLessThan(0.05);
  });

  it('the human summary shows the commands per 100 keys and, with --price-per-100k, the bill', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, idValueRows(ROWS));
    const args = ['import', file, '-r', redis.server.url, '-k', `${p}:{id}`, '-v', 'v', ...TTL];
    const human = await runCli([...args, '--no-progress', '--price-per-100k', '0.25']);
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/\n {2}commands +100,000 \(100\.0 per 100 keys\)\n/);
    expect(human.stderr).toMatch(/\n {2}bill +≈ \$0\.25 at \$0\.25 per 100 k commands\n/);
    const plain = await runCli([...args, '--no-progress']);
    expect(plain.stderr).toMatch(/commands +100,000 \(100\.0 per 100 keys\)/);
    expect(plain.stderr).not.toMatch(/bill/);
    const json = JSON.parse((await runCli([...args, '--json', '--price-per-100k', '0.2'])).stdout) as Summary;
    expect(json.bill).toEqual({ pricePer100k: 0.2, usd: 0.2 });
    const bad = await runCli([...args, '--price-per-100k', 'cheap']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--price-per-100k');
  });

  it('plan shows commands per 100 keys for the model and the alternatives, and the bill for the rows', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, idValueRows(ROWS));
    const args = ['plan', file, '-k', `${p}:{id}`, '--model', 'hash', '--fields', 'v', ...TTL];
    const human = await runCli([...args, '--price-per-100k', '0.2']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /\n {2}commands +hash: 200\.0 per 100 keys, ≈ [\d,]+ commands ≈ \$0\.\d\d\n/,
    );
    expect(human.stdout).toMatch(
      /\n {2}price +\$0\.20 per 100 k commands \(Upstash pay-as-you-go list price\)\n/,
    );
    const strings = await runCli(['plan', file, '-k', `${p}:{id}`, '-v', 'v', ...TTL, '--json']);
    const plan = JSON.parse(strings.stdout) as Plan & { pricePer100k?: number };
    expect(plan.commands.map((c) => c.model)).toEqual([
      'string',
      expect.stringMatching(/^bucketed \(hash scheme/),
      expect.stringMatching(/^bucketed \(range scheme/),
    ]);
    expect(plan.commands[0]!.commandsPer100Keys).toBe(100);
    expect(plan.commands[1]!.commandsPer100Keys).toBeLessThan(100);
    expect(plan.commands[2]!.commandsPer100Keys).toBeLessThan(5);
    expect(plan.pricePer100k).toBeUndefined();
  });
});

describe('the Lambda import: the report counts the commands its chunks sent', () => {
  it.each([
    ['string with a TTL', { type: 'string', value: 'v' }, 'set'],
    ['bucketed with a TTL', { type: 'bucketed', value: 'v' }, 'hset'],
  ] as const)('%s', async (_, model, write) => {
    const p = randomPrefix();
    const key = `incoming/${p}/users.csv`;
    const etag = await putObject(s3.server, key, idValueRows(ROWS));
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 256 * 1024,
      defaultSpec: { key: `${p}:{id}`, model, ttl: { seconds: 3600, jitterPercent: 10 } },
      env: { 'import-finish': { PRICE_PER_100K: '0.3' } },
    });
    await resetCommandStats([redis.server.port]);
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(outcome.chunks).toBeGreaterThan(3);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    const server = await dataCommandCalls([redis.server.port]);
    const report = await stack.report(outcome.importId);
    expect(report.counts.written).toBe(ROWS);
    // Outside the count: one completion marker (SET … EX) per chunk, and the bucketed dataset's meta HSET.
    const markers = report.chunks.planned;
    const meta = write === 'hset' ? 1 : 0;
    expect(report.counts.commands).toBe(server.total - markers - meta);
    expect(server.byCommand.set).toBe(write === 'set' ? ROWS + markers : markers);
    const perChunk = report.perChunk.map((c) => ('commands' in c ? c.commands : 0));
    expect(perChunk.reduce((a, b) => a + b, 0)).toBe(report.counts.commands);
    expect(report.commandsPer100Keys).toBeCloseTo((100 * report.counts.commands) / ROWS, 6);
    expect(report.bill).toEqual({ pricePer100k: 0.3, usd: (report.counts.commands / 100_000) * 0.3 });
  });
});
