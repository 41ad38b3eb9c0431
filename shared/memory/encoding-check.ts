import { classifyError } from '../errors/index.js';
import { type BucketParams, bucketOf } from '../mapping/index.js';
import { ReplyError, type Target } from '../redis/index.js';
import { createJumpRouter } from '../sharding/index.js';
import type { KeySample } from './model.js';
import { utf8Bytes } from './sizes.js';

/** What `OBJECT ENCODING` said about a sample of hashes after a load. */
export interface EncodingCheck {
  /** Keys asked about. */
  readonly checked: number;
  readonly listpack: number;
  readonly hashtable: number;
  /** Keys that do not exist (expired, or their records were rejected). */
  readonly missing: number;
  /** Any other answer (another type, or the command refused). */
  readonly other: number;
  /** Up to five hashtable-encoded keys, to look at. */
  readonly hashtableKeys: string[];
  /** Set when the check itself failed (e.g. `OBJECT` disabled); the counts are then partial. */
  readonly error?: string;
}

/**
 * Picks up to `limit` distinct hash keys written by a load to check: the buckets (bucketed model) or keys (hash
 * model) of the sampled records, those holding a field or value longer than `valueLimit` first, since they are
 * the ones expected to have lost the listpack encoding.
 */
export function encodingSampleKeys(
  samples: readonly KeySample[],
  buckets: BucketParams | undefined,
  valueLimit: number,
  limit = 64,
): string[] {
  const isLong = new Map<string, boolean>();
  for (const s of samples) {
    let key = s.key;
    let texts: readonly string[] = s.pairs ? s.pairs.flat() : [];
    if (buckets) {
      const address = bucketOf(s.key, buckets);
      if (typeof address === 'string' || s.value === undefined) continue;
      key = address.bucket;
      texts = [address.field, s.value];
    }
    const long = texts.some((t) => utf8Bytes(t) > valueLimit);
    isLong.set(key, (isLong.get(key) ?? false) || long);
  }
  const keys = [...isLong.keys()];
  return [...keys.filter((k) => isLong.get(k)), ...keys.filter((k) => !isLong.get(k))].slice(0, limit);
}

/**
 * Asks every key's shard for `OBJECT ENCODING key` (one pipeline per shard) and counts the answers. Keys are
 * routed the way the loader routes them (jump hash over `targets`). Never throws: a failure is in `error`.
 *
 * @example
 * const check = await checkEncodings(targets, ['user:bkt:0', 'user:bkt:1']);
 * if (check.hashtable > 0) console.warn(`${check.hashtable} buckets lost the listpack encoding`);
 */
export async function checkEncodings(
  targets: readonly Target[],
  keys: readonly string[],
): Promise<EncodingCheck> {
  const router = createJumpRouter(targets.length);
  const byShard = targets.map(() => [] as string[]);
  for (const key of keys) byShard[router.route(key)]!.push(key);
  const counts = { listpack: 0, hashtable: 0, missing: 0, other: 0 };
  const hashtableKeys: string[] = [];
  let error: string | undefined;
  await Promise.all(
    targets.map(async (t, i) => {
      const shardKeys = byShard[i]!;
      try {
        const replies = await t.exec(shardKeys.map((k) => ({ key: k, args: ['OBJECT', 'ENCODING', k] })));
        replies.forEach((reply, j) => {
          if (reply === null) counts.missing++;
          else if (reply === 'listpack' || reply === 'ziplist') counts.listpack++;
          else if (reply === 'hashtable') {
            counts.hashtable++;
            if (hashtableKeys.length < 5) hashtableKeys.push(shardKeys[j]!);
          } else {
            counts.other++;
            if (reply instanceof ReplyError)
              error ??= `${t.name}: OBJECT ENCODING: ${reply.message.slice(0, 120)}`;
          }
        });
      } catch (err) {
        error ??= `${t.name}: ${classifyError(err).message}`;
      }
    }),
  );
  return { checked: keys.length, ...counts, hashtableKeys, ...(error ? { error } : {}) };
}
