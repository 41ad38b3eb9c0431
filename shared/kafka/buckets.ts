import type { ConsumerSpec } from '../config/index.js';
import { ConfigError, classifyReplyError } from '../errors/index.js';
import {
  type BucketParams,
  compileTemplate,
  encodeBucketParams,
  loadBucketParams,
  metaKey,
} from '../mapping/index.js';
import { ReplyError, type Target } from '../redis/index.js';

/**
 * The bucket parameters a bucketed consumer writes with, fixed at cold start: an existing dataset's
 * `<prefix>meta` (so a topic keeps updating what an import loaded, and `readKey()` finds every key), or for a
 * new dataset the spec's own (stored in `<prefix>meta` on every shard). `undefined` for unbucketed models.
 *
 * @throws {ConfigError} when the dataset exists with other parameters than the spec names, or a new
 * hash-scheme dataset has no `bucketCount` (a stream has no row estimate to derive it from).
 */
export async function resolveConsumerBuckets(
  spec: ConsumerSpec,
  targets: readonly Target[],
): Promise<BucketParams | undefined> {
  const model = spec.model;
  const layout =
    model.type === 'bucketed'
      ? model
      : model.type === 'counter' && model.buckets !== false
        ? model.buckets
        : undefined;
  if (layout === undefined) return undefined;
  const path = model.type === 'bucketed' ? 'model' : 'model.buckets';
  const keyPrefix = compileTemplate(spec.key).literalPrefix;
  const prefix = layout.prefix ?? `${keyPrefix}bkt:`;
  let existing: BucketParams | undefined;
  for (const t of targets) {
    existing = await loadBucketParams(t, prefix);
    if (existing) break;
  }
  if (existing) {
    const clash =
      existing.scheme !== layout.scheme ||
      existing.keyPrefix !== keyPrefix ||
      (existing.scheme === 'hash' &&
        layout.bucketCount !== undefined &&
        layout.bucketCount !== existing.bucketCount) ||
      (existing.scheme === 'range' && existing.bucketSize !== layout.bucketSize);
    if (clash) {
      throw new ConfigError(
        `${path}: dataset ${prefix} exists with ${JSON.stringify(encodeBucketParams(existing))}; ` +
          `the consumer spec must use the same scheme, key prefix and sizes (or another ${path}.prefix)`,
      );
    }
  }
  let params: BucketParams;
  if (existing) params = existing;
  else if (layout.scheme === 'range')
    params = { scheme: 'range', prefix, keyPrefix, bucketSize: layout.bucketSize };
  else if (layout.bucketCount !== undefined)
    params = { scheme: 'hash', prefix, keyPrefix, bucketCount: layout.bucketCount };
  else
    throw new ConfigError(
      `${path}.bucketCount is required: dataset ${prefix} does not exist yet (no ${metaKey(prefix)}), and a stream ` +
        `has no row count to size it from; set it to about expected keys / ${layout.bucketSize}`,
    );
  const cmd = { key: metaKey(prefix), args: ['HSET', metaKey(prefix), ...encodeBucketParams(params)] };
  for (const t of targets) {
    const [reply] = await t.exec([cmd]);
    if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
  }
  return params;
}
