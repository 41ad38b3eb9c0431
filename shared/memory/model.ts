import { type BucketParams, bucketOf } from '../mapping/index.js';
import type { ListpackLimits } from './constants.js';
import { poissonTerms } from './poisson.js';
import {
  dictGrowth,
  hashtableBytes,
  listpackBytes,
  listpackEntryBytes,
  REDIS_SIZES,
  sdsAlloc,
  stringValueBytes,
  utf8Bytes,
} from './sizes.js';

/** One sampled record as the loader would write it: its key and either a value or hash fields. */
export interface KeySample {
  readonly key: string;
  /** The stored value (string and bucketed models). */
  readonly value?: string;
  /** Field/value pairs (hash model). */
  readonly pairs?: readonly (readonly [string, string])[];
}

/** The data model to estimate, with what it needs beyond the samples. */
export type ModelChoice =
  | { readonly type: 'string' }
  | { readonly type: 'hash' }
  | {
      readonly type: 'bucketed';
      readonly scheme: 'hash';
      /** Prefix of bucket keys (`user:bkt:`). */
      readonly prefix: string;
      /** The key template's literal prefix, stripped to form the field (`user:`). */
      readonly keyPrefix: string;
      /** Buckets on the shard being estimated (may be fractional when spread over shards). */
      readonly bucketCount: number;
      /** Buckets of the whole dataset: sets the bucket index range, so the bucket keys' length. */
      readonly totalBuckets: number;
      /** The namespace left out of fields (see `fieldStrip` of the bucket parameters). */
      readonly fieldStrip?: string;
    }
  | {
      readonly type: 'bucketed';
      readonly scheme: 'range';
      readonly prefix: string;
      readonly keyPrefix: string;
      readonly bucketSize: number;
      /** Keys of the whole dataset: with the sampled id range, how densely ids fill the buckets. */
      readonly totalKeys: number;
    };

/** What one shard holds already and how it stores data. */
export interface ModelContext {
  readonly listpack: ListpackLimits;
  /** False under an LRU/LFU maxmemory-policy: then even values 0…9999 need their own object. */
  readonly sharedIntegers: boolean;
  /** Keys get a TTL (one per bucket in the bucketed model). */
  readonly ttl: boolean;
  /** Keys already in the target database (its dict only grows past them). @default 0 */
  readonly existingKeys?: number;
  /** Keys with an expiry already in the target database. @default 0 */
  readonly existingExpires?: number;
}

/** The projected growth of Redis's `used_memory` for a number of keys in one model. */
export interface MemoryEstimate {
  /** Records (keys of the source) the estimate is for. */
  readonly keys: number;
  /** Keys Redis ends up holding: one per record, or one per bucket. */
  readonly redisKeys: number;
  /** Steady `used_memory` growth once the load is done. */
  readonly bytes: number;
  /** Extra memory held for a while during the load (the old hash table while Redis rehashes). */
  readonly transientBytes: number;
  readonly bytesPerKey: number;
  /** Hash-typed models: share of hashes expected to lose the listpack encoding. */
  readonly hashtableShare?: number;
  /** Bucketed model: mean fields per non-empty bucket. */
  readonly meanBucketFill?: number;
  /** Sampled fields or values longer than `hash-max-listpack-value` (they turn their hash into a hashtable). */
  readonly longEntries: number;
  /** Samples the estimate rests on. */
  readonly samples: number;
}

interface Body {
  /** Bytes of the per-key data, without the keyspace tables. */
  data: number;
  redisKeys: number;
  hashtableShare?: number;
  meanBucketFill?: number;
  longEntries: number;
  samples: number;
}

/** Mean of `f` over the items (0 for none). */
function mean<T>(items: readonly T[], f: (item: T) => number): number {
  if (items.length === 0) return 0;
  let sum = 0;
  for (const item of items) sum += f(item);
  return sum / items.length;
}

/** Keyspace cost of one key: its dictEntry and key SDS, and its expires entry when it has a TTL. */
function keyBytes(key: string, ttl: boolean): number {
  return REDIS_SIZES.dictEntry + sdsAlloc(utf8Bytes(key)) + (ttl ? REDIS_SIZES.dictEntry : 0);
}

function stringBody(samples: readonly KeySample[], keys: number, ctx: ModelContext): Body {
  const usable = samples.filter((s) => s.value !== undefined);
  const perKey = mean(
    usable,
    (s) => keyBytes(s.key, ctx.ttl) + stringValueBytes(s.value!, ctx.sharedIntegers),
  );
  return { data: perKey * keys, redisKeys: keys, longEntries: 0, samples: usable.length };
}

