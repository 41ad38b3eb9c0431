/**
 * How a `kafka-lambda` run is checked before its figure counts, so that a benchmark cannot pass on broken
 * writes: through `redis-cli` (independent of our driver), the key count, every watermark at its
 * partition's last offset, and every key's content by one Lua pass over all ids, computed from the same
 * formulas as bench/kafka-events.ts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type BatchCounts, watermarkKey } from '../shared/kafka/index.js';
import {
  DISTINCT,
  GROUP,
  HASH_FIELDS,
  lastUpdated,
  type ModelName,
  PARTITIONS,
  TOPIC,
} from './kafka-events.js';

const run = promisify(execFile);

/** `redis-cli -p <port> <args…>`, stdout trimmed. */
export const redisCli = async (port: number, ...args: string[]): Promise<string> =>
  (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();

/** redis-server's own CPU seconds so far (user + sys, all threads). */
export async function redisCpu(port: number): Promise<number> {
  const info = await redisCli(port, 'INFO', 'cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

// Ids `u%06d`; `updated` of the last record of id k (lastUpdated); counter amounts 1 + (i % 7) (amountOf).
const CHECK_HASH = `local records, distinct, fields = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ok = 0
for k = 0, math.min(records, distinct) - 1 do
  local key = 'user:u' .. string.format('%06d', k)
  local last = 1764000000 + k + distinct * math.floor((records - 1 - k) / distinct)
  if redis.call('HGET', key, 'updated') == string.format('%d', last) and redis.call('HLEN', key) == fields then ok = ok + 1 end
end
return ok`;
const CHECK_COUNTER = `local records, distinct = tonumber(ARGV[1]), tonumber(ARGV[2])
local ok = 0
for k = 0, math.min(records, distinct) - 1 do
  local sum, i = 0, k
  while i < records do sum = sum + 1 + (i % 7); i = i + distinct end
  if tonumber(redis.call('GET', 'clicks:u' .. string.format('%06d', k))) == sum then ok = ok + 1 end
end
return ok`;

/** Fails unless Redis holds exactly what the first `records` records of `model` must leave there. */
export async function verifyRedis(
  port: number,
  model: ModelName,
  records: number,
  watermarks: boolean,
): Promise<void> {
  const keys = Math.min(records, DISTINCT);
  const partitions = Math.min(records, PARTITIONS);
  const dbsize = Number(await redisCli(port, 'DBSIZE'));
  const expected = keys + (watermarks ? partitions : 0);
  if (dbsize !== expected) throw new Error(`${model}: expected ${expected} keys, found ${dbsize}`);
  for (let p = 0; watermarks && p < partitions; p++) {
    // The last record of partition p is the last index i < records with i % PARTITIONS === p.
    const last = Math.floor((records - 1 - ((records - 1 - p) % PARTITIONS)) / PARTITIONS);
    const at = await redisCli(port, 'GET', watermarkKey('rbl:wm:', GROUP, TOPIC, p));
    if (at !== String(last)) throw new Error(`watermark of partition ${p} is at ${at}, expected ${last}`);
  }
  const ok = Number(
    model === 'hash'
      ? await redisCli(
          port,
          'EVAL',
          CHECK_HASH,
          '0',
          String(records),
          String(DISTINCT),
          String(HASH_FIELDS.length),
        )
      : await redisCli(port, 'EVAL', CHECK_COUNTER, '0', String(records), String(DISTINCT)),
  );
  if (ok !== keys) throw new Error(`${model}: ${keys - ok} of ${keys} keys do not hold their last write`);
  if (model === 'hash' && records > 7) {
    // The Lua pass and the TypeScript formula must agree too.
    const sample = await redisCli(port, 'HGET', 'user:u000007', 'updated');
    if (sample !== String(lastUpdated(7, records))) throw new Error(`user:u000007 updated=${sample}`);
  }
}

/** Fails unless the handler's summed counts are exactly `want` (every other count zero). */
export function expectCounts(
  what: string,
  counts: BatchCounts | undefined,
  want: Partial<BatchCounts>,
): void {
  const full = { received: 0, applied: 0, duplicate: 0, deadLettered: 0, failed: 0, ...want };
  if (JSON.stringify(counts) !== JSON.stringify(full))
    throw new Error(`${what}: counts ${JSON.stringify(counts)}, expected ${JSON.stringify(full)}`);
}
