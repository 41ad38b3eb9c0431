/** Statistics of the benchmarks' samples (no I/O: unit-tested in test/unit/bench). */

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A distribution-free confidence interval for the median of `xs` (the order statistics `[x(k), x(n+1-k)]`,
 * with the largest `k` whose two-sided binomial tail stays within `1 - level`), or undefined below 6 values,
 * where even the full range covers less than 95 %. With the per-pair ratios of a noisy machine this says
 * whether a target is met, missed, or cannot be told apart at that many pairs.
 *
 * @example
 * medianInterval([1, 2, 3, 4, 5, 6, 7, 8, 9]) // { low: 2, high: 8, level: 0.961 }
 */
export function medianInterval(
  xs: readonly number[],
  level = 0.95,
): { low: number; high: number; level: number } | undefined {
  const n = xs.length;
  // 0.5 ** n underflows past ~1074; long before that the tails lose precision.
  if (n > 1000) throw new RangeError(`medianInterval takes at most 1000 values, got ${n}`);
  const s = [...xs].sort((a, b) => a - b);
  // Walks the binomial's lower tail P(B <= j), B ~ Binomial(n, 1/2): rank k = j + 1 stays while its two
  // tails together are within 1 - level; `tail` is then P(B <= k - 1), which sets the interval's level.
  let term = 0.5 ** n;
  let below = 0;
  let k = 0;
  let tail = 0;
  for (let j = 0; j < n; j++) {
    below += term;
    if (2 * below > 1 - level) break;
    k = j + 1;
    tail = below;
    term = (term * (n - j)) / (j + 1);
  }
  if (k === 0) return undefined;
  return { low: s[k - 1]!, high: s[n - k]!, level: Math.round((1 - 2 * tail) * 1000) / 1000 };
}
