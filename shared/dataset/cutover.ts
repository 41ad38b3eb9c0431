import type { Target } from '../redis/index.js';
import { execChecked, fieldsOf, versionOf } from './exec.js';
import { expireVersions } from './expire.js';
import { datasetKeys, flipCommand, versionKey } from './keys.js';
import { recordVersion } from './versions.js';
import type { CutoverOutcome, DatasetPlan, LoadOutcome } from './types.js';

/**
 * Whether a load's outcome allows its version to become current, and if not, why: only a load that SUCCEEDED,
 * or with `allowPartial` a PARTIAL one whose rejected share is within `maxRejectedFraction`.
 *
 * @example
 * cutoverVerdict(plan, { status: 'FAILED', read: 10, rejected: 0 }); // { flip: false, why: 'import FAILED' }
 */
export function cutoverVerdict(plan: DatasetPlan, outcome: LoadOutcome): { flip: boolean; why?: string } {
  if (outcome.status === 'SUCCEEDED') return { flip: true };
  if (outcome.status !== 'PARTIAL') return { flip: false, why: `import ${outcome.status}` };
  const rejected = `${outcome.rejected.toLocaleString('en-US')} of ${outcome.read.toLocaleString('en-US')} records rejected`;
  if (!plan.allowPartial)
    return { flip: false, why: `import PARTIAL (${rejected}) and dataset.allowPartial is off` };
  const share = outcome.read === 0 ? 0 : outcome.rejected / outcome.read;
  if (share > plan.maxRejectedFraction) {
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    return {
      flip: false,
      why: `import PARTIAL with ${rejected} (${pct(share)}), over dataset.maxRejectedFraction ${pct(plan.maxRejectedFraction)}`,
    };
  }
  return { flip: true };
}

