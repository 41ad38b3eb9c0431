import { redisCli } from './redis-server.js';

/**
 * The commands a loader's write path can send (what its summaries count as `commands`): writes, expiries,
 * deletes, counters and the Kafka consumer's watermarked scripts.
 */
export const DATA_COMMANDS = [
  'set',
  'hset',
  'hmset',
  'expire',
  'pexpire',
  'del',
  'hdel',
  'incrby',
  'hincrby',
  'eval',
  'evalsha',
  'restore',
] as const;

/** Zeroes `INFO commandstats` on every server (`CONFIG RESETSTAT`), with redis-cli. */
export async function resetCommandStats(ports: readonly number[]): Promise<void> {
  for (const port of ports) await redisCli(port, 'CONFIG', 'RESETSTAT');
}

/**
 * Calls per command (lower case) that the servers executed since their last reset, summed over `ports`, read
 * with redis-cli from `INFO commandstats` — independent of the loader's driver. Only `calls` counts: a
 * command refused before it ran (`rejected_calls`: a `MOVED` redirect, an OOM refusal) is not in it.
 */
export async function commandCalls(ports: readonly number[]): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const port of ports) {
    const text = await redisCli(port, 'INFO', 'commandstats');
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      calls.set(match[1]!, (calls.get(match[1]!) ?? 0) + Number(match[2]));
    }
  }
  return calls;
}

/** The sum of {@link commandCalls} over {@link DATA_COMMANDS}, and the calls per data command seen. */
export async function dataCommandCalls(
  ports: readonly number[],
): Promise<{ total: number; byCommand: Record<string, number> }> {
  const calls = await commandCalls(ports);
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const name of DATA_COMMANDS) {
    const n = calls.get(name) ?? 0;
    if (n === 0) continue;
    byCommand[name] = n;
    total += n;
  }
  return { total, byCommand };
}
