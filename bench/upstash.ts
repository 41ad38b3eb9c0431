/**
 * `npm run bench -- upstash`: the loader into an Upstash REST endpoint. On this machine that is the
 * Upstash-compatible bridge (cli/local-upstash.ts) in front of a fresh redis-server: what it measures is what
 * Upstash bills and limits, not its speed.
 *
 * - Commands per 100 keys, counted by the endpoint (everything it ran: the data commands and the few the
 *   pre-flight and the encoding check send), and the bill at Upstash's list price ($0.20 per 100 k commands).
 * - Requests: how many, their median and largest body against the 10 MiB request limit.
 * - keys/s through HTTP on loopback, for orientation only: a real Upstash database is a network away.
 *
 * The cases: bucketed without and with TTL, each written directly (an `HSET` per bucket a reader batch touches)
 * and grouped (one `HSET` per bucket, `--group-buckets on`), and flat `SET` with TTL (`SET … EX`, one command a
 * key).
 *
 *   npm run bench -- upstash [--records N]     (default 1,000,000 rows)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRedis } from '../cli/local-redis.js';
import { startUpstashBridge } from '../cli/local-upstash.js';
import { writeSampleData } from '../cli/sample-data.js';
import { cli, cliFlags, median, timed } from './support.js';

/** Upstash's pay-as-you-go list price, in dollars per 100,000 commands. */
const PRICE_PER_100K = 0.2;
const REQUEST_LIMIT = 10 * 2 ** 20;

const BUCKETED_TTL = ['--model', 'bucketed', '--ttl', '86400', '--ttl-jitter', '10'];
const CASES = [
  { name: 'upstash-bucketed', args: ['--model', 'bucketed', '--group-buckets', 'off'], target: undefined },
  { name: 'upstash-bucketed-ttl', args: [...BUCKETED_TTL, '--group-buckets', 'off'], target: undefined },
  { name: 'upstash-bucketed-grouped', args: ['--model', 'bucketed', '--group-buckets', 'on'], target: 1.05 },
  { name: 'upstash-bucketed-ttl-grouped', args: [...BUCKETED_TTL, '--group-buckets', 'on'], target: 2.1 },
  { name: 'upstash-flat-ttl', args: ['--model', 'string', '--ttl', '86400'], target: undefined },
] as const;

interface Measured {
  readonly kps: number;
  readonly commands: number;
  readonly requests: number;
  readonly medianBytes: number;
  readonly maxBytes: number;
}

async function loadOnce(csv: string, keys: number, extra: readonly string[]): Promise<Measured> {
  const redis = await startLocalRedis();
  const bridge = await startUpstashBridge({ redisUrl: redis.url, maxRequestBytes: REQUEST_LIMIT });
  try {
    let out = '';
    const seconds = await timed(async () => {
      const child = spawn(
        process.execPath,
        [
          ...cliFlags,
          cli,
          'import',
          csv,
          '--redis',
          bridge.url,
          '--key',
          'user:{id}',
          '--value',
          'score',
          '--json',
          '--no-progress',
          ...extra,
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, UPSTASH_REDIS_REST_TOKEN: bridge.token },
        },
      );
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const [code] = await once(child, 'close');
      if (code !== 0) throw new Error(`loader exited with ${String(code)}`);
    });
    const written = (JSON.parse(out) as { counts: { written: number } }).counts.written;
    if (written !== keys) throw new Error(`the loader wrote ${written} of ${keys} keys`);
    const sizes = bridge.stats.ran.map((r) => r.bytes);
    return {
      kps: keys / seconds,
      commands: bridge.stats.commands,
      requests: bridge.stats.requests,
      medianBytes: median(sizes),
      maxBytes: Math.max(...sizes),
    };
  } finally {
    await bridge.stop();
    await redis.stop();
  }
}

/** Runs the cases and returns their `BENCH` lines; prints a table. */
export async function upstashBench(options: { records: number; pairs: number }): Promise<string[]> {
  const keys = options.records;
  const dir = await mkdtemp(join(tmpdir(), 'rbl-bench-upstash-'));
  const lines: string[] = [];
  const table: string[][] = [
    [
      'case',
      'commands/100 keys',
      'target',
      'bill (list price)',
      'requests',
      'median request',
      'largest',
      'keys/s',
    ],
  ];
  try {
    const csv = join(dir, 'data.csv');
    await writeSampleData(csv, keys);
    for (const c of CASES) {
      const runs: Measured[] = [];
      for (let i = 0; i < options.pairs; i++) runs.push(await loadOnce(csv, keys, c.args));
      // Commands and request sizes are the same every run; speed is the median.
      const m = runs[0]!;
      const per100 = (m.commands / keys) * 100;
      const bill = (m.commands / 100_000) * PRICE_PER_100K;
      const kps = median(runs.map((r) => r.kps));
      table.push([
        c.name,
        per100.toFixed(3),
        c.target === undefined ? '-' : `<= ${c.target}`,
        `$${bill.toFixed(2)}`,
        m.requests.toLocaleString('en-US'),
        `${(m.medianBytes / 2 ** 20).toFixed(2)} MiB`,
        `${(m.maxBytes / 2 ** 20).toFixed(2)} MiB`,
        Math.round(kps).toLocaleString('en-US'),
      ]);
      lines.push(
        `BENCH case=${c.name} keys=${keys} commands_per_100_keys=${per100.toFixed(3)} bill_usd=${bill.toFixed(2)} requests=${m.requests} median_request_bytes=${Math.round(m.medianBytes)} max_request_bytes=${m.maxBytes} loader_kps=${Math.round(kps)}`,
      );
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return lines;
}
