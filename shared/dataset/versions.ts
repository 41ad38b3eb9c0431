import type { DatasetSpec } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import type { BucketParams } from '../mapping/index.js';
import type { Target } from '../redis/index.js';
import { execChecked, fieldsOf, versionOf } from './exec.js';
import { datasetKeys, versionKey, versionNamespace } from './keys.js';
import type { DatasetPlan } from './types.js';

/** Where a dataset stands: the version readers use and the last version allocated. */
export interface DatasetState {
  /** null: no load has cut over yet. */
  readonly current: number | null;
  /** The last version `INCR`ed (0: none). */
  readonly allocated: number;
}

/** Reads `<name>:current` and `<name>:next` (two single-key reads; nothing is written). */
export async function readDatasetState(target: Target, name: string): Promise<DatasetState> {
  const keys = datasetKeys(name);
  const [current, next] = await execChecked(target, [
    { key: keys.current, args: ['GET', keys.current] },
    { key: keys.next, args: ['GET', keys.next] },
  ]);
  return { current: versionOf(current), allocated: versionOf(next) ?? 0 };
}

/** What a version's hash (`<name>:v<n>`) says about it. */
export interface VersionInfo {
  readonly version: number;
  readonly state: 'loading' | 'current' | 'retired';
  readonly model: 'string' | 'hash' | 'bucketed';
  /** The bucketed model's parameters (prefix inside the version's namespace). */
  readonly buckets?: BucketParams;
  /** ISO time `current` first pointed here. */
  readonly flippedAt?: string;
  /** Where the load came from (a file, `s3://…`). */
  readonly source?: string;
}

/** Reads a version's hash; undefined when it has none (never allocated, or expired). */
export async function readVersionInfo(
  target: Target,
  name: string,
  version: number,
): Promise<VersionInfo | undefined> {
  const key = versionKey(name, version);
  const [reply] = await execChecked(target, [{ key, args: ['HGETALL', key] }]);
  return decodeVersionInfo(version, fieldsOf(reply));
}

/** A version's hash fields as a {@link VersionInfo}; undefined for an empty hash. */
export function decodeVersionInfo(version: number, m: ReadonlyMap<string, string>): VersionInfo | undefined {
  if (m.size === 0) return undefined;
  const model = m.get('model');
  if (model !== 'string' && model !== 'hash' && model !== 'bucketed') {
    throw new ConfigError(`dataset version hash v${version} names no known model (model=${String(model)})`);
  }
  const state = m.get('state');
  const buckets = m.get('buckets');
  return {
    version,
    state: state === 'current' || state === 'retired' ? state : 'loading',
    model,
    ...(buckets ? { buckets: JSON.parse(buckets) as BucketParams } : {}),
    ...(m.get('flippedAt') ? { flippedAt: m.get('flippedAt')! } : {}),
    ...(m.get('source') ? { source: m.get('source')! } : {}),
  };
}

/** What a load tells the version it allocates. */
export interface AllocateInput {
  readonly dataset: DatasetSpec;
  readonly model: VersionInfo['model'];
  /** The spec's reject budget: the default of `dataset.maxRejectedFraction`. */
  readonly rejectFraction: number;
  /** Shown in the version's hash (a file, `s3://…`, an import id). */
  readonly source: string;
}

/**
 * Allocates a fresh version for a load (`INCR <name>:next`, so concurrent loads never share one), records it
 * as `loading` (its hash and the `<name>:versions` set) and returns the load's {@link DatasetPlan}.
 */
export async function allocateVersion(target: Target, input: AllocateInput): Promise<DatasetPlan> {
  const { name } = input.dataset;
  const keys = datasetKeys(name);
  const [next, current] = await execChecked(target, [
    { key: keys.next, args: ['INCR', keys.next] },
    { key: keys.current, args: ['GET', keys.current] },
  ]);
  const version = versionOf(next);
  if (version === null) throw new ConfigError(`${keys.next} does not hold a version counter`);
  await recordVersion(target, name, version, {
    state: 'loading',
    model: input.model,
    source: input.source,
    namespace: versionNamespace(name, version),
    startedAt: new Date().toISOString(),
  });
  return planOf(input, version, versionOf(current), false);
}

/**
 * Checks that `version` may be continued by a resumed load (`--dataset-version`): allocated, not removed, and
 * never cut over to (a version readers use, or used, is never written again). Returns the load's plan.
 *
 * @throws {ConfigError} naming what is wrong and what to do instead.
 */
export async function resumeVersion(
  target: Target,
  input: AllocateInput,
  version: number,
): Promise<DatasetPlan> {
  const { name } = input.dataset;
  const state = await readDatasetState(target, name);
  const info = await readVersionInfo(target, name, version);
  const fresh = 'start a new load without --dataset-version';
  if (version > state.allocated) {
    throw new ConfigError(
      `dataset ${name} has no v${version}: the last version allocated is v${state.allocated} (${datasetKeys(name).next}); ${fresh}`,
    );
  }
  if (state.current !== null && version <= state.current) {
    const what = version === state.current ? 'is current' : `is older than the current v${state.current}`;
    throw new ConfigError(
      `dataset ${name} v${version} ${what}: a live version is never written again; ${fresh}`,
    );
  }
  if (info === undefined) {
    throw new ConfigError(
      `dataset ${name} v${version} was removed (its hash ${versionKey(name, version)} is gone); ${fresh}`,
    );
  }
  if (info.model !== input.model) {
    throw new ConfigError(
      `dataset ${name} v${version} was started with the ${info.model} model, this spec has ${input.model}; ${fresh}`,
    );
  }
  return planOf(input, version, state.current, true);
}

/** Sets fields of a version's hash. */
export async function recordVersion(
  target: Target,
  name: string,
  version: number,
  fields: Readonly<Record<string, string>>,
): Promise<void> {
  const keys = datasetKeys(name);
  const key = versionKey(name, version);
  await execChecked(target, [
    { key, args: ['HSET', key, ...Object.entries(fields).flat()] },
    { key: keys.versions, args: ['ZADD', keys.versions, String(version), String(version)] },
  ]);
}

function planOf(
  input: AllocateInput,
  version: number,
  previous: number | null,
  resumed: boolean,
): DatasetPlan {
  const d = input.dataset;
  return {
    name: d.name,
    version,
    keep: d.keep,
    allowPartial: d.allowPartial,
    maxRejectedFraction: d.maxRejectedFraction ?? input.rejectFraction,
    graceSeconds: d.graceSeconds,
    previous,
    resumed,
  };
}
