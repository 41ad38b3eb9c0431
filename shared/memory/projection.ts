import type { ImportSpec } from '../config/index.js';
import { commonPrefix, compileTemplate } from '../mapping/index.js';
import { type BucketFit, fitBucketSize } from './buckets.js';
import { DEFAULT_LISTPACK, DEFAULT_MEMORY_LIMIT, type ListpackLimits } from './constants.js';
import { formatCount } from './format.js';
import { estimateMemory, type MemoryEstimate, type ModelChoice } from './model.js';
import type { SourceSample } from './sample.js';
import type { ShardReading } from './server.js';

/** The bucket size used when a spec does not name one. */
const DEFAULT_BUCKET_SIZE = 100;

/** One data model's projected cost over all shards. */
export interface ModelProjection {
  /** `string`, `hash`, `bucketed`. */
  readonly type: 'string' | 'hash' | 'bucketed';
  /** Bucketed only. */
  readonly scheme?: 'hash' | 'range';
  /** Bucketed only: fields per bucket (the mean for the hash scheme), after the listpack limit. */
  readonly bucketSize?: number;
  /** Bucketed hash scheme only. */
  readonly bucketCount?: number;
  /** Human name: `string`, `bucketed (hash scheme, 82 per bucket)`. */
  readonly label: string;
  /** Sum over the shards. */
  readonly estimate: MemoryEstimate;
  /** One per shard (or one for a plan without servers). */
  readonly perShard: MemoryEstimate[];
  /** Whether it stays under the limit on every shard with a known `maxmemory`; undefined when none has one. */
  readonly fits: boolean | undefined;
}

/** How one shard would fare with the spec's model. */
export interface ShardProjection {
  readonly shard: string;
  readonly usedMemory?: number;
  readonly maxMemory?: number;
  readonly policy?: string;
  /** Records routed here (keys spread evenly over shards). */
  readonly keys: number;
  /** Steady growth and the extra held during the load (rehashing). */
  readonly growth: number;
  readonly transient: number;
  /** used + growth + transient, when used memory is known. */
  readonly projected?: number;
  /** limit × maxmemory, when maxmemory is set. */
  readonly limitBytes?: number;
  /** projected / maxmemory. */
  readonly ratio?: number;
  /**
   * `fits`; `overflow` (over the limit); `no-limit` (maxmemory 0: a risk, not a refusal); `unknown` (memory
   * unreadable); `unreachable`.
   */
  readonly verdict: 'fits' | 'overflow' | 'no-limit' | 'unknown' | 'unreachable';
  /** `used_memory_rss` before the load, when INFO reports it. */
  readonly rss?: number;
  /** RSS gained per byte of `used_memory` growth, for how this load writes (`RSS_GROWTH`). */
  readonly rssFactor: number;
  /** RSS after the load: `rss` (else used memory) + growth × `rssFactor`, when memory is known. */
  readonly projectedRss?: number;
}

/** What a projection needs: the spec, the sample, and the share of maxmemory a shard may reach. */
export interface ProjectionInput {
  readonly spec: ImportSpec;
  readonly sample: SourceSample;
  /** @default 0.85 */
  readonly limit?: number;
}

/** A data model with the parameters the spec (or a suggestion) gives it. */
export type Variant =
  | { type: 'string' }
  | { type: 'hash' }
  | { type: 'bucketed'; scheme: 'hash' | 'range'; requested: number; bucketCount?: number; prefix: string };

function modelLabel(v: Variant, size?: number, count?: number): string {
  if (v.type !== 'bucketed') return v.type;
  return v.scheme === 'hash'
    ? `bucketed (hash scheme, ${formatCount(count ?? 0)} buckets of ~${size} fields)`
    : `bucketed (range scheme, ${size} ids per bucket)`;
}

/**
 * Projects one model over the shards (`undefined` readings: a plan without servers): keys spread evenly, each
 * shard estimated with its own settings and existing keys, bucket sizes fitted to the tightest listpack limit.
 */
