import { statfs } from 'node:fs/promises';
import { ConfigError } from '../errors/index.js';
import { GROUP_BYTES_PER_RECORD } from './group.js';
import { SPILL_HEADER_BYTES } from './spill-format.js';
import { varintBytes } from './varint.js';

/**
 * Memory the load pass may take for grouping: 32 MiB, for two partitions at a time (the one being written,
 * and the next one, read and indexed while Redis works). Measured at 5 M rows: 64 MiB made the loader's peak
 * RSS 256-285 MiB, 32 MiB 241-247 MiB, and the load pass no slower (smaller partitions stay in cache).
 */
export const DEFAULT_GROUP_BYTES = 32 * 1024 * 1024;

/** What the sizing of a grouped load looks at: the pre-flight sample's estimate. */
export interface SizingInput {
  /** Estimated records to load. */
  readonly records: number;
  /** Mean source bytes per record. */
  readonly bytesPerRecord: number;
  /** Sampled keys and values as the loader writes them. */
  readonly samples: readonly { readonly key: string; readonly value?: string }[];
  /** The key template's literal prefix (not spilled). */
  readonly keyPrefix: string;
  /** Memory the load pass may take for grouping (two partitions). @default DEFAULT_GROUP_BYTES */
  readonly groupBytes?: number;
}

/** How a grouped load is laid out, and what it needs. */
export interface GroupingPlan {
  readonly partitions: number;
  /** Estimated spill bytes per record. */
  readonly spillBytesPerRecord: number;
  /** Estimated temp disk the spill takes. */
  readonly tempBytes: number;
  /** Estimated records per partition. */
  readonly recordsPerPartition: number;
}

/** Partitions are planned to fill this share of `groupBytes`, leaving room for an estimate that is low. */
const FILL = 0.75;

/**
 * Partitions at most: the partition pass keeps a file open per partition, and 1024 is a common limit of open
 * files. Past about 90 M rows (at the default 32 MiB) partitions grow beyond `groupBytes` instead: at 200 M
 * rows about 19 MiB each, two at a time.
 */
export const MAX_PARTITIONS = 768;

/**
 * Sizes a grouped load from the pre-flight's estimate: enough partitions that two of them fit `groupBytes` of
 * memory when grouped (their spilled bytes, twice, plus {@link GROUP_BYTES_PER_RECORD}), and the temp disk the
 * spill takes.
 * The offset deltas of the spill grow with the partition count, so both are settled together.
 *
 * @example
 * planGrouping({ records: 20e6, bytesPerRecord: 12.9, samples, keyPrefix: 'user:' }); // { partitions: 17, … }
 */
export function planGrouping(input: SizingInput): GroupingPlan {
  const groupBytes = input.groupBytes ?? DEFAULT_GROUP_BYTES;
  let payload = 0;
  let n = 0;
  for (const s of input.samples) {
    if (s.value === undefined || !s.key.startsWith(input.keyPrefix)) continue;
    const suffix = Buffer.byteLength(s.key, 'utf8') - Buffer.byteLength(input.keyPrefix, 'utf8');
    const value = Buffer.byteLength(s.value, 'utf8');
    payload += varintBytes(suffix) + suffix + varintBytes(value) + value;
    n++;
  }
  const perRecordPayload = n > 0 ? payload / n : input.bytesPerRecord;
  const records = Math.max(0, Math.ceil(input.records));
  let partitions = 1;
  let perRecord = perRecordPayload + 1;
  for (let round = 0; round < 3; round++) {
    // Records of one partition lie `partitions` records apart in the source, on average.
    perRecord = perRecordPayload + varintBytes(Math.ceil(partitions * input.bytesPerRecord));
    const memory = records * (2 * perRecord + GROUP_BYTES_PER_RECORD);
    const next = Math.min(MAX_PARTITIONS, Math.max(1, Math.ceil(memory / ((groupBytes / 2) * FILL))));
    if (next === partitions) break;
    partitions = next;
  }
  return {
    partitions,
    spillBytesPerRecord: perRecord,
    tempBytes: Math.ceil(records * perRecord) + partitions * SPILL_HEADER_BYTES,
    recordsPerPartition: Math.ceil(records / partitions),
  };
}

/** Free bytes for an unprivileged writer in the file system of `dir`; undefined when it cannot be read. */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** Refuse when free space is below the estimate times this: the estimate comes from a sample. */
export const TEMP_DISK_MARGIN = 1.1;

/**
 * Refuses a grouped load whose spill would not fit in `dir`, before anything is written: a {@link ConfigError}
 * saying how much is needed and what to do. An unreadable free space is not a refusal.
 */
export async function checkTempDisk(dir: string, plan: GroupingPlan): Promise<void> {
  const free = await freeBytes(dir);
  const needed = Math.ceil(plan.tempBytes * TEMP_DISK_MARGIN);
  if (free === undefined || free >= needed) return;
  throw new ConfigError(
    `grouped writes need about ${mib(needed)} of temp disk in ${dir} (${plan.partitions} partitions of the ` +
      `records sorted by bucket), but only ${mib(free)} is free: free some space, point --temp-dir at a larger ` +
      'disk, or write without grouping (--group-buckets off)',
  );
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
