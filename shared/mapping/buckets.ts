import { ConfigError, classifyReplyError } from '../errors/index.js';
import { type Reply, ReplyError, type Target } from '../redis/index.js';
import { fnv1a32 } from './fnv.js';

/**
 * How a bucketed dataset maps keys to hash fields. Stored with the dataset (hash `<prefix>meta`) so that any
 * reader can find any key.
 */
export type BucketParams =
  | {
      readonly scheme: 'hash';
      /** Prefix of bucket keys, e.g. `user:bkt:`. */
      readonly prefix: string;
      /** The key template's literal prefix, stripped from keys to form the field (`user:`). */
      readonly keyPrefix: string;
      readonly bucketCount: number;
      /**
       * A prefix every sampled key had after `keyPrefix` (a `{key}` template over `user:…` keys), also left out
       * of the field; a key without it is stored whole behind a NUL byte (see {@link fieldOfSuffix}).
       * Absent when nothing is stripped.
       */
      readonly fieldStrip?: string;
    }
  | {
      readonly scheme: 'range';
      readonly prefix: string;
      readonly keyPrefix: string;
      /** Ids per bucket: bucket = floor(id / bucketSize), field = id mod bucketSize. */
      readonly bucketSize: number;
    };

/** Where one key lives in a bucketed dataset. */
export interface BucketAddress {
  /** Bucket index (the number after the prefix). */
  readonly index: number;
  /** The bucket's Redis key. */
  readonly bucket: string;
  /** The field inside the bucket. */
  readonly field: string;
}

const INTEGER = /^(0|[1-9][0-9]*)$/;

/** Marks a field that holds its key's whole suffix because the suffix lacks the stripped prefix. */
export const UNSTRIPPED_MARK = '\u0000';

/**
 * The hash-scheme field of a key's suffix (the key without `keyPrefix`) when `strip` is left out of fields:
 * the suffix without `strip`, or, when it does not start with it (or what follows starts with the mark), the
 * mark followed by the whole suffix. One-to-one: a stripped field never starts with the mark.
 *
 * @example
 * fieldOfSuffix('user:42', 'user:'); // '42'
 * fieldOfSuffix('team:7', 'user:'); // '\u0000team:7'
 */
export function fieldOfSuffix(suffix: string, strip: string): string {
  return suffix.startsWith(strip) && suffix.charCodeAt(strip.length) !== 0
    ? suffix.slice(strip.length)
    : UNSTRIPPED_MARK + suffix;
}

