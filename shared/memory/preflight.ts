import type { ImportSpec } from '../config/index.js';
import { serversOf, type Target } from '../redis/index.js';
import { type BucketFit, maxHashBucketMean } from './buckets.js';
import { DEFAULT_LISTPACK, DEFAULT_MEMORY_LIMIT, type ListpackLimits, RSS_GROWTH } from './constants.js';
import { formatBytes, formatCount, formatPercent } from './format.js';
import {
  type ModelProjection,
  modelVariants,
  projectModel,
  type ShardProjection,
  shardVerdict,
  type Variant,
} from './projection.js';
import type { SourceSample } from './sample.js';
import { readShard, type ShardReading, tightestListpack } from './server.js';

/** The pre-flight's verdict and everything it rests on. */
export interface PreflightReport {
  /** `refuse` only when a shard would overflow and the refusal was not overridden. */
  readonly decision: 'proceed' | 'refuse';
  /** True when `force` overrode a refusal. */
  readonly forced: boolean;
  /** Share of maxmemory a shard may reach. */
  readonly limit: number;
  readonly source: string;
  /** Bytes, records and keys to load (estimated from the sample unless `complete`). */
  readonly bytes: number;
  readonly records: number;
  readonly keys: number;
  readonly bytesPerRecord: number;
  readonly sampledRecords: number;
  readonly complete: boolean;
  /** The tightest listpack limits over the shards, and whether they were read or assumed. */
  readonly listpack: ListpackLimits;
  readonly listpackSource: 'config' | 'default';
  /** The spec's model. */
  readonly model: ModelProjection;
  /** Other models worth knowing about (bucketed for a string spec, string for a bucketed one). */
  readonly alternatives: ModelProjection[];
  readonly shards: ShardProjection[];
  /** Bucketed specs: the bucket size after the listpack limit. */
  readonly bucketFit?: BucketFit;
  /** Risks that do not stop the load: no maxmemory, unreadable settings, long values. */
  readonly warnings: string[];
  /** Why the load is (or, when forced, would have been) refused. */
  readonly refusal?: string;
  /** What to do instead, when a model that fits exists. */
  readonly suggestion?: string;
  /** What could not be read, with the fallback used, per shard. */
  readonly unread: string[];
}

/** Everything the pure assessment needs. */
export interface PreflightInput {
  readonly spec: ImportSpec;
  readonly sample: SourceSample;
  /** One reading per shard; empty for a plan without servers (documented defaults are used). */
  readonly readings: readonly ShardReading[];
  /** Share of `maxmemory` the projection may reach. @default 0.85 */
  readonly limit?: number;
  /** Proceed even when a shard would overflow. @default false */
  readonly force?: boolean;
  /**
   * How a bucketed load writes: `grouped` (each bucket whole) or `direct` (record by record, in source order).
   * Decides how much RSS the growth costs (`RSS_GROWTH`). @default 'direct'
   */
  readonly writes?: 'direct' | 'grouped';
}

/**
 * RSS gained per byte of `used_memory` growth: hash-scheme buckets grown one field at a time fragment the
 * allocator; whole buckets, range buckets filled in order and plain keys hardly do.
 */
function rssGrowthFactor(v: Variant, writes: 'direct' | 'grouped'): number {
  return v.type === 'bucketed' && v.scheme === 'hash' && writes === 'direct'
    ? RSS_GROWTH.scattered
    : RSS_GROWTH.compact;
}

function describeShard(p: ShardProjection, limit: number): string {
  const used = p.usedMemory === undefined ? '?' : formatBytes(p.usedMemory);
  const max = p.maxMemory === undefined ? '?' : formatBytes(p.maxMemory);
  const ratio = p.ratio === undefined ? '' : ` = ${formatPercent(p.ratio)} of maxmemory ${max}`;
  return `${p.shard}: used ${used} + ${formatBytes(p.growth + p.transient)} → ${formatBytes(p.projected ?? 0)}${ratio}, over the limit of ${formatPercent(limit)}`;
}

/**
 * The pre-flight, pure: from a sample of the source and a reading of each shard, projects every shard's memory
 * after the load in the spec's model (and in the alternatives), and decides. It refuses when a shard's
 * projected `used_memory` (now + growth + the rehash peak) exceeds `limit` × `maxmemory`; `force` overrides.
 * `maxmemory 0`, unreachable shards and unreadable settings are warnings, never refusals.
 *
 * @example
 * const report = assessPreflight({ spec, sample, readings });
 * if (report.decision === 'refuse') throw new Error(`${report.refusal}\n${report.suggestion ?? ''}`);
 */
