/**
 * What the write path of a model sends, as {@link createMapper} builds it:
 *
 * - `string`: one `SET key value [EX ttl]` per key — the TTL rides on the `SET`.
 * - `hash`: one `HSET` per key, and an `EXPIRE` per key when a TTL is set.
 * - `bucketed`: per reader batch, one `HSET` per bucket the batch touches (all its fields at once), or one per
 *   key when the hash scheme has so many buckets that a batch almost never hits one twice (`bucketCount` ≥ 4 ×
 *   the batch); with a TTL, one `EXPIRE` per bucket the first time one load touches it. Grouped bucket writes
 *   (`grouped`) send one `HSET` per bucket with all its fields, and one `EXPIRE` with a TTL.
 */
export type CommandModel =
  | { readonly type: 'string' }
  | { readonly type: 'hash' }
  | { readonly type: 'bucketed'; readonly scheme: 'hash'; readonly bucketCount: number }
  | {
      readonly type: 'bucketed';
      readonly scheme: 'range';
      /** Buckets the ids of the load span (the dataset's Redis keys). */
      readonly buckets: number;
      /**
       * Share of consecutive records (in file order) whose keys fall in another bucket than the record before:
       * about 1 / bucket size for ids sorted in the file, near 1 for shuffled ones. See {@link bucketChangeRate}.
       */
      readonly changeRate: number;
    };

/** The load the estimate is for. */
export interface CommandLoad {
  /** Keys (records that map to a write) of the load. */
  readonly keys: number;
  readonly ttl: boolean;
  /** Records per reader batch (the mapper groups a bucketed batch by bucket). */
  readonly batchRecords: number;
  /**
   * Independent loads the keys are split over, each with its own mapper and so its own first `EXPIRE` per
   * bucket: 1 for the CLI, the chunk count for the Lambda import. @default 1
   */
  readonly loads?: number;
  /** Bucketed: grouped bucket writes, one `HSET` per bucket (see `groupBuckets`). @default false */
  readonly grouped?: boolean;
}

/** Commands a load is expected to send. */
export interface CommandEstimate {
  /** `SET`/`HSET` commands. */
  readonly writes: number;
  /** `EXPIRE` commands. */
  readonly expires: number;
  readonly commands: number;
  /** `commands` per 100 keys (0 for no keys). */
  readonly per100Keys: number;
}

/** The rule of the bucketed mapper: a hash-scheme batch is written key by key past this many buckets per record. */
const DIRECT_BUCKETS_PER_RECORD = 4;

/** Expected distinct buckets among `n` keys spread uniformly over `buckets` buckets. */
function occupied(buckets: number, n: number): number {
  if (buckets <= 0 || n <= 0) return 0;
  // buckets · (1 − (1 − 1/buckets)^n), computed without cancellation for large bucket counts.
  return -buckets * Math.expm1(n * Math.log1p(-1 / buckets));
}

/** Expected distinct range buckets among `n` consecutive keys: runs in file order, never more than random. */
function rangeTouched(buckets: number, changeRate: number, n: number): number {
  if (n <= 0) return 0;
  return Math.max(1, Math.min(1 + changeRate * (n - 1), occupied(buckets, n)));
}

/**
 * The commands a model's write path sends for a load, from the mapper's rules (see {@link CommandModel}); data
 * commands only, not the bucket parameters' `HSET` or a chunk's completion marker. Exact for `string` and
 * `hash`; for `bucketed` an expectation (hash buckets are uniform; range buckets follow `changeRate`).
 *
 * @example
 * estimateCommands({ type: 'hash' }, { keys: 1_000_000, ttl: true, batchRecords: 4096 }).per100Keys; // 200
 * estimateCommands({ type: 'string' }, { keys: 1_000_000, ttl: true, batchRecords: 4096 }).per100Keys; // 100
 */
export function estimateCommands(model: CommandModel, load: CommandLoad): CommandEstimate {
  const keys = Math.max(0, load.keys);
  const batch = Math.max(1, Math.min(load.batchRecords, keys || 1));
  const loads = Math.max(1, load.loads ?? 1);
  const perLoad = keys / loads;
  let writes = keys;
  let expires = 0;
  if (model.type === 'hash') {
    expires = load.ttl ? keys : 0;
  } else if (model.type === 'bucketed' && load.grouped) {
    // One HSET per bucket each load touches (a grouped Lambda chunk is a load of its own).
    const touched =
      model.scheme === 'hash' ? occupied(model.bucketCount, perLoad) : Math.min(model.buckets, perLoad);
    writes = loads * touched;
    expires = load.ttl ? writes : 0;
  } else if (model.type === 'bucketed' && model.scheme === 'hash') {
    const n = model.bucketCount;
    if (n < DIRECT_BUCKETS_PER_RECORD * batch) writes = (keys / batch) * occupied(n, batch);
    if (load.ttl) expires = loads * occupied(n, perLoad);
  } else if (model.type === 'bucketed') {
    writes = (keys / batch) * rangeTouched(model.buckets, model.changeRate, batch);
    if (load.ttl) expires = loads * rangeTouched(model.buckets, model.changeRate, perLoad);
  }
  const commands = writes + expires;
  return { writes, expires, commands, per100Keys: keys > 0 ? (100 * commands) / keys : 0 };
}

/**
 * The share of consecutive keys that land in another bucket than the key before (see
 * {@link CommandModel}), from keys in file order; `bucketOf` gives a key's bucket index, or -1 for a key that
 * does not fit the scheme (skipped).
 *
 * @example
 * bucketChangeRate(['user:1', 'user:2', 'user:150'], (k) => Math.floor(Number(k.slice(5)) / 100)); // 0.5
 */
export function bucketChangeRate(keys: readonly string[], bucketOf: (key: string) => number): number {
  let previous = -1;
  let pairs = 0;
  let changes = 0;
  for (const key of keys) {
    const index = bucketOf(key);
    if (index < 0) continue;
    if (previous >= 0) {
      pairs++;
      if (index !== previous) changes++;
    }
    previous = index;
  }
  return pairs > 0 ? changes / pairs : 1;
}