export function projectModel(
  v: Variant,
  input: ProjectionInput,
  readings: readonly (ShardReading | undefined)[],
  listpack: ListpackLimits,
): ModelProjection & { fit?: BucketFit } {
  const { sample, spec } = input;
  const shards = readings.length;
  const keysPerShard = sample.keys / shards;
  const keyPrefix = compileTemplate(spec.key).literalPrefix;
  let choice: (shardBuckets: number) => ModelChoice;
  let fit: BucketFit | undefined;
  let bucketCount: number | undefined;
  if (v.type === 'bucketed') {
    fit = fitBucketSize(v.scheme, v.requested, listpack.entries);
    if (v.scheme === 'hash') {
      // As resolveBucketParams in shared/import: records over the bucket size.
      const total = v.bucketCount ?? Math.max(1, Math.ceil(sample.records / fit.size));
      bucketCount = total;
      // As resolveBucketParams: a `{key}` template leaves the sampled keys' namespace out of fields.
      const strip = keyPrefix === '' ? commonPrefix(sample.samples.map((s) => s.key)) : '';
      choice = (perShard) => ({
        type: 'bucketed',
        scheme: 'hash',
        prefix: v.prefix,
        keyPrefix,
        bucketCount: perShard,
        totalBuckets: total,
        ...(strip ? { fieldStrip: strip } : {}),
      });
    } else {
      const size = fit.size;
      choice = () => ({
        type: 'bucketed',
        scheme: 'range',
        prefix: v.prefix,
        keyPrefix,
        bucketSize: size,
        totalKeys: sample.keys,
      });
    }
  } else {
    const t = v.type;
    choice = () => ({ type: t });
  }
  const perShard = readings.map((r) =>
    estimateMemory(choice((bucketCount ?? 0) / shards), sample.samples, keysPerShard, {
      listpack: r?.listpack ?? DEFAULT_LISTPACK,
      sharedIntegers: r?.sharedIntegers ?? true,
      ttl: spec.ttl !== false,
      existingKeys: r?.keys ?? 0,
      existingExpires: r?.expires ?? 0,
    }),
  );
  const sum = (f: (e: MemoryEstimate) => number) => perShard.reduce((a, e) => a + f(e), 0);
  const bytes = sum((e) => e.bytes);
  const estimate: MemoryEstimate = {
    keys: sample.keys,
    redisKeys: sum((e) => e.redisKeys),
    bytes,
    transientBytes: sum((e) => e.transientBytes),
    bytesPerKey: sample.keys > 0 ? bytes / sample.keys : 0,
    longEntries: perShard[0]?.longEntries ?? 0,
    samples: perShard[0]?.samples ?? 0,
    ...(perShard[0]?.hashtableShare === undefined ? {} : { hashtableShare: perShard[0].hashtableShare }),
    ...(perShard[0]?.meanBucketFill === undefined ? {} : { meanBucketFill: perShard[0].meanBucketFill }),
  };
  const verdicts = readings.map((r, i) => shardVerdict(r, perShard[i]!, input.limit ?? DEFAULT_MEMORY_LIMIT));
  const known = verdicts.filter((x) => x.verdict === 'fits' || x.verdict === 'overflow');
  return {
    type: v.type,
    ...(v.type === 'bucketed' ? { scheme: v.scheme, bucketSize: fit!.size } : {}),
    ...(bucketCount === undefined ? {} : { bucketCount }),
    label: modelLabel(v, fit?.size, bucketCount),
    estimate,
    perShard,
    fits: known.length === 0 ? undefined : known.every((x) => x.verdict === 'fits'),
    ...(fit ? { fit } : {}),
  };
}

/** How a shard fares with an estimate: projected used memory against `limit` × maxmemory. */
export function shardVerdict(
  r: ShardReading | undefined,
  e: MemoryEstimate,
  limit: number,
): Pick<ShardProjection, 'projected' | 'limitBytes' | 'ratio' | 'verdict'> {
  if (r === undefined) return { verdict: 'unknown' };
  if (r.error !== undefined) return { verdict: 'unreachable' };
  if (r.usedMemory === undefined) return { verdict: 'unknown' };
  const projected = r.usedMemory + e.bytes + e.transientBytes;
  if (r.maxMemory === undefined) return { projected, verdict: 'unknown' };
  if (r.maxMemory === 0) return { projected, verdict: 'no-limit' };
  const limitBytes = limit * r.maxMemory;
  return {
    projected,
    limitBytes,
    ratio: projected / r.maxMemory,
    verdict: projected > limitBytes ? 'overflow' : 'fits',
  };
}

/** The spec's own model and the alternatives worth showing (bucketed for string specs, string for bucketed). */
export function modelVariants(spec: ImportSpec, sample: SourceSample): { own: Variant; others: Variant[] } {
  const model = spec.model;
  const keyPrefix = compileTemplate(spec.key).literalPrefix;
  const defaultPrefix = `${keyPrefix}bkt:`;
  if (model.type === 'hash') return { own: { type: 'hash' }, others: [] };
  if (model.type === 'bucketed') {
    return {
      own: {
        type: 'bucketed',
        scheme: model.scheme,
        requested: model.bucketSize,
        ...(model.bucketCount === undefined ? {} : { bucketCount: model.bucketCount }),
        prefix: model.prefix ?? defaultPrefix,
      },
      others: [{ type: 'string' }],
    };
  }
  const others: Variant[] = [
    { type: 'bucketed', scheme: 'hash', requested: DEFAULT_BUCKET_SIZE, prefix: defaultPrefix },
  ];
  const integerIds = sample.samples.filter((s) =>
    /^(0|[1-9][0-9]{0,14})$/.test(s.key.slice(keyPrefix.length)),
  );
  if (sample.samples.length > 0 && integerIds.length >= 0.99 * sample.samples.length) {
    others.push({ type: 'bucketed', scheme: 'range', requested: DEFAULT_BUCKET_SIZE, prefix: defaultPrefix });
  }
  return { own: { type: 'string' }, others };
}
