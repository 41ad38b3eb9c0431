import { InvalidArgumentError } from 'commander';
import { UPSTASH_PRICE_PER_100K } from '../shared/import/index.js';

/** The `--price-per-100k` flag of `import` and `plan`. */
export interface BillFlags {
  pricePer100k?: number;
}

/** The flag's help text. */
export const PRICE_FLAG_HELP =
  "estimate the bill at this many US dollars per 100,000 commands (default: Upstash's list price " +
  `$${UPSTASH_PRICE_PER_100K.toFixed(2)} when a --redis URL is http(s)://, an Upstash REST endpoint; otherwise no bill)`;

/** `--price-per-100k 0.2` → 0.2: a non-negative number of US dollars. */
export function priceOption(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('must be a price in US dollars per 100,000 commands, e.g. 0.2');
  return n;
}
