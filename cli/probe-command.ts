import { type Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../shared/errors/index.js';
import {
  DEFAULT_THRESHOLDS,
  type HealthStatus,
  type ProbeReport,
  probeShards,
  type ShardHealth,
} from '../shared/probe/index.js';
import type { Target } from '../shared/redis/index.js';
import {
  addClusterOption,
  CLUSTER_HELP,
  type ClusterFlags,
  clusterMode,
  openCliTargets,
  defaultRedisUrl,
  REDIS_URL_HELP,
} from './redis-targets.js';
import { commandError, ExitCode, exitCodeFor } from './exit-codes.js';
import { bytes, int } from './format.js';
import { addTlsOptions, TLS_HELP, type TlsFlags, tlsOptions } from './tls-options.js';

interface ProbeFlags extends TlsFlags, ClusterFlags {
  redis: string;
  warn: number;
  critical: number;
  pingWarn: number;
  pings: number;
  timeout: number;
  failOn: 'warn' | 'critical' | 'never';
  json: boolean;
}

function numberIn(name: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!(n >= min && n <= max))
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

const dash = '-';

function memoryCell(s: ShardHealth): string {
  const m = s.memory;
  if (!m) return dash;
  const of = m.max > 0 ? bytes(m.max) : 'no max';
  return `${bytes(m.used)} / ${of}`;
}

function percentCell(s: ShardHealth): string {
  const p = s.memory?.percent;
  if (p === undefined) return dash;
  return `${p.toFixed(1)} %${s.memory?.limitSource === 'system' ? ' (host)' : ''}`;
}

function roleCell(s: ShardHealth): string {
  const r = s.replication;
  if (!r) return dash;
  if (r.role === 'master') return `master${r.connectedReplicas ? ` (${r.connectedReplicas} replicas)` : ''}`;
  return `replica, link ${r.linkStatus ?? '?'}`;
}

/** The probe report as a table, one row per shard, with each shard's problems below it. */
export function formatProbe(report: ProbeReport): string {
  const header = [
    'shard',
    'status',
    'memory',
    'used',
    'peak',
    'frag',
    'evicted',
    'rejected',
    'clients',
    'role',
    'ping',
    'keys',
    'headroom',
  ];
  const rows = report.shards.map((s) => [
    s.shard,
    s.status.toUpperCase(),
    memoryCell(s),
    percentCell(s),
    s.memory?.peak === undefined ? dash : bytes(s.memory.peak),
    s.memory?.fragmentation === undefined ? dash : s.memory.fragmentation.toFixed(2),
    s.evictedKeys === undefined ? dash : int(s.evictedKeys),
    s.rejectedConnections === undefined ? dash : int(s.rejectedConnections),
    s.clients === undefined
      ? dash
      : `${int(s.clients.connected)}${s.clients.max ? ` / ${int(s.clients.max)}` : ''}`,
    roleCell(s),
    s.pingMs === undefined ? dash : `${s.pingMs.toFixed(2)} ms`,
    s.keys === undefined ? dash : int(s.keys),
    s.headroomKeys === undefined ? dash : `${int(s.headroomKeys)} keys`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}`;
  const out = [line(header)];
  report.shards.forEach((s, i) => {
    out.push(line(rows[i]!));
    for (const p of s.problems) out.push(`      ${p.level}: ${p.text}`);
    if (s.unread.length > 0) out.push(`      not read: ${s.unread.join('; ')}`);
  });
  out.push(
    `  overall ${report.status.toUpperCase()} at ${report.checkedAt} (warn at ${report.thresholds.warnPercent} %, ` +
      `critical at ${report.thresholds.criticalPercent} % of maxmemory; headroom at the observed bytes per key)`,
  );
  return out.join('\n');
}

const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

/** Registers `probe`: the health/memory probe of the health-probe Lambda, as a table or JSON. */
export function registerProbe(program: Command): void {
  const command = program
    .command('probe')
    .summary('check the health and memory of each Redis shard')
    .description(
      'Per shard: median PING round trip, and INFO (memory, clients, persistence, replication, stats, ' +
        'keyspace) judged ok / warn / critical: memory used vs maxmemory (warn 85 %, critical 95 %), peak, ' +
        'fragmentation, evictions, rejected connections, clients vs maxclients, role and replication link, ' +
        'loading, last save; headroom in keys at the observed bytes per key. The same check as the ' +
        'health-probe Lambda. An unreachable shard is critical; the others are still reported.',
    )
    .option('-r, --redis <urls>', REDIS_URL_HELP, defaultRedisUrl())
    .option(
      '--warn <percent>',
      'warn at this share of maxmemory / maxclients',
      numberIn('--warn', 1, 100),
      85,
    )
    .option(
      '--critical <percent>',
      'critical at this share of maxmemory / maxclients',
      numberIn('--critical', 1, 100),
      95,
    )
    .option(
      '--ping-warn <ms>',
      'warn when the median PING takes this long',
      numberIn('--ping-warn', 1, 60_000),
      DEFAULT_THRESHOLDS.pingWarnMs,
    )
    .option('--pings <n>', 'PINGs per shard (the median is reported)', numberIn('--pings', 1, 50), 5)
    .option(
      '--timeout <ms>',
      'connect and command timeout per shard',
      numberIn('--timeout', 100, 60_000),
      2000,
    )
    .addOption(
      new Option('--fail-on <status>', 'exit 6 when a shard is at least this bad')
        .choices(['warn', 'critical', 'never'])
        .default('critical'),
    )
    .option('--json', 'print the report as JSON on stdout', false);
  addClusterOption(addTlsOptions(command))
    .addHelpText(
      'after',
      `${TLS_HELP}
${CLUSTER_HELP}

Exit codes: 0 no shard at or above --fail-on; 2 bad command line; 6 a shard at or above --fail-on.

Examples:
  redis-bulk-loader probe --redis redis://10.0.0.5:6379,redis://10.0.0.6:6379
  redis-bulk-loader probe --json --fail-on warn`,
    )
    .action(async (flags: ProbeFlags) => {
      process.exitCode = await probeAction(flags);
    });
}

async function probeAction(flags: ProbeFlags): Promise<number> {
  let targets: Target[] = [];
  try {
    if (flags.warn >= flags.critical) throw new ConfigError('--warn must be below --critical');
    const urls = flags.redis
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    if (urls.length === 0) throw new ConfigError('--redis needs at least one URL');
    const credentials = { username: process.env.REDIS_USERNAME, password: process.env.REDIS_PASSWORD };
    const tls = await tlsOptions(flags, urls);
    // A server that cannot be reached is reported by the probe, not an error here.
    targets = await openCliTargets(urls, {
      credentials,
      tls,
      cluster: clusterMode(flags),
      connectTimeoutMs: flags.timeout,
      commandTimeoutMs: flags.timeout,
      lenient: true,
    });
    const report = await probeShards(targets, {
      pings: flags.pings,
      thresholds: { warnPercent: flags.warn, criticalPercent: flags.critical, pingWarnMs: flags.pingWarn },
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${formatProbe(report)}\n`);
    if (flags.failOn !== 'never' && RANK[report.status] >= RANK[flags.failOn]) return ExitCode.Unhealthy;
    return ExitCode.Ok;
  } catch (err) {
    const e = commandError(err);
    process.stderr.write(`redis-bulk-loader probe: ${e.message}\n`);
    return exitCodeFor(e);
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}
