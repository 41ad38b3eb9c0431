import type { ImportSpec } from '../config/index.js';
import { ConfigError, classifyReplyError } from '../errors/index.js';
import {
  type BucketParams,
  commonPrefix,
  compileTemplate,
  encodeBucketParams,
  loadBucketParams,
  metaKey,
} from '../mapping/index.js';
import { fitBucketSize, type ListpackLimits } from '../memory/index.js';
import { ReplyError, type Target } from '../redis/index.js';

/** The bucket-key prefix a bucketed spec uses: `model.prefix`, or the key template's literal prefix + `bkt:`. */
export function bucketPrefix(spec: ImportSpec): string {
  if (spec.model.type !== 'bucketed') throw new TypeError('not a bucketed spec');
  return spec.model.prefix ?? `${compileTemplate(spec.key).literalPrefix}bkt:`;
}

function describe(p: BucketParams): string {
  return p.scheme === 'hash'
    ? `hash scheme, ${p.bucketCount} buckets`
    : `range scheme, ${p.bucketSize} ids per bucket`;
}

/**
 * Fixes a bucketed load's parameters before any data is written, and stores them with the dataset
 * (hash `<prefix>meta` on every shard) so readers — and later loads — find every key.
 *
 * A dataset that already has parameters keeps them: a spec asking for different ones is a {@link ConfigError}
 * (keys would land in buckets readers never look in). For a new hash-scheme dataset without `bucketCount`,
 * the count is `ceil(estimatedRecords / bucketSize)`.
 *
 * With the servers' `listpack` limits (see `readShard` in shared/memory), the bucket size is first lowered so
 * buckets keep the listpack encoding (`fitBucketSize`: exact for the range scheme, mean + 5·√mean ≤
 * `hash-max-listpack-entries` for the hash scheme).
 *
 * With `sampleKeys` (the pre-flight's sampled keys), a new hash-scheme dataset whose key template has no literal
 * prefix (`{key}`) leaves the namespace its keys share (`commonPrefix`: `user:`) out of every field
 * (`fieldStrip`).
 */
export async function resolveBucketParams(
  spec: ImportSpec,
  targets: readonly Target[],
  estimatedRecords: number,
  listpack?: ListpackLimits,
  sampleKeys?: readonly string[],
): Promise<BucketParams> {
  const declared = spec.model;
  if (declared.type !== 'bucketed') throw new TypeError('not a bucketed spec');
  const model = listpack
    ? { ...declared, bucketSize: fitBucketSize(declared.scheme, declared.bucketSize, listpack.entries).size }
    : declared;
  const prefix = bucketPrefix(spec);
  const keyPrefix = compileTemplate(spec.key).literalPrefix;
  let existing: BucketParams | undefined;
  for (const t of targets) {
    existing = await loadBucketParams(t, prefix);
    if (existing) break;
  }
  // A `{key}` template over keys that share a namespace: fields leave it out (9.8 instead of 19.3 B/key for
  // `user:<8 digits>` keys). Fixed by the first load: later loads keep what the dataset has.
  const strip =
    existing?.scheme === 'hash'
      ? existing.fieldStrip
      : keyPrefix === '' && sampleKeys
        ? commonPrefix(sampleKeys) || undefined
        : undefined;
  const wanted: BucketParams =
    model.scheme === 'range'
      ? { scheme: 'range', prefix, keyPrefix, bucketSize: model.bucketSize }
      : {
          scheme: 'hash',
          prefix,
          keyPrefix,
          bucketCount:
            model.bucketCount ??
            (existing?.scheme === 'hash'
              ? existing.bucketCount
              : Math.max(1, Math.ceil(estimatedRecords / model.bucketSize))),
          ...(strip === undefined ? {} : { fieldStrip: strip }),
        };
  if (existing) {
    const same = JSON.stringify(encodeBucketParams(existing)) === JSON.stringify(encodeBucketParams(wanted));
    if (!same) {
      throw new ConfigError(
        `dataset ${prefix} already holds data loaded with ${describe(existing)}; this spec asks for ${describe(wanted)}. ` +
          `Use the same bucket settings, or another model.prefix (or delete ${metaKey(prefix)} and the buckets first).`,
      );
    }
  }
  const cmd = { key: metaKey(prefix), args: ['HSET', metaKey(prefix), ...encodeBucketParams(wanted)] };
  for (const t of targets) {
    const [reply] = await t.exec([cmd]);
    if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
  }
  return wanted;
}
