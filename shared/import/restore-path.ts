import type { BucketWriteMode } from '../config/index.js';
import { classifyError } from '../errors/index.js';
import { hashPayload, type ListpackFit } from '../grouping/index.js';
import { ReplyError, type Target } from '../redis/index.js';

/** How grouped writes write their buckets, and why. */
export interface BucketWriteChoice {
  readonly write: 'hset' | 'restore';
  readonly reason: string;
  /** `RESTORE` was wanted (asked for, or a fresh dataset version) but the server cannot take it. */
  readonly fallback?: true;
  /** For `restore`: what a bucket may hold and stay a listpack (larger buckets get `DEL` + `HSET`). */
  readonly fit?: ListpackFit;
}

/** What {@link chooseBucketWrite} weighs. */
export interface BucketWriteInput {
  readonly mode: BucketWriteMode;
  /** The load writes a fresh dataset version: nobody else writes its keys. */
  readonly freshKeys: boolean;
  /** Every shard's target (for a Redis Cluster: its members, or the cluster target itself). */
  readonly targets: readonly Target[];
  /** The server's `hash-max-listpack-*` settings, as the pre-flight read them (the tightest over shards). */
  readonly listpack: ListpackFit;
  /** A per-command service (Upstash): `RESTORE` gains nothing there, `HSET` is kept. */
  readonly billedPerCommand?: boolean;
  /** Where the probe key goes (the bucket prefix): a key no load writes is made from it. */
  readonly prefix: string;
}

/**
 * Picks `HSET` or `RESTORE` for a grouped load's buckets (see `bucketWrite` in the import spec). Before
 * `restore` is chosen, every shard is probed: a one-field payload built like the load's is restored under a
 * key of its own (with a TTL, deleted right after), read back, and its encoding must be `listpack`. A server
 * older than Redis 7.0 (it does not know RDB type 16), one that refuses `RESTORE` (renamed, ACL) or one that
 * converts the hash gets `HSET`, and the reason says which: never a bucket encoded some other way by surprise.
 *
 * @example
 * const choice = await chooseBucketWrite({ mode: 'restore', freshKeys: false, targets, listpack, prefix: 'u:bkt:' });
 * // { write: 'restore', reason: 'bucketWrite restore', fit: { entries: 128, value: 64 } }
 */
export async function chooseBucketWrite(input: BucketWriteInput): Promise<BucketWriteChoice> {
  const { mode } = input;
  if (mode === 'hset') return { write: 'hset', reason: 'bucketWrite hset' };
  if (mode === 'auto' && !input.freshKeys) {
    return {
      write: 'hset',
      reason: 'HSET merges into existing buckets (RESTORE is chosen for a fresh dataset version)',
    };
  }
  if (input.billedPerCommand) {
    return {
      write: 'hset',
      reason: 'a per-command service: RESTORE would cost the same command per bucket',
      fallback: true,
    };
  }
  for (const target of input.targets) {
    const refusal = await probeRestore(target, input.prefix);
    if (refusal) {
      return {
        write: 'hset',
        reason: `RESTORE not usable on ${target.name}: ${refusal}; HSET instead`,
        fallback: true,
      };
    }
  }
  return {
    write: 'restore',
    reason:
      mode === 'restore' ? 'bucketWrite restore' : 'a fresh dataset version: whole buckets with RESTORE',
    fit: input.listpack,
  };
}

/** Redis versions from which `RESTORE` takes a listpack hash (RDB version 10). */
const FIRST_MAJOR = 7;

/**
 * Restores a one-field listpack hash on `target` and checks it comes back as written, as a listpack. Returns
 * why it cannot be used, or `undefined` when it can. A lost connection or a failed login is not a refusal:
 * it is thrown, as the load would meet it anyway.
 */
export async function probeRestore(target: Target, prefix: string): Promise<string | undefined> {
  let version: string | undefined;
  try {
    version = (await target.info(['server'])).server?.redis_version;
  } catch (err) {
    const e = classifyError(err);
    if (e.retryable) throw e;
  }
  const major = Number(version?.split('.')[0]);
  if (version !== undefined && Number.isFinite(major) && major < FIRST_MAJOR) {
    return `Redis ${version} predates listpack hashes in DUMP payloads (RDB version 10, Redis 7.0)`;
  }
  const key = `${prefix}rbl:restore-probe:${process.pid}:${Date.now()}`;
  const payload = hashPayload([['probe', '1']]);
  let replies;
  try {
    replies = await target.exec([
      { key, args: ['RESTORE', key, '60000', payload, 'REPLACE'] },
      { key, args: ['HGET', key, 'probe'] },
      { key, args: ['OBJECT', 'ENCODING', key] },
      { key, args: ['DEL', key] },
    ]);
  } catch (err) {
    const e = classifyError(err);
    if (e.retryable) throw e;
    return e.message;
  }
  const [restored, field, encoding] = replies;
  if (restored instanceof ReplyError) return `RESTORE answered ${restored.message}`;
  if (String(field) !== '1') return `the restored probe read back ${JSON.stringify(field)}, not "1"`;
  if (encoding instanceof ReplyError) return `OBJECT ENCODING answered ${encoding.message}`;
  if (String(encoding) !== 'listpack') return `a restored listpack hash became ${String(encoding)}`;
  return undefined;
}
