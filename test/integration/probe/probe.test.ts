import { readFile } from 'node:fs/promises';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProbeHandler } from '../../../functions/health-probe/handler.js';
import {
  parseProbeEnv,
  type ProbeReport,
  probeShards,
  type ShardHealth,
} from '../../../shared/probe/index.js';
import { maxMemory, TcpTarget, usedMemory } from '../../../shared/redis/index.js';
import { type RedisServer, startRedis } from '../../support/redis-server.js';
import { runCli } from '../../support/cli.js';
import { captureStdout, jsonLines } from '../../support/stdout.js';

// Six shards, one of each kind: healthy (with CONFIG disabled), filled past 85 % and past 95 % of maxmemory, a replica whose master is
// gone, one nobody listens on, and one with INFO renamed away (as some managed services do).
let ok: RedisServer;
let warn: RedisServer;
let critical: RedisServer;
let replica: RedisServer;
let noInfo: RedisServer;
let deadUrl: string;
const targets: TcpTarget[] = [];

function target(url: string): TcpTarget {
  const t = new TcpTarget(url, { connectTimeoutMs: 2000, commandTimeoutMs: 2000 });
  targets.push(t);
  return t;
}

/** Writes 10 KB values until used_memory reaches `ratio` of maxmemory (overshooting by at most one value). */
async function fillTo(server: RedisServer, ratio: number): Promise<number> {
  const t = target(server.url);
  const value = 'x'.repeat(10_000);
  for (let round = 0; round < 50; round++) {
    const info = await t.info(['memory']);
    const goal = ratio * maxMemory(info);
    const used = usedMemory(info);
    if (used >= goal) return used / maxMemory(info);
    // 12 KB per key is more than one costs, so each round stays below the goal until the last.
    const n = Math.max(1, Math.floor((goal - used) / 12_000));
    await t.exec(Array.from({ length: n }, (_, i) => ({ args: ['SET', `fill:${round}:${i}`, value] })));
  }
  throw new Error(`could not fill ${server.url} to ${ratio}`);
}

beforeAll(async () => {
  const memory = ['--maxmemory', '20mb', '--maxmemory-policy', 'noeviction'];
  const dead = await startRedis();
  deadUrl = dead.url;
  await dead.stop();
  [ok, warn, critical, replica, noInfo] = await Promise.all([
    // CONFIG renamed away, as on managed services: the probe needs only PING and INFO.
    startRedis({ args: ['--rename-command', 'CONFIG', '', ...memory] }),
    startRedis({ args: memory }),
    startRedis({ args: memory }),
    startRedis({ args: ['--replicaof', '127.0.0.1', String(dead.port), ...memory] }),
    startRedis({ args: ['--rename-command', 'INFO', '', ...memory] }),
  ]);
  expect(await fillTo(warn, 0.88)).toBeLessThan(0.95);
  expect(await fillTo(critical, 0.965)).toBeLessThan(1);
});

afterAll(async () => {
  await Promise.allSettled(targets.map((t) => t.close()));
  await Promise.allSettled([ok, warn, critical, replica, noInfo].map((s) => s?.stop()));
});

function byShard(report: ProbeReport, url: string): ShardHealth {
  const found = report.shards.find((s) => s.shard.startsWith(url));
  if (!found) throw new Error(`no ${url} in the report`);
  return found;
}