/** Options of {@link cutover}. */
export interface CutoverOptions {
  /** Stop expiring old versions after this time (`Date.now()` ms); the next cutover continues. */
  readonly deadline?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * Ends a dataset load: when {@link cutoverVerdict} allows it, flips `<name>:current` to the load's version
 * (atomically, and only forward: a load that finishes after a newer one leaves `current` alone and expires its
 * own version), then expires every version below the new current one except the `keep - 1` newest that were
 * current before. A load that may not cut over changes nothing: its version stays for a resumed load (the next
 * cutover expires it). Commands go to the first target (the dataset's keys) and, for expiry, to every server.
 *
 * @example
 * const outcome = await cutover(targets, plan, { status: report.status, read, rejected });
 * log(outcome.message); // 'users v4 is current (was v3); v2 expires in 60 s'
 */
export async function cutover(
  targets: readonly Target[],
  plan: DatasetPlan,
  outcome: LoadOutcome,
  options: CutoverOptions = {},
): Promise<CutoverOutcome> {
  const { name, version } = plan;
  const control = targets[0]!;
  const keys = datasetKeys(name);
  const verdict = cutoverVerdict(plan, outcome);
  if (!verdict.flip) {
    const [reply] = await execChecked(control, [{ key: keys.current, args: ['GET', keys.current] }]);
    const current = versionOf(reply);
    return skipped(plan, current, verdict.why!);
  }
  const [reply] = await execChecked(control, [flipCommand(name, version)]);
  const [flippedNow, before] = Array.isArray(reply) ? reply.map(Number) : [0, 0];
  const previous = before ? before : null;
  if (!flippedNow && previous !== version) {
    // A newer version became current while this one loaded: this one is never read, so it goes.
    const gone = await expireVersions(targets, name, [version], { graceSeconds: 0, ...deadlineOf(options) });
    const why = `v${previous} became current meanwhile (a newer load finished first); v${version} ${
      gone.expired.length > 0 ? 'is removed' : 'is left for the next cutover to remove'
    }`;
    return {
      ...skipped(plan, previous, why),
      expired: gone.expired,
      pendingExpiry: gone.pending,
      expiredKeys: gone.keys,
    };
  }
  const now = (options.now ?? (() => new Date()))();
  if (flippedNow)
    await recordVersion(control, name, version, { state: 'current', flippedAt: now.toISOString() });
  const stale = await staleVersions(control, plan);
  const gone = await expireVersions(targets, name, stale, {
    graceSeconds: plan.graceSeconds,
    ...deadlineOf(options),
  });
  const was =
    previous === null ? 'first version' : previous === version ? 'already current' : `was v${previous}`;
  const parts = [`${name} v${version} is current (${was})`];
  if (gone.expired.length > 0) {
    const list = gone.expired.map((v) => `v${v}`).join(', ');
    parts.push(
      plan.graceSeconds > 0
        ? `${list} ${gone.expired.length === 1 ? 'expires' : 'expire'} in ${plan.graceSeconds} s`
        : `${list} unlinked`,
    );
  }
  if (gone.pending.length > 0) {
    const why = gone.errors.length > 0 ? `: ${gone.errors.join('; ')}` : ' (time ran out)';
    parts.push(`expiry of ${gone.pending.map((v) => `v${v}`).join(', ')} left for the next cutover${why}`);
  }
  return {
    name,
    version,
    flipped: true,
    previous,
    current: version,
    expired: gone.expired,
    pendingExpiry: gone.pending,
    expiredKeys: gone.keys,
    message: parts.join('; '),
  };
}

/**
 * The outcome of a cutover that could not be carried out (Redis failed): `current` is as it was — the flip is
 * one atomic command — but which version that is cannot be said.
 */
export function failedCutover(plan: DatasetPlan, error: Error): CutoverOutcome {
  const why = `the cutover failed: ${error.name}: ${error.message}`;
  const was = plan.previous === null ? 'none' : `v${plan.previous}`;
  return {
    name: plan.name,
    version: plan.version,
    flipped: false,
    previous: plan.previous,
    current: null,
    skipped: why,
    expired: [],
    pendingExpiry: [],
    expiredKeys: 0,
    message: `cutover skipped: ${why}; current not flipped (it was ${was} when the load started)`,
  };
}

function deadlineOf(options: CutoverOptions): { deadline?: number } {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

function skipped(plan: DatasetPlan, current: number | null, why: string): CutoverOutcome {
  const stays = current === null ? `${plan.name} has no current version` : `current stays at v${current}`;
  return {
    name: plan.name,
    version: plan.version,
    flipped: false,
    previous: current,
    current,
    skipped: why,
    expired: [],
    pendingExpiry: [],
    expiredKeys: 0,
    message: `cutover skipped: ${why}; ${stays}`,
  };
}

/**
 * The versions below `plan.version` to expire: all of them but the `keep - 1` newest that were ever current
 * (a version that never was — failed, abandoned, overtaken — is never kept). Versions above it belong to loads
 * still running and are left alone.
 */
async function staleVersions(control: Target, plan: DatasetPlan): Promise<number[]> {
  const keys = datasetKeys(plan.name);
  const [reply] = await execChecked(control, [
    { key: keys.versions, args: ['ZRANGEBYSCORE', keys.versions, '-inf', `(${plan.version}`] },
  ]);
  const older = (Array.isArray(reply) ? reply : [])
    .map((r) => versionOf(r))
    .filter((v): v is number => v !== null)
    .sort((a, b) => b - a);
  if (older.length === 0) return [];
  const infos = await execChecked(
    control,
    older.map((v) => ({ key: versionKey(plan.name, v), args: ['HGETALL', versionKey(plan.name, v)] })),
  );
  const kept = new Set<number>();
  for (const [i, v] of older.entries()) {
    if (kept.size >= plan.keep - 1) break;
    if (fieldsOf(infos[i]).has('flippedAt')) kept.add(v);
  }
  return older.filter((v) => !kept.has(v)).sort((a, b) => a - b);
}