export function assessPreflight(input: PreflightInput): PreflightReport {
  const { spec, sample } = input;
  const limit = input.limit ?? DEFAULT_MEMORY_LIMIT;
  const readings: (ShardReading | undefined)[] =
    input.readings.length > 0 ? [...input.readings] : [undefined];
  const listpack = input.readings.length > 0 ? tightestListpack(input.readings) : DEFAULT_LISTPACK;
  const listpackSource =
    input.readings.length > 0 && input.readings.every((r) => r.listpackSource === 'config' && !r.error)
      ? 'config'
      : 'default';
  const { own, others } = modelVariants(spec, sample);
  const { fit, ...model } = projectModel(own, input, readings, listpack);
  const alternatives = others.map((v) => {
    const { fit: _fit, ...rest } = projectModel(v, input, readings, listpack);
    return rest;
  });

  const rssFactor = rssGrowthFactor(own, input.writes ?? 'direct');
  const shards: ShardProjection[] = readings.map((r, i) => {
    const e = model.perShard[i]!;
    const before = r?.rss ?? r?.usedMemory;
    return {
      shard: r?.shard ?? '(no server: documented defaults)',
      ...(r?.usedMemory === undefined ? {} : { usedMemory: r.usedMemory }),
      ...(r?.maxMemory === undefined ? {} : { maxMemory: r.maxMemory }),
      ...(r?.policy === undefined ? {} : { policy: r.policy }),
      keys: e.keys,
      growth: e.bytes,
      transient: e.transientBytes,
      ...shardVerdict(r, e, limit),
      ...(r?.rss === undefined ? {} : { rss: r.rss }),
      rssFactor,
      ...(before === undefined || r?.error !== undefined
        ? {}
        : { projectedRss: before + e.bytes * rssFactor }),
    };
  });

  const warnings: string[] = [];
  const unread = input.readings.flatMap((r) =>
    r.unread.map((u) => (u.startsWith(r.shard) ? u : `${r.shard}: ${u}`)),
  );
  for (const [i, p] of shards.entries()) {
    const r = readings[i];
    if (p.verdict === 'no-limit') {
      const system = r?.systemMemory
        ? ` (${formatPercent((p.projected ?? 0) / r.systemMemory)} of the host's ${formatBytes(r.systemMemory)})`
        : '';
      warnings.push(
        `${p.shard} has no maxmemory: nothing stops it short of the kernel's OOM killer; projected ${formatBytes(p.projected ?? 0)}${system}`,
      );
    } else if (p.verdict === 'unknown' && r !== undefined) {
      warnings.push(`${p.shard}: memory use or maxmemory unreadable: not checked`);
    } else if (p.verdict === 'unreachable') {
      warnings.push(`${p.shard}: ${r?.error ?? 'unreachable'}: not checked`);
    }
  }
  // maxmemory caps used_memory only: what the allocator keeps besides is the host's to hold.
  const scattered = rssFactor === RSS_GROWTH.scattered;
  const why = scattered
    ? `${rssFactor} × the growth: buckets grown one field at a time fragment the allocator`
    : `${rssFactor} × the growth`;
  const hostBound: { p: ShardProjection; peak: number; system: number }[] = [];
  for (const [i, p] of shards.entries()) {
    const system = readings[i]?.systemMemory;
    if (p.projectedRss === undefined) continue;
    const peak = p.projectedRss + p.transient;
    if (system && peak > system) hostBound.push({ p, peak, system });
    // Only the load's own fragmentation is worth a warning: it has a remedy. The server's base RSS (its code,
    // libraries, buffers: ~12 MiB for an empty server) is not.
    else if (scattered && p.maxMemory && (p.usedMemory ?? 0) + p.growth * rssFactor > p.maxMemory) {
      warnings.push(
        `${p.shard}: RSS ≈ ${formatBytes(p.projectedRss)} after the load (${why}), above maxmemory ${formatBytes(p.maxMemory)}, ` +
          `which caps used_memory only: the host must hold the difference; grouped writes (--group-buckets on) ` +
          `keep RSS near ${RSS_GROWTH.compact} × the growth`,
      );
    }
  }
  if (fit?.lowered) warnings.push(fit.reason!);
  const own0 = model.estimate;
  if (model.type !== 'string' && own0.longEntries > 0) {
    const share =
      own0.hashtableShare === undefined ? '' : ` (≈ ${formatPercent(own0.hashtableShare)} of the hashes)`;
    warnings.push(
      `${formatCount(own0.longEntries)} of ${formatCount(own0.samples)} sampled records have a field or value longer than ` +
        `hash-max-listpack-value (${listpack.value} bytes): each turns its hash into a hashtable${share}, which costs most of the memory saving`,
    );
  }
  if (own.type === 'bucketed' && own.scheme === 'hash' && own.bucketCount !== undefined) {
    const mean = sample.keys / own.bucketCount;
    const max = maxHashBucketMean(listpack.entries);
    if (mean > max) {
      warnings.push(
        `bucketCount ${formatCount(own.bucketCount)} puts ~${mean.toFixed(0)} keys in a bucket; above ${max} some buckets exceed ` +
          `hash-max-listpack-entries (${listpack.entries}) and become hashtables: use at least ${formatCount(Math.ceil(sample.keys / max))} buckets`,
      );
    }
  }

  const overflowing = shards.filter((p) => p.verdict === 'overflow');
  let refusal: string | undefined;
  let suggestion: string | undefined;
  if (overflowing.length > 0) {
    const evicting = overflowing.find((p) => p.policy !== undefined && p.policy !== 'noeviction');
    refusal =
      `loading ~${formatCount(sample.keys)} keys as ${model.label} needs ≈ ${formatBytes(own0.bytes)} ` +
      `(${own0.bytesPerKey.toFixed(1)} bytes/key) and would fill ${overflowing.length === 1 ? 'a shard' : `${overflowing.length} shards`} past ${formatPercent(limit)} of maxmemory: ` +
      overflowing.map((p) => describeShard(p, limit)).join('; ') +
      (evicting
        ? `. With maxmemory-policy ${evicting.policy} Redis would evict keys instead of refusing writes: data lost silently`
        : '. Redis would refuse writes (OOM) part-way through the load');
    const fitting = alternatives.filter((a) => a.fits === true);
    if (fitting.length > 0) {
      const how = (a: ModelProjection) =>
        a.type === 'bucketed'
          ? `--model bucketed${a.scheme === 'range' ? ' --bucket-scheme range' : ''}`
          : `--model ${a.type}`;
      suggestion =
        'these models fit: ' +
        fitting
          .map(
            (a) =>
              `${a.label} ≈ ${formatBytes(a.estimate.bytes)} (${a.estimate.bytesPerKey.toFixed(1)} bytes/key; ${how(a)})`,
          )
          .join('; ') +
        ' — or model.type in the spec';
    } else {
      suggestion = 'no model fits: raise maxmemory, add shards, or free memory first';
    }
  }
  if (hostBound.length > 0) {
    const where = hostBound
      .map(
        ({ p, peak, system }) =>
          `≈ ${formatBytes(peak)} on ${p.shard} (${formatPercent(peak / system)} of the host's ${formatBytes(system)})`,
      )
      .join(', ');
    const host = `RSS would reach ${where} (${why}, and the rehash peak): the kernel's OOM killer would stop Redis part-way through the load`;
    refusal =
      refusal === undefined
        ? `loading ~${formatCount(sample.keys)} keys as ${model.label}: ${host}`
        : `${refusal}; and ${host}`;
    if (scattered && suggestion === undefined)
      suggestion = `grouped writes (--group-buckets on) keep RSS near ${RSS_GROWTH.compact} × the growth`;
    suggestion ??= 'raise the host memory, add shards, or free memory first';
  }
  const forced = refusal !== undefined && input.force === true;
  return {
    decision: refusal !== undefined && !forced ? 'refuse' : 'proceed',
    forced,
    limit,
    source: sample.source,
    bytes: sample.bytes,
    records: sample.records,
    keys: sample.keys,
    bytesPerRecord: sample.bytesPerRecord,
    sampledRecords: sample.sampledRecords,
    complete: sample.complete,
    listpack,
    listpackSource,
    model,
    alternatives,
    shards,
    ...(fit ? { bucketFit: fit } : {}),
    warnings,
    ...(refusal ? { refusal } : {}),
    ...(suggestion ? { suggestion } : {}),
    unread,
  };
}

/**
 * Reads every shard ({@link readShard}) and runs {@link assessPreflight}: the memory pre-flight, before any write.
 * Shared by the CLI and the import-start Lambda.
 *
 * @example
 * const sample = await sampleSource(source, spec);
 * const report = await runPreflight({ spec, sample, targets });
 */
export async function runPreflight(
  input: Omit<PreflightInput, 'readings'> & { readonly targets: readonly Target[] },
): Promise<PreflightReport> {
  // A cluster's masters each hold a share of the slots: they are the shards the projection spreads over.
  const readings = await Promise.all((await serversOf(input.targets)).map((t) => readShard(t)));
  return assessPreflight({ ...input, readings });
}