function hashPerRecordBody(samples: readonly KeySample[], keys: number, ctx: ModelContext): Body {
  const usable = samples.filter((s) => s.pairs !== undefined && s.pairs.length > 0);
  let converted = 0;
  let longEntries = 0;
  const perKey = mean(usable, (s) => {
    const pairs = s.pairs!;
    let long = false;
    let entries = 0;
    for (const [f, v] of pairs) {
      if (utf8Bytes(f) > ctx.listpack.value || utf8Bytes(v) > ctx.listpack.value) {
        long = true;
        longEntries++;
      }
      entries += listpackEntryBytes(f) + listpackEntryBytes(v);
    }
    let body: number;
    if (long || pairs.length > ctx.listpack.entries) {
      converted++;
      const fieldAlloc = mean(pairs, ([f]) => sdsAlloc(utf8Bytes(f)));
      const valueAlloc = mean(pairs, ([, v]) => sdsAlloc(utf8Bytes(v)));
      body = hashtableBytes(pairs.length, fieldAlloc, valueAlloc);
    } else {
      body = listpackBytes(entries);
    }
    return keyBytes(s.key, ctx.ttl) + REDIS_SIZES.robj + body;
  });
  return {
    data: perKey * keys,
    redisKeys: keys,
    hashtableShare: usable.length > 0 ? converted / usable.length : 0,
    longEntries,
    samples: usable.length,
  };
}

interface BucketEntry {
  bucket: string;
  field: string;
  value: string;
}

function bucketEntries(samples: readonly KeySample[], params: BucketParams): BucketEntry[] {
  const out: BucketEntry[] = [];
  for (const s of samples) {
    if (s.value === undefined) continue;
    const address = bucketOf(s.key, params);
    // Keys that do not fit the scheme are rejected by the loader and cost nothing.
    if (typeof address === 'string') continue;
    out.push({ bucket: address.bucket, field: address.field, value: s.value });
  }
  return out;
}

/**
 * For the range scheme: how many of a bucket's `bucketSize` ids the data fills. The id density is the dataset's
 * keys over the span of the sampled ids (samples come from the whole file, in any order).
 */
function rangeFill(
  samples: readonly KeySample[],
  keyPrefix: string,
  totalKeys: number,
  size: number,
): number {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const s of samples) {
    const id = Number(s.key.slice(keyPrefix.length));
    if (!Number.isSafeInteger(id)) continue;
    if (id < min) min = id;
    if (id > max) max = id;
  }
  if (!(max >= min) || totalKeys <= 0) return size;
  const density = Math.min(1, totalKeys / (max - min + 1));
  // Mean fill of the buckets that hold at least one id.
  const nonEmpty = 1 - (1 - density) ** size;
  return Math.min(size, Math.max(1, (density * size) / nonEmpty));
}

