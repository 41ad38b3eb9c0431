import { z } from 'zod';

/**
 * The dataset part of a load, fixed before its first write and carried to its end (the Step Functions plan,
 * the CLI run): which version it writes and how the cutover decides.
 */
export const datasetPlanSchema = z.strictObject({
  name: z.string().min(1),
  /** The version this load writes (`<name>:v<version>:…`). */
  version: z.number().int().min(1),
  keep: z.number().int().min(1),
  allowPartial: z.boolean(),
  /** The share of rejected records up to which a PARTIAL load still flips (with `allowPartial`). */
  maxRejectedFraction: z.number().min(0).max(1),
  graceSeconds: z.number().int().min(0),
  /** The version `current` pointed to when the load started; null for a dataset without one. */
  previous: z.number().int().min(1).nullable(),
  /** True when this load continues a version an earlier, stopped load started (`--dataset-version`). */
  resumed: z.boolean().default(false),
});
export type DatasetPlan = z.output<typeof datasetPlanSchema>;

/** How a load ended, as far as the cutover cares. */
export interface LoadOutcome {
  /** The Step Functions report's status, or the CLI's (`completed` with rejects counts as `PARTIAL`). */
  readonly status: 'SUCCEEDED' | 'PARTIAL' | 'FAILED' | 'INTERRUPTED';
  readonly read: number;
  readonly rejected: number;
}

/** What the cutover did, for the summary and the report. */
export interface CutoverOutcome {
  readonly name: string;
  /** The version the load wrote. */
  readonly version: number;
  /** Whether `<name>:current` points at `version` now (flipped by this load, or already before). */
  readonly flipped: boolean;
  /** `current` before the cutover (null: none). */
  readonly previous: number | null;
  /** `current` after it (null: none). */
  readonly current: number | null;
  /** Why `current` was not flipped (absent when it was). */
  readonly skipped?: string;
  /** Versions given their grace to expire (or unlinked) by this cutover. */
  readonly expired: number[];
  /** Versions whose expiry did not finish (time ran out, a shard failed): the next cutover continues them. */
  readonly pendingExpiry: number[];
  /** Keys given an expiry or unlinked. */
  readonly expiredKeys: number;
  /** One sentence: `users v4 is current (was v3); v2 expires in 60 s` or `cutover skipped: …`. */
  readonly message: string;
}
