/**
 * The bytes jemalloc (Redis's allocator; `used_memory` counts them) really hands out for a request of `n`
 * bytes: 8, then multiples of 16 up to 128, then four size classes per doubling (160, 192, 224, 256, 320, …).
 *
 * @example
 * allocSize(24); // 32 — a dictEntry
 * allocSize(794); // 896 — a listpack of ~100 small entries
 */
export function allocSize(n: number): number {
  if (n <= 0) return 0;
  if (n <= 8) return 8;
  if (n <= 128) return Math.ceil(n / 16) * 16;
  // 2^group < n <= 2^(group+1); classes in that range are spaced 2^(group-2) apart.
  const group = Math.floor(Math.log2(n - 1));
  const step = 2 ** (group - 2);
  return Math.ceil(n / step) * step;
}