describe('health probe against real redis-servers', () => {
  it('judges every shard, and an unreachable one does not hide the others', async () => {
    const urls = [ok.url, warn.url, critical.url, replica.url, deadUrl, noInfo.url];
    const report = await probeShards(
      urls.map((u) => target(u)),
      { pings: 3 },
    );
    expect(report.status).toBe('critical');
    expect(report.shards).toHaveLength(6);

    const healthy = byShard(report, ok.url);
    expect(healthy).toMatchObject({ status: 'ok', reachable: true, problems: [], unread: [] });
    expect(healthy.pingMs).toBeGreaterThan(0);
    expect(healthy.memory).toMatchObject({
      max: 20 * 1024 * 1024,
      limitSource: 'maxmemory',
      policy: 'noeviction',
    });
    expect(healthy.clients!.max).toBe(10_000);
    expect(healthy.replication).toMatchObject({ role: 'master' });
    expect(healthy.persistence).toMatchObject({ loading: false });

    const w = byShard(report, warn.url);
    expect(w.status).toBe('warn');
    expect(w.memory!.percent).toBeGreaterThanOrEqual(85);
    expect(w.memory!.percent).toBeLessThan(95);
    expect(w.problems[0]!.text).toMatch(/% of maxmemory 20\.0 MiB \(warn at 85 %\)/);
    expect(w.keys).toBeGreaterThan(1000);
    expect(w.bytesPerKey).toBeGreaterThan(10_000);
    expect(w.headroomKeys).toBeGreaterThan(0);
    expect(w.headroomKeys).toBeLessThan(400);

    const c = byShard(report, critical.url);
    expect(c.status).toBe('critical');
    expect(c.memory!.percent).toBeGreaterThanOrEqual(95);
    expect(c.problems[0]!.text).toMatch(/\(critical at 95 %\)/);

    const r = byShard(report, replica.url);
    expect(r.status).toBe('critical');
    expect(r.replication).toMatchObject({ role: 'replica', linkStatus: 'down' });
    expect(r.problems.map((p) => p.text).join('\n')).toMatch(
      /replica: link to master 127\.0\.0\.1:\d+ is down/,
    );

    const d = byShard(report, deadUrl);
    expect(d).toMatchObject({ status: 'critical', reachable: false });
    expect(d.problems[0]!.text).toMatch(/^unreachable: .*ECONNREFUSED/);

    const n = byShard(report, noInfo.url);
    expect(n).toMatchObject({ status: 'warn', reachable: true });
    expect(n.unread[0]).toMatch(/INFO: .*unknown command 'INFO'/);
  });

  it('probe CLI: a table by default, JSON with --json, exit 6 at --fail-on', async () => {
    const table = await runCli(['probe', '--redis', [ok.url, warn.url, deadUrl].join(','), '--pings', '2']);
    expect(table.code, table.stderr).toBe(6);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^ +shard +status +memory +used +peak +frag +evicted +rejected +clients +role +ping +keys +headroom$/,
    );
    expect(lines.find((l) => l.includes(ok.url))).toMatch(
      / OK +[\d.]+ (KiB|MiB) \/ 20\.0 MiB +[\d.]+ % .* master /,
    );
    expect(lines.find((l) => l.includes(warn.url))).toMatch(/ WARN +/);
    expect(lines.find((l) => l.includes(deadUrl))).toMatch(/ CRITICAL +- +-/);
    expect(table.stdout).toMatch(/critical: unreachable: .*ECONNREFUSED/);
    expect(table.stdout).toMatch(/overall CRITICAL at /);

    const warnOnly = await runCli(['probe', '--redis', warn.url, '--json']);
    expect(warnOnly.code, warnOnly.stderr).toBe(0);
    expect(JSON.parse(warnOnly.stdout)).toMatchObject({ status: 'warn', shards: [{ status: 'warn' }] });
    expect((await runCli(['probe', '--redis', warn.url, '--fail-on', 'warn'])).code).toBe(6);
    expect((await runCli(['probe', '--redis', deadUrl, '--fail-on', 'never'])).code).toBe(0);
    expect((await runCli(['probe', '--redis', ok.url, '--warn', '96'])).code).toBe(2);
  });

  it('the health-probe Lambda handler: scheduled event in, EMF metrics and a log line out', async () => {
    const event = JSON.parse(
      await readFile(new URL('../../events/health-probe-scheduled.json', import.meta.url), 'utf8'),
    );
    const env = parseProbeEnv({
      REDIS_URL: `${ok.url},${critical.url},${deadUrl}`,
      METRICS_SERVICE: 'rbl-test',
    });
    const runtime = { env, targets: env.REDIS_URL.map((u) => target(u)) };
    const handler = createProbeHandler(() => runtime);
    let report: ProbeReport | undefined;
    const lines = await captureStdout(async () => {
      report = (await handler(event, {} as Context)) as ProbeReport;
    });
    expect(report!.status).toBe('critical');
    expect(report!.shards.map((s) => s.status)).toEqual(['ok', 'critical', 'critical']);
    const docs = jsonLines(lines);
    expect(docs).toHaveLength(5);
    expect(docs[0]).toMatchObject({
      service: 'rbl-test',
      Shards: 3,
      ShardsCritical: 2,
      ShardsUnreachable: 1,
      Status: 2,
    });
    expect(docs[0]!._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: 'RedisBulkLoader', Dimensions: [['service']] }],
    });
    expect(docs[2]).toMatchObject({ service: 'rbl-test', Status: 2 });
    expect(docs[2]!.MemoryUsedPercent as number).toBeGreaterThanOrEqual(95);
    expect(docs[4]).toMatchObject({
      level: 'ERROR',
      message: 'redis health: critical',
      status: 'critical',
      function: 'health-probe',
    });

    // A manual invocation with {} works too; anything else is refused before Redis is touched.
    await expect(handler({}, {} as Context)).resolves.toMatchObject({ status: 'critical' });
    await expect(
      handler({ 'detail-type': 'Object Created', source: 'aws.s3' }, {} as Context),
    ).rejects.toThrow(/health-probe event is invalid/);
  });

  it('the deployed handler reads its configuration once and names a missing variable', async () => {
    const { handler } = await import('../../../functions/health-probe/handler.js');
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    try {
      await expect(handler({}, {} as Context)).rejects.toThrow(/environment variable REDIS_URL/);
    } finally {
      if (saved !== undefined) process.env.REDIS_URL = saved;
    }
  });
});
