import { join } from 'node:path';
import type { ImportSpec } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import {
  checkTempDisk,
  DEFAULT_GROUP_BYTES,
  type GroupingPlan,
  LocalSpillStore,
  planGrouping,
  type SpillStore,
} from '../grouping/index.js';
import { compileTemplate } from '../mapping/index.js';
import type { SourceSample } from '../memory/index.js';

/**
 * From this many estimated rows on, `groupBuckets: 'auto'` groups a hash-scheme load. Below it the partition
 * pass costs more than it saves: measured with `npm run bench -- scale` (bench/RESULTS.md).
 */
export const GROUP_AUTO_MIN_ROWS = 1_000_000;

/** How a load writes: record by record in source order, or grouped by bucket through a spill. */
export interface WritePath {
  readonly path: 'direct' | 'grouped';
  /** Why, in words (for the summary). */
  readonly reason: string;
  /** Grouped: the partitions and the temp disk they take. */
  readonly plan?: GroupingPlan;
  /** Grouped: the directory the spill goes in. */
  readonly tempDir?: string;
}

/** Whether the sampled keys of a range-scheme load come in id order (then batches already group buckets). */
function sortedIds(sample: SourceSample, keyPrefix: string): boolean {
  let last = -1;
  for (const s of sample.samples) {
    if (!s.key.startsWith(keyPrefix)) continue;
    const id = Number(s.key.slice(keyPrefix.length));
    if (!Number.isSafeInteger(id)) continue;
    if (id < last) return false;
    last = id;
  }
  return true;
}

/**
 * Decides the write path of a load from its spec and the pre-flight's sample (see `groupBuckets` in the import
 * spec): only the bucketed model groups; `auto` groups a hash-scheme load from {@link GROUP_AUTO_MIN_ROWS}
 * estimated rows on, and a range-scheme load as large whose sampled ids are not in order. When every command
 * is billed (Upstash), `auto` groups whatever the size: one `HSET` per bucket instead of one per bucket each
 * batch touches, 1.03 commands per 100 keys against 84 at 1 M rows (bench/RESULTS.md, upstash).
 *
 * @example
 * chooseWritePath(spec, sample); // { path: 'grouped', reason: '~20,000,000 rows into hash buckets' }
 */
export function chooseWritePath(
  spec: ImportSpec,
  sample: SourceSample,
  options: WritePathOptions = {},
): Pick<WritePath, 'path' | 'reason'> {
  const model = spec.model;
  if (model.type !== 'bucketed') return { path: 'direct', reason: `the ${model.type} model has no buckets` };
  return chooseBucketWrites(model.scheme, spec, sample, options);
}

/** What else {@link chooseWritePath} weighs besides the spec and the sample. */
export interface WritePathOptions {
  /** Every command is billed (an Upstash target): `auto` groups any bucketed load. @default false */
  readonly billedPerCommand?: boolean;
}

/**
 * {@link chooseWritePath} for a bucketed load of `scheme`, whatever the spec's own model: the `plan` command
 * asks it for each bucketed model it compares.
 */
export function chooseBucketWrites(
  scheme: 'hash' | 'range',
  spec: Pick<ImportSpec, 'groupBuckets' | 'key'>,
  sample: SourceSample,
  options: WritePathOptions = {},
): Pick<WritePath, 'path' | 'reason'> {
  const mode = spec.groupBuckets;
  if (mode === 'off') return { path: 'direct', reason: 'groupBuckets off' };
  const prefix = compileTemplate(spec.key).literalPrefix;
  if (/[\ud800-\udbff]$/.test(prefix)) {
    // The spill keeps key suffixes and hashes them on from the prefix: not the key's UTF-8 in this one case.
    const reason = 'the key template’s literal prefix ends in half a surrogate pair';
    if (mode === 'on') throw new ConfigError(`groupBuckets 'on' cannot group this load: ${reason}`);
    return { path: 'direct', reason };
  }
  if (mode === 'on') return { path: 'grouped', reason: 'groupBuckets on' };
  const rows = Math.round(sample.records).toLocaleString('en-US');
  if (scheme === 'range' && sortedIds(sample, prefix)) {
    return { path: 'direct', reason: 'range buckets over ids in source order: batches group them already' };
  }
  if (options.billedPerCommand) {
    return { path: 'grouped', reason: `~${rows} rows, billed per command: one HSET per bucket` };
  }
  if (sample.records < GROUP_AUTO_MIN_ROWS) {
    return {
      path: 'direct',
      reason: `~${rows} rows, below the ${GROUP_AUTO_MIN_ROWS.toLocaleString('en-US')} where grouping pays`,
    };
  }
  return { path: 'grouped', reason: `~${rows} rows into ${scheme}-scheme buckets` };
}

/** What {@link planWritePath} looks at. */
export interface WritePathInput extends WritePathOptions {
  readonly spec: ImportSpec;
  readonly sample: SourceSample;
  /** Where a spill would go. */
  readonly tempDir: string;
  /** Memory a partition may take while grouped. @default DEFAULT_GROUP_BYTES */
  readonly groupBytes?: number;
}

/**
 * {@link chooseWritePath}, and for a grouped load its partitions and the temp disk check: a spill that would
 * not fit in `tempDir` is refused here, before anything is written, with a `ConfigError` saying how much
 * space it needs.
 */
export async function planWritePath(input: WritePathInput): Promise<WritePath> {
  const choice = chooseWritePath(input.spec, input.sample, {
    ...(input.billedPerCommand === undefined ? {} : { billedPerCommand: input.billedPerCommand }),
  });
  if (choice.path === 'direct') return choice;
  const plan = planGrouping({
    records: input.sample.records,
    bytesPerRecord: input.sample.bytesPerRecord,
    samples: input.sample.samples,
    keyPrefix: compileTemplate(input.spec.key).literalPrefix,
    groupBytes: input.groupBytes ?? DEFAULT_GROUP_BYTES,
  });
  await checkTempDisk(input.tempDir, plan);
  return { ...choice, plan, tempDir: input.tempDir };
}

/** The spill of a run under `tempDir`: `<tempDir>/rbl-grouped-<run>`, so a rerun of the same load finds it. */
export function localSpill(tempDir: string): (run: string) => SpillStore {
  return (run) => new LocalSpillStore(join(tempDir, `rbl-grouped-${run}`));
}