/** Characters that end a key's namespace (`user:`, `tenant/7/`, `app.cache.`): a stripped prefix ends with one. */
const SEPARATORS = /[:/|#._-]/;

/** Share of sampled keys that must have a prefix for it to be stripped: the others cost one byte more. */
export const STRIP_MIN_SHARE = 0.9;
/** Longest namespace looked at, in characters. */
const STRIP_MAX_LENGTH = 64;

/**
 * The longest prefix ending in a separator (`:`, `/`, `|`, `#`, `.`, `_` or `-`) that at least
 * {@link STRIP_MIN_SHARE} of `suffixes` start with; '' when there is none. Cut at a separator so that a sample of
 * `user:000123`… does not strip `user:000` from keys the sample did not see; a share rather than all, so that a
 * few keys from elsewhere do not cost every other key its saving. Buckets leave it out of their fields (see
 * {@link fieldOfSuffix}).
 *
 * @example
 * commonPrefix(['user:0012', 'user:0047', 'team:1', …]); // 'user:' when 90 % of them start with it
 */
export function commonPrefix(suffixes: readonly string[]): string {
  if (suffixes.length === 0) return '';
  const counts = new Map<string, number>();
  for (const s of suffixes) {
    const max = Math.min(s.length, STRIP_MAX_LENGTH);
    for (let i = 0; i < max; i++) {
      if (!SEPARATORS.test(s[i]!)) continue;
      const prefix = s.slice(0, i + 1);
      counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
    }
  }
  const needed = Math.ceil(STRIP_MIN_SHARE * suffixes.length);
  let best = '';
  for (const [prefix, n] of counts) if (n >= needed && prefix.length > best.length) best = prefix;
  return best;
}

/** Where {@link locateBucket} leaves its second result. */
export interface BucketSlot {
  /** The field of the key inside its bucket. */
  field: string;
  /** Why the key does not fit the scheme, when the index is -1. */
  reason: string;
}

/**
 * The allocation-free core of {@link bucketOf} for the load's hot path: returns the bucket index and leaves the
 * field in `slot.field`, or returns -1 with `slot.reason` when the key does not fit the scheme.
 */
export function locateBucket(key: string, params: BucketParams, slot: BucketSlot): number {
  const prefix = params.keyPrefix;
  if (!key.startsWith(prefix)) {
    slot.reason = `key does not start with "${prefix}"`;
    return -1;
  }
  const suffix = prefix.length === 0 ? key : key.slice(prefix.length);
  if (params.scheme === 'hash') {
    const strip = params.fieldStrip;
    slot.field = strip === undefined ? suffix : fieldOfSuffix(suffix, strip);
    return fnv1a32(key) % params.bucketCount;
  }
  if (suffix.length > 15 || !INTEGER.test(suffix)) {
    slot.reason = `range buckets need a non-negative integer id after "${prefix}", got "${suffix.slice(0, 40)}"`;
    return -1;
  }
  const id = Number(suffix);
  const size = params.bucketSize;
  slot.field = String(id % size);
  return Math.floor(id / size);
}

/**
 * The bucket and field of `key`, or a reason string when the key does not fit the scheme
 * (it lacks the key prefix, or, for the range scheme, its suffix is not a non-negative integer).
 *
 * @example
 * bucketOf('user:42', { scheme: 'range', prefix: 'user:bkt:', keyPrefix: 'user:', bucketSize: 100 })
 * // { index: 0, bucket: 'user:bkt:0', field: '42' }
 */
export function bucketOf(key: string, params: BucketParams): BucketAddress | string {
  const slot: BucketSlot = { field: '', reason: '' };
  const index = locateBucket(key, params, slot);
  return index < 0 ? slot.reason : { index, bucket: params.prefix + index, field: slot.field };
}

/** The key of the hash that stores a dataset's {@link BucketParams}. */
export function metaKey(prefix: string): string {
  return `${prefix}meta`;
}

/** Field/value pairs of the meta hash. */
export function encodeBucketParams(params: BucketParams): string[] {
  const common = [
    'version',
    '1',
    'scheme',
    params.scheme,
    'prefix',
    params.prefix,
    'keyPrefix',
    params.keyPrefix,
  ];
  return params.scheme === 'hash'
    ? [
        ...common,
        'bucketCount',
        String(params.bucketCount),
        ...(params.fieldStrip === undefined ? [] : ['fieldStrip', params.fieldStrip]),
      ]
    : [...common, 'bucketSize', String(params.bucketSize)];
}

/** Parses an `HGETALL <prefix>meta` reply; undefined when the hash is empty (no dataset yet). */
export function decodeBucketParams(reply: Reply): BucketParams | undefined {
  if (!Array.isArray(reply) || reply.length === 0) return undefined;
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
  const prefix = m.get('prefix') ?? '';
  const keyPrefix = m.get('keyPrefix') ?? '';
  if (m.get('scheme') === 'hash') {
    const bucketCount = Number(m.get('bucketCount'));
    const fieldStrip = m.get('fieldStrip');
    if (Number.isInteger(bucketCount) && bucketCount > 0)
      return { scheme: 'hash', prefix, keyPrefix, bucketCount, ...(fieldStrip ? { fieldStrip } : {}) };
  } else if (m.get('scheme') === 'range') {
    const bucketSize = Number(m.get('bucketSize'));
    if (Number.isInteger(bucketSize) && bucketSize > 0)
      return { scheme: 'range', prefix, keyPrefix, bucketSize };
  }
  throw new ConfigError(
    `bucket metadata ${metaKey(prefix)} is unreadable: ${JSON.stringify(reply).slice(0, 200)}`,
  );
}

/** Reads a dataset's bucket parameters from Redis; undefined when it has none. */
export async function loadBucketParams(target: Target, prefix: string): Promise<BucketParams | undefined> {
  const [reply] = await target.exec([{ key: metaKey(prefix), args: ['HGETALL', metaKey(prefix)] }]);
  if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
  return decodeBucketParams(reply ?? []);
}

/**
 * Reads one key of a bucketed dataset: `HGET bucket field`. Returns null when the key is absent. The value is a
 * UTF-8 string, or with `options.buffer: true` (default false) the exact bytes stored as a `Buffer`: a value that
 * is not valid UTF-8 would otherwise come back with replacement characters.
 *
 * @throws {ConfigError} when the key does not fit the scheme or the server's reply is not a value.
 * @example
 * const params = await loadBucketParams(target, 'user:bkt:');
 * const score = await readKey(target, 'user:42', params!); // '17'
 * const avatar = await readKey(target, 'user:42', params!, { buffer: true }); // <Buffer 89 50 4e 47 …>
 */
export function readKey(
  target: Target,
  key: string,
  params: BucketParams,
  options?: { buffer?: false },
): Promise<string | null>;
export function readKey(
  target: Target,
  key: string,
  params: BucketParams,
  options: { buffer: true },
): Promise<Buffer | null>;
export function readKey(
  target: Target,
  key: string,
  params: BucketParams,
  options?: { buffer?: boolean },
): Promise<string | Buffer | null>;
export async function readKey(
  target: Target,
  key: string,
  params: BucketParams,
  options: { buffer?: boolean } = {},
): Promise<string | Buffer | null> {
  const address = bucketOf(key, params);
  if (typeof address === 'string') throw new ConfigError(`readKey("${key.slice(0, 100)}"): ${address}`);
  const buffers = options.buffer === true;
  const [reply] = await target.exec(
    [{ key: address.bucket, args: ['HGET', address.bucket, address.field] }],
    buffers ? { buffers } : undefined,
  );
  if (reply === null || (buffers && Buffer.isBuffer(reply)) || (!buffers && typeof reply === 'string')) {
    return reply;
  }
  throw new ConfigError(
    `readKey("${key.slice(0, 100)}"): unexpected reply ${JSON.stringify(reply).slice(0, 200)}`,
  );
}
