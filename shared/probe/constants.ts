/** Health-probe thresholds, in percent of the limit (memory of `maxmemory`, clients of `maxclients`). */
export interface HealthThresholds {
  /** @default 85 */
  readonly warnPercent: number;
  /** @default 95 */
  readonly criticalPercent: number;
  /** Median PING round trip at or above which a shard is `warn`. @default 100 */
  readonly pingWarnMs: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = { warnPercent: 85, criticalPercent: 95, pingWarnMs: 100 };
