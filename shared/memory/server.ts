import { classifyError } from '../errors/index.js';
import { type RedisInfo, type Reply, ReplyError, type Target } from '../redis/index.js';
import { DEFAULT_LISTPACK, type ListpackLimits, LRU_LFU_POLICIES } from './constants.js';

/** What the pre-flight knows about one shard, and what it could not read. */
export interface ShardReading {
  /** The shard's name, password redacted. */
  readonly shard: string;
  /** Set when the shard could not be read at all (unreachable): nothing else is known. */
  readonly error?: string;
  /** `used_memory`, when INFO could be read. */
  readonly usedMemory?: number;
  /** `maxmemory` (0: no limit), when INFO could be read. */
  readonly maxMemory?: number;
  /** `maxmemory_policy`, when INFO could be read. */
  readonly policy?: string;
  /** `used_memory_rss`: what the process holds of the host's memory, when INFO reports it. */
  readonly rss?: number;
  /** `total_system_memory` of the host, when INFO reports it. */
  readonly systemMemory?: number;
  /** Keys and keys with an expiry in the target database (0 when unknown). */
  readonly keys: number;
  readonly expires: number;
  /** The listpack limits in force: read with `CONFIG GET`, else {@link DEFAULT_LISTPACK}. */
  readonly listpack: ListpackLimits;
  readonly listpackSource: 'config' | 'default';
  /** Whether `SET` values 0…9999 share objects (not under an LRU/LFU policy). */
  readonly sharedIntegers: boolean;
  /** What could not be read, and the fallback used instead: one sentence each. */
  readonly unread: string[];
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The database number at the end of a target's name (`redis://host:6379/2` → 2); 0 when absent. */
export function targetDb(name: string): number {
  const match = /\/(\d+)$/.exec(name);
  return match ? Number(match[1]) : 0;
}

/** `keys` and `expires` of `db` from INFO's keyspace section (`db0:keys=10,expires=2,avg_ttl=0`). */
export function keyspaceCounts(info: RedisInfo, db: number): { keys: number; expires: number } {
  const line = info.keyspace?.[`db${db}`];
  if (line === undefined) return { keys: 0, expires: 0 };
  const fields = new Map(line.split(',').map((kv) => kv.split('=') as [string, string]));
  return { keys: num(fields.get('keys')) ?? 0, expires: num(fields.get('expires')) ?? 0 };
}

/** Turns a `CONFIG GET` reply (flat name/value array) into a map. */
export function configPairs(reply: Reply): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  return out;
}

/** The listpack limits from `CONFIG GET hash-max-*` (Redis 7 names, or the older ziplist names). */
export function listpackFromConfig(config: Map<string, string>): ListpackLimits | undefined {
  const entries = num(config.get('hash-max-listpack-entries') ?? config.get('hash-max-ziplist-entries'));
  const value = num(config.get('hash-max-listpack-value') ?? config.get('hash-max-ziplist-value'));
  return entries === undefined || value === undefined ? undefined : { entries, value };
}

const DEFAULTS_TEXT = `hash-max-listpack-entries ${DEFAULT_LISTPACK.entries} and hash-max-listpack-value ${DEFAULT_LISTPACK.value} (the defaults of redis.conf and of ElastiCache)`;

/**
 * Reads what the memory model and the pre-flight need from one shard: `INFO` (memory, keyspace) and
 * `CONFIG GET hash-max-*`. Never throws: what cannot be read is listed in `unread` with the fallback used
 * (managed services often disable `CONFIG`), and an unreachable shard comes back with `error`.
 *
 * @example
 * const reading = await readShard(new TcpTarget('redis://127.0.0.1:6379'));
 * if (reading.maxMemory === 0) console.warn('no maxmemory');
 */
export async function readShard(target: Target): Promise<ShardReading> {
  const unread: string[] = [];
  let info: RedisInfo | undefined;
  try {
    info = await target.info();
  } catch (err) {
    const e = classifyError(err);
    if (e.retryable) {
      return {
        shard: target.name,
        error: `unreachable: ${e.message}`,
        keys: 0,
        expires: 0,
        listpack: DEFAULT_LISTPACK,
        listpackSource: 'default',
        sharedIntegers: true,
        unread: [],
      };
    }
    unread.push(`INFO failed (${e.message}): used memory, maxmemory and key counts unknown`);
  }
  const memory = info?.memory;
  if (info && memory === undefined)
    unread.push('INFO has no memory section: used memory and maxmemory unknown');
  const usedMemory = num(memory?.used_memory);
  const maxMemory = num(memory?.maxmemory);
  const policy = memory?.maxmemory_policy;
  const systemMemory = num(memory?.total_system_memory);
  const rss = num(memory?.used_memory_rss);
  if (memory && (usedMemory === undefined || maxMemory === undefined)) {
    unread.push('INFO memory lacks used_memory or maxmemory: memory use unknown');
  }
  if (info && info.keyspace === undefined)
    unread.push('INFO has no keyspace section: existing keys taken as 0');
  const { keys, expires } = info ? keyspaceCounts(info, targetDb(target.name)) : { keys: 0, expires: 0 };

  let listpack: ListpackLimits | undefined;
  try {
    const [reply] = await target.exec([{ args: ['CONFIG', 'GET', 'hash-max-*'] }]);
    if (reply instanceof ReplyError) {
      unread.push(`CONFIG GET refused (${reply.message.slice(0, 80)}): assuming ${DEFAULTS_TEXT}`);
    } else {
      listpack = listpackFromConfig(configPairs(reply ?? null));
      if (!listpack) unread.push(`CONFIG GET hash-max-* returned nothing usable: assuming ${DEFAULTS_TEXT}`);
    }
  } catch (err) {
    unread.push(`CONFIG GET failed (${classifyError(err).message}): assuming ${DEFAULTS_TEXT}`);
  }
  const lruLfu = (LRU_LFU_POLICIES as readonly string[]).includes(policy ?? '');
  return {
    shard: target.name,
    ...(usedMemory === undefined ? {} : { usedMemory }),
    ...(maxMemory === undefined ? {} : { maxMemory }),
    ...(policy === undefined ? {} : { policy }),
    ...(systemMemory ? { systemMemory } : {}),
    ...(rss ? { rss } : {}),
    keys,
    expires,
    listpack: listpack ?? DEFAULT_LISTPACK,
    listpackSource: listpack ? 'config' : 'default',
    sharedIntegers: !(lruLfu && (maxMemory ?? 0) > 0),
    unread,
  };
}

/** The tightest listpack limits over all shards (bucket parameters are the same on every shard). */
export function tightestListpack(readings: readonly ShardReading[]): ListpackLimits {
  const usable = readings.filter((r) => r.error === undefined);
  if (usable.length === 0) return DEFAULT_LISTPACK;
  return {
    entries: Math.min(...usable.map((r) => r.listpack.entries)),
    value: Math.min(...usable.map((r) => r.listpack.value)),
  };
}