function bucketedBody(
  samples: readonly KeySample[],
  keys: number,
  ctx: ModelContext,
  model: Extract<ModelChoice, { type: 'bucketed' }>,
): Body {
  const params: BucketParams =
    model.scheme === 'hash'
      ? {
          scheme: 'hash',
          prefix: model.prefix,
          keyPrefix: model.keyPrefix,
          bucketCount: Math.max(1, Math.round(model.totalBuckets)),
          ...(model.fieldStrip ? { fieldStrip: model.fieldStrip } : {}),
        }
      : { scheme: 'range', prefix: model.prefix, keyPrefix: model.keyPrefix, bucketSize: model.bucketSize };
  const entries = bucketEntries(samples, params);
  const limit = ctx.listpack;
  let longEntries = 0;
  for (const e of entries) {
    if (utf8Bytes(e.field) > limit.value || utf8Bytes(e.value) > limit.value) longEntries++;
  }
  const pLong = entries.length > 0 ? longEntries / entries.length : 0;
  const entryBytes = mean(entries, (e) => listpackEntryBytes(e.field) + listpackEntryBytes(e.value));
  const fieldAlloc = mean(entries, (e) => sdsAlloc(utf8Bytes(e.field)));
  const valueAlloc = mean(entries, (e) => sdsAlloc(utf8Bytes(e.value)));
  const fixed =
    REDIS_SIZES.dictEntry +
    mean(entries, (e) => sdsAlloc(utf8Bytes(e.bucket))) +
    REDIS_SIZES.robj +
    (ctx.ttl ? REDIS_SIZES.dictEntry : 0);
  const ht = (k: number) => hashtableBytes(k, fieldAlloc, valueAlloc);
  // Expected body of a bucket of k fields and the chance it is a hashtable (too many fields, or a long one).
  const bucket = (k: number): { bytes: number; htChance: number } => {
    if (k > limit.entries) return { bytes: ht(k), htChance: 1 };
    const allShort = (1 - pLong) ** k;
    return {
      bytes: allShort * listpackBytes(k * entryBytes) + (1 - allShort) * ht(k),
      htChance: 1 - allShort,
    };
  };
  const base = { longEntries, samples: entries.length };
  if (keys <= 0 || entries.length === 0) return { data: 0, redisKeys: 0, ...base };

  if (model.scheme === 'range') {
    const fill = rangeFill(samples, model.keyPrefix, model.totalKeys, model.bucketSize);
    const buckets = keys / fill;
    const lower = Math.floor(fill);
    const frac = fill - lower;
    // Interpolate between whole fills so the size-class steps do not jump.
    const at = (k: number) => (k < 1 ? { bytes: 0, htChance: 0 } : bucket(k));
    const a = at(lower);
    const b = at(lower + 1);
    const bytes = (1 - frac) * a.bytes + frac * b.bytes;
    const htChance = (1 - frac) * a.htChance + frac * b.htChance;
    return {
      data: buckets * (fixed + bytes),
      redisKeys: buckets,
      hashtableShare: htChance,
      meanBucketFill: fill,
      ...base,
    };
  }

  const bucketsHere = Math.max(model.bucketCount, Number.MIN_VALUE);
  const m = keys / bucketsHere;
  let bytes = 0;
  let mass = 0;
  let htChance = 0;
  for (const { k, p } of poissonTerms(m)) {
    const b = bucket(k);
    bytes += p * (fixed + b.bytes);
    htChance += p * b.htChance;
    mass += p;
  }
  return {
    data: bucketsHere * bytes,
    redisKeys: bucketsHere * mass,
    hashtableShare: mass > 0 ? htChance / mass : 0,
    meanBucketFill: mass > 0 ? m / mass : m,
    ...base,
  };
}

/**
 * Estimates how much Redis's `used_memory` grows when `keys` records are loaded in `model` on one shard, from a
 * sample of the records and the shard's settings. The per-key cost is exact for each sampled record (jemalloc
 * size classes, dictEntry, robj, SDS headers, expires entries, listpack integer and string encodings with their
 * back-lengths, hashtable fallback); the keyspace hash tables grow by powers of two from `existingKeys`; for the
 * hash bucket scheme the number of fields per bucket is Poisson-distributed around the mean.
 *
 * @example
 * const samples = [{ key: 'user:1', value: '42' }, { key: 'user:2', value: '7' }];
 * estimateMemory({ type: 'string' }, samples, 1_000_000, { listpack: DEFAULT_LISTPACK, sharedIntegers: true, ttl: false });
 * // { bytes: ≈ 56.4e6, bytesPerKey: ≈ 56.4, … }
 */
export function estimateMemory(
  model: ModelChoice,
  samples: readonly KeySample[],
  keys: number,
  ctx: ModelContext,
): MemoryEstimate {
  const body =
    model.type === 'string'
      ? stringBody(samples, keys, ctx)
      : model.type === 'hash'
        ? hashPerRecordBody(samples, keys, ctx)
        : bucketedBody(samples, keys, ctx, model);
  const redisKeys = Math.round(body.redisKeys);
  const main = dictGrowth(ctx.existingKeys ?? 0, redisKeys);
  const expires = ctx.ttl ? dictGrowth(ctx.existingExpires ?? 0, redisKeys) : { bytes: 0, transient: 0 };
  const bytes = body.data + main.bytes + expires.bytes;
  return {
    keys,
    redisKeys,
    bytes,
    transientBytes: main.transient + expires.transient,
    bytesPerKey: keys > 0 ? bytes / keys : 0,
    longEntries: body.longEntries,
    samples: body.samples,
    ...(body.hashtableShare === undefined ? {} : { hashtableShare: body.hashtableShare }),
    ...(body.meanBucketFill === undefined ? {} : { meanBucketFill: body.meanBucketFill }),
  };
}
