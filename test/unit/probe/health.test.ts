import { describe, expect, it } from 'vitest';
import {
  assessShard,
  healthLogLine,
  healthMetrics,
  publishHealthMetrics,
  parseProbeEnv,
  type ProbeReport,
  probeThresholds,
} from '../../../shared/probe/index.js';
import { parseInfo } from '../../../shared/redis/index.js';
import { captureStdout, jsonLines } from '../../support/stdout.js';

const MiB = 1024 * 1024;

/** INFO text as Redis 7 writes it, with the fields the probe reads; `over` replaces or adds fields. */
function infoText(
  over: Record<string, Record<string, string | undefined>> = {},
  drop: string[] = [],
): string {
  const sections: Record<string, Record<string, string | undefined>> = {
    Clients: { connected_clients: '10', maxclients: '10000', blocked_clients: '0' },
    Memory: {
      used_memory: String(10 * MiB),
      used_memory_peak: String(12 * MiB),
      used_memory_startup: String(1 * MiB),
      used_memory_rss: String(14 * MiB),
      maxmemory: String(100 * MiB),
      maxmemory_policy: 'noeviction',
      total_system_memory: String(8192 * MiB),
      mem_fragmentation_ratio: '1.40',
    },
    Persistence: {
      loading: '0',
      rdb_last_bgsave_status: 'ok',
      aof_enabled: '0',
      aof_last_write_status: 'ok',
    },
    Stats: { evicted_keys: '0', rejected_connections: '0' },
    Replication: { role: 'master', connected_slaves: '0' },
    Keyspace: { db0: 'keys=90000,expires=0,avg_ttl=0' },
  };
  for (const [name, fields] of Object.entries(over)) sections[name] = { ...sections[name], ...fields };
  return Object.entries(sections)
    .filter(([name]) => !drop.includes(name))
    .map(
      ([name, fields]) =>
        `# ${name}\r\n${Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}:${v}\r\n`)
          .join('')}`,
    )
    .join('\r\n');
}

const shard = 'redis://10.0.0.5:6379/0';
const assess = (text: string, pings = [0.3, 0.5, 0.4]) =>
  assessShard({ shard, pings, info: parseInfo(text) });

describe('assessShard', () => {
  it('a healthy shard is ok, with median ping, used %, and headroom at the observed bytes per key', () => {
    const h = assess(infoText());
    expect(h.status).toBe('ok');
    expect(h.problems).toEqual([]);
    expect(h.pingMs).toBe(0.4);
    expect(h.memory).toMatchObject({ used: 10 * MiB, max: 100 * MiB, percent: 10, limitSource: 'maxmemory' });
    expect(h.bytesPerKey).toBeCloseTo((9 * MiB) / 90_000);
    expect(h.headroomKeys).toBe(Math.floor((90 * MiB) / ((9 * MiB) / 90_000)));
    expect(h.replication).toEqual({ role: 'master', connectedReplicas: 0 });
  });

  it('memory at 85 % is warn and at 95 % critical', () => {
    expect(assess(infoText({ Memory: { used_memory: String(86 * MiB) } })).status).toBe('warn');
    const critical = assess(infoText({ Memory: { used_memory: String(96 * MiB) } }));
    expect(critical.status).toBe('critical');
    expect(critical.problems[0]!.text).toMatch(/96\.0 % of maxmemory 100\.0 MiB/);
  });

  it('thresholds are configurable', () => {
    const text = infoText({ Memory: { used_memory: String(60 * MiB) } });
    const h = assessShard(
      { shard, pings: [1], info: parseInfo(text) },
      { warnPercent: 50, criticalPercent: 70, pingWarnMs: 100 },
    );
    expect(h.status).toBe('warn');
  });

  it('no maxmemory is a warning, measured against the host memory instead', () => {
    const h = assess(infoText({ Memory: { maxmemory: '0' } }));
    expect(h.status).toBe('warn');
    expect(h.memory).toMatchObject({ max: 0, limitSource: 'system' });
    expect(h.problems[0]!.text).toMatch(/maxmemory is 0/);
  });

  it('a replica whose master link is down is critical', () => {
    const h = assess(
      infoText({
        Replication: {
          role: 'slave',
          master_host: '127.0.0.1',
          master_port: '6390',
          master_link_status: 'down',
          master_link_down_since_seconds: '42',
        },
      }),
    );
    expect(h.status).toBe('critical');
    expect(h.problems[0]!.text).toBe('replica: link to master 127.0.0.1:6390 is down for 42 s');
    expect(h.replication).toMatchObject({ role: 'replica', linkStatus: 'down', linkDownSeconds: 42 });
  });

  it('evictions, rejected connections, loading, failed saves and fragmentation are warnings', () => {
    const h = assess(
      infoText({
        Stats: { evicted_keys: '12', rejected_connections: '3' },
        Persistence: { loading: '1', rdb_last_bgsave_status: 'err' },
        Memory: { used_memory_rss: String(400 * MiB), mem_fragmentation_ratio: '40.0' },
      }),
    );
    expect(h.status).toBe('warn');
    const texts = h.problems.map((p) => p.text).join('\n');
    expect(texts).toMatch(/12 keys evicted/);
    expect(texts).toMatch(/3 connections rejected/);
    expect(texts).toMatch(/loading its dataset/);
    expect(texts).toMatch(/last RDB save failed/);
    expect(texts).toMatch(/fragmentation ratio 40\.00/);
  });

  it('clients near maxclients, a failing AOF and slow pings', () => {
    expect(assess(infoText({ Clients: { connected_clients: '9600' } })).status).toBe('critical');
    expect(assess(infoText({ Persistence: { aof_enabled: '1', aof_last_write_status: 'err' } })).status).toBe(
      'critical',
    );
    expect(assess(infoText(), [150, 160, 170]).problems[0]!.text).toMatch(/PING takes 160\.0 ms/);
  });

  it('missing INFO sections are listed as unread: warn, never a crash', () => {
    const h = assess(infoText({}, ['Memory', 'Replication']));
    expect(h.status).toBe('warn');
    expect(h.unread).toEqual(['INFO memory', 'INFO replication']);
    expect(h.memory).toBeUndefined();
    expect(h.keys).toBe(90_000);
    expect(h.headroomKeys).toBeUndefined();
  });

  it('INFO unavailable (renamed away on a managed service) is a warning with the reason', () => {
    const h = assessShard({ shard, pings: [0.2], infoError: "redis: ERR unknown command 'INFO'" });
    expect(h).toMatchObject({ status: 'warn', reachable: true, pingMs: 0.2 });
    expect(h.unread[0]).toMatch(/INFO: redis: ERR unknown command/);
  });

  it('an unreachable shard is critical with the reason', () => {
    const h = assessShard({ shard, pings: [], unreachable: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(h).toMatchObject({ status: 'critical', reachable: false });
    expect(h.problems[0]!.text).toBe('unreachable: connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('CloudWatch embedded metric format', () => {
  const report: ProbeReport = {
    status: 'critical',
    checkedAt: '2025-01-01T00:00:00.000Z',
    thresholds: { warnPercent: 85, criticalPercent: 95, pingWarnMs: 100 },
    shards: [
      assess(infoText({ Memory: { used_memory: String(90 * MiB) }, Stats: { evicted_keys: '5' } })),
      assessShard({ shard: 'redis://10.0.0.6:6379/0', pings: [], unreachable: 'ECONNREFUSED' }),
    ],
  };

  it('one aggregate document for the alarms and one per shard, each metric declared and valued', async () => {
    const docs = jsonLines(await captureStdout(() => publishHealthMetrics(report, { service: 'rbl-prod' })));
    expect(docs).toHaveLength(3);
    const [aggregate, first, second] = docs;
    expect(aggregate).toMatchObject({
      service: 'rbl-prod',
      Status: 2,
      Shards: 2,
      ShardsCritical: 1,
      ShardsWarn: 1,
      ShardsUnreachable: 1,
      EvictedKeys: 5,
    });
    expect(aggregate!.MaxMemoryUsedPercent).toBeCloseTo(90);
    for (const doc of docs) {
      const aws = doc._aws as {
        Timestamp: number;
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
      expect(aws.Timestamp).toBeGreaterThan(1_700_000_000_000);
      const [directive] = aws.CloudWatchMetrics;
      expect(directive!.Namespace).toBe('RedisBulkLoader');
      for (const dim of directive!.Dimensions.flat()) expect(typeof doc[dim]).toBe('string');
      for (const m of directive!.Metrics) expect(typeof doc[m.Name], m.Name).toBe('number');
    }
    expect(
      (aggregate!._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!
        .Dimensions,
    ).toEqual([['service']]);
    expect(first).toMatchObject({ shard, Status: 1, EvictedKeys: 5 });
    expect(
      (first!._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions,
    ).toEqual([['service', 'shard']]);
    // An unreachable shard has only its status: nothing else was measured.
    expect(Object.keys(second!).filter((k) => !['_aws', 'service', 'shard'].includes(k))).toEqual(['Status']);
    expect(healthMetrics(report).shards[1]!.metrics.map((m) => m.name)).toEqual(['Status']);
  });

  it('the log line carries the level and the whole report', () => {
    const line = healthLogLine(report);
    expect(line).toMatchObject({ level: 'error', message: 'redis health: critical', status: 'critical' });
    expect((line.shards as unknown[]).length).toBe(2);
  });
});

describe('health-probe environment', () => {
  it('defaults, and a bad variable is named', () => {
    const env = parseProbeEnv({ REDIS_URL: 'redis://a:6379, redis://b:6379', AWS_REGION: 'eu-west-1' });
    expect(env.REDIS_URL).toEqual(['redis://a:6379', 'redis://b:6379']);
    expect(probeThresholds(env)).toEqual({ warnPercent: 85, criticalPercent: 95, pingWarnMs: 100 });
    expect(env.METRICS_NAMESPACE).toBe('RedisBulkLoader');
    expect(() => parseProbeEnv({})).toThrow(/REDIS_URL/);
    expect(() => parseProbeEnv({ REDIS_URL: 'redis://a', PROBE_PINGS: 'many' })).toThrow(/PROBE_PINGS/);
    expect(() => parseProbeEnv({ REDIS_URL: 'redis://a', PROBE_WARN_PERCENT: '96' })).toThrow(
      /PROBE_WARN_PERCENT/,
    );
  });
});
