/** How far above its mean a hash-scheme bucket may grow before it is counted as a risk: 5 standard deviations. */
export const BUCKET_SIGMAS = 5;

/**
 * The largest mean bucket size of the hash scheme for which a bucket practically never exceeds `limit` fields.
 * Keys spread over buckets by hash, so a bucket's size is Poisson-distributed around the mean m with standard
 * deviation √m; the mean is chosen so that m + 5·√m ≤ limit (the chance that one bucket exceeds the limit is then
 * about 10⁻⁶; a mean of 100 under a limit of 128 would turn about 1 bucket in 330 into a hashtable).
 *
 * @example
 * maxHashBucketMean(128); // 82
 * maxHashBucketMean(512); // 410
 */
export function maxHashBucketMean(limit: number): number {
  if (limit < 1) return 1;
  const root = (-BUCKET_SIGMAS + Math.sqrt(BUCKET_SIGMAS ** 2 + 4 * limit)) / 2;
  return Math.max(1, Math.floor(root * root + 1e-9));
}

/** A bucket size checked against the server's `hash-max-listpack-entries`. */
export interface BucketFit {
  /** The size asked for (spec or default). */
  readonly requested: number;
  /** The size used: `requested`, or lower so buckets stay listpacks. */
  readonly size: number;
  readonly lowered: boolean;
  /** Why, in words, when lowered. */
  readonly reason?: string;
}

/**
 * Lowers a bucket size that would make buckets outgrow `hash-max-listpack-entries` (`entriesLimit`): for the
 * `range` scheme the size is exact and may equal the limit; for the `hash` scheme it is a mean and must leave
 * room for chance (see {@link maxHashBucketMean}).
 *
 * @example
 * fitBucketSize('hash', 100, 128); // { requested: 100, size: 82, lowered: true, reason: '…' }
 * fitBucketSize('range', 100, 128); // { requested: 100, size: 100, lowered: false }
 */
export function fitBucketSize(scheme: 'hash' | 'range', requested: number, entriesLimit: number): BucketFit {
  const max = scheme === 'range' ? Math.max(1, entriesLimit) : maxHashBucketMean(entriesLimit);
  if (requested <= max) return { requested, size: requested, lowered: false };
  const rule =
    scheme === 'range'
      ? `a range bucket holds exactly bucketSize ids and may not exceed hash-max-listpack-entries ${entriesLimit}`
      : `hash buckets vary around their mean: mean + ${BUCKET_SIGMAS}·√mean must stay ≤ hash-max-listpack-entries ${entriesLimit}`;
  return {
    requested,
    size: max,
    lowered: true,
    reason: `bucket size lowered from ${requested} to ${max}: ${rule}`,
  };
}
