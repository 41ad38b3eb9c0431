import type { ImportSpec } from '../config/index.js';
import {
  bucketChangeRate,
  type CommandEstimate,
  type CommandModel,
  compileTemplate,
  estimateCommands,
  locateBucket,
} from '../mapping/index.js';
import type { ModelProjection, SourceSample } from '../memory/index.js';
import { DEFAULT_FILE_CHUNK_BYTES, MAX_BATCH_ITEMS } from '../records/index.js';

/**
 * Upstash's pay-as-you-go list price in US dollars per 100,000 commands (upstash.com/pricing/redis): what the
 * estimated bill uses unless a price is given.
 */
export const UPSTASH_PRICE_PER_100K = 0.2;

/** An estimated bill for the commands a load sent (or would send). */
export interface CommandBill {
  /** US dollars per 100,000 commands. */
  readonly pricePer100k: number;
  /** US dollars. */
  readonly usd: number;
}

/** Commands per 100 keys written; `null` when nothing was written (no ratio to give). */
export function commandsPer100Keys(commands: number, keys: number): number | null {
  return keys > 0 ? (100 * commands) / keys : null;
}

/**
 * The price per 100 k commands a load is billed at, or `undefined` when there is no per-command bill to
 * show: an explicit price (`--price-per-100k`, `PRICE_PER_100K`) wins; otherwise a Redis URL over HTTP
 * (`http://` or `https://`: an Upstash REST endpoint) means Upstash's list price.
 *
 * @example
 * billPrice(['https://eu1-fine-cat-31.upstash.io']); // 0.2
 * billPrice(['redis://10.0.0.5:6379']); // undefined
 * billPrice(['redis://10.0.0.5:6379'], 0.3); // 0.3
 */
export function billPrice(urls: readonly string[], pricePer100k?: number): number | undefined {
  if (pricePer100k !== undefined) return pricePer100k;
  return urls.some((u) => /^https?:\/\//i.test(u.trim())) ? UPSTASH_PRICE_PER_100K : undefined;
}

/**
 * The bill for `commands` at `pricePer100k` dollars per 100,000 commands.
 *
 * @example
 * commandBill(1_000_000, 0.2); // { pricePer100k: 0.2, usd: 2 }
 */
export function commandBill(commands: number, pricePer100k: number): CommandBill {
  return { pricePer100k, usd: (commands / 100_000) * pricePer100k };
}

/**
 * US dollars for people: cents from a cent on (`$2.00`, `$1,234.57`), two significant digits below
 * (`$0.0020`), `$0.00` for nothing.
 *
 * @example
 * formatUsd(2); // '$2.00'
 * formatUsd(0.002); // '$0.0020'
 */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  if (Math.abs(usd) >= 0.01) {
    return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  }
  return `$${usd.toPrecision(2)}`;
}

/** `≈ $2.00 at $0.20 per 100 k commands`: a bill as the summaries, the report line and `plan` show it. */
export function describeBill(bill: CommandBill): string {
  return `≈ ${formatUsd(bill.usd)} at ${formatUsd(bill.pricePer100k)} per 100 k commands`;
}

/**
 * Mean records per reader batch for records of this size: the reader yields each read chunk's records in
 * batches of at most {@link MAX_BATCH_ITEMS}, so a chunk of 104,857 records gives 26 batches of ~4,033.
 */
function batchRecords(bytesPerRecord: number): number {
  if (!(bytesPerRecord > 0)) return MAX_BATCH_ITEMS;
  const perChunk = Math.max(1, DEFAULT_FILE_CHUNK_BYTES / bytesPerRecord);
  return perChunk / Math.ceil(perChunk / MAX_BATCH_ITEMS);
}

/**
 * The commands a planned model would send for the sampled source (see `estimateCommands` in shared/mapping):
 * the model's parameters come from the memory projection (bucket count or size after the listpack limit),
 * the batch size from the records' size, and — for range buckets — how often consecutive sampled keys change
 * bucket. `loads` is the number of independent loads (the Lambda import's chunks): each gives every bucket it
 * touches its own first `EXPIRE`. `grouped`: the load writes its buckets grouped (one `HSET` per bucket).
 *
 * @example
 * const report = assessPreflight({ spec, sample, readings });
 * planCommands(report.model, sample, spec).per100Keys; // 100 for a string model
 */
export function planCommands(
  model: ModelProjection,
  sample: SourceSample,
  spec: ImportSpec,
  loads = 1,
  grouped = false,
): CommandEstimate {
  let commandModel: CommandModel;
  if (model.type !== 'bucketed') commandModel = { type: model.type };
  else if (model.scheme === 'range') {
    const params = {
      scheme: 'range' as const,
      prefix: '',
      keyPrefix: compileTemplate(spec.key).literalPrefix,
      bucketSize: model.bucketSize ?? 1,
    };
    const slot = { field: '', reason: '' };
    const changeRate = bucketChangeRate(
      sample.samples.map((s) => s.key),
      (key) => locateBucket(key, params, slot),
    );
    commandModel = { type: 'bucketed', scheme: 'range', buckets: model.estimate.redisKeys, changeRate };
  } else {
    commandModel = { type: 'bucketed', scheme: 'hash', bucketCount: model.bucketCount ?? 1 };
  }
  return estimateCommands(commandModel, {
    keys: sample.keys,
    ttl: spec.ttl !== false,
    batchRecords: batchRecords(sample.bytesPerRecord),
    loads,
    grouped,
  });
}
