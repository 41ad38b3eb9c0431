/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error below 1e-13). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * The probabilities of a Poisson distribution with mean `mean` for k ≥ 1, over the range holding all but a
 * negligible part of the mass (mean ± 12 standard deviations): how many keys land in one hash-scheme bucket.
 */
export function poissonTerms(mean: number): { k: number; p: number }[] {
  if (!(mean > 0)) return [];
  const spread = 12 * Math.sqrt(mean) + 10;
  const lo = Math.max(1, Math.floor(mean - spread));
  const hi = Math.ceil(mean + spread);
  const terms: { k: number; p: number }[] = [];
  const lnMean = Math.log(mean);
  for (let k = lo; k <= hi; k++) {
    const p = Math.exp(-mean + k * lnMean - lnGamma(k + 1));
    if (p > 0) terms.push({ k, p });
  }
  return terms;
}
