import type { ImportSpec } from '../config/index.js';
import {
  allocateVersion,
  type DatasetPlan,
  type DatasetState,
  readDatasetState,
  recordVersion,
  resumeVersion,
  versionNamespace,
} from '../dataset/index.js';
import type { BucketParams } from '../mapping/index.js';
import type { SourceSample } from '../memory/index.js';
import type { Target } from '../redis/index.js';
import { bucketPrefix } from './buckets.js';

/**
 * The spec a load of version `version` of its dataset runs with: every key it writes moves into
 * `<name>:v<version>:` — the key template of the string and hash models, the bucket prefix (and so the meta
 * hash) of the bucketed model, whose key template stays as it is so that `readKey()` and the bucket of a key
 * are the same in every version. The result has no `dataset` any more: it is the spec as the engine runs it.
 *
 * @example
 * versionedSpec({ ...spec, key: 'user:{id}', dataset: { name: 'users', … } }, 3).key; // 'users:v3:user:{id}'
 */
export function versionedSpec(spec: ImportSpec, version: number): ImportSpec {
  const { dataset, ...rest } = spec;
  if (dataset === undefined) throw new TypeError('not a dataset spec');
  const namespace = versionNamespace(dataset.name, version);
  if (rest.model.type === 'bucketed') {
    return { ...rest, model: { ...rest.model, prefix: namespace + bucketPrefix(spec) } };
  }
  // Dataset names hold no braces, so the namespace is literal text in the template.
  return { ...rest, key: namespace + rest.key };
}

/** A dataset load between its first look at Redis and its first write (see `prepareImport`). */
export interface DatasetStart {
  readonly state: DatasetState;
  /** The version the sample and the pre-flight assumed: the resumed one, or the next one. */
  readonly provisional: number;
  readonly spec: ImportSpec;
}

/** Reads the dataset's state and picks the version to plan with; nothing is written. */
export async function startDataset(
  spec: ImportSpec,
  targets: readonly Target[],
  resume: number | undefined,
): Promise<DatasetStart> {
  const state = await readDatasetState(targets[0]!, spec.dataset!.name);
  const provisional = resume ?? state.allocated + 1;
  return { state, provisional, spec: versionedSpec(spec, provisional) };
}

/**
 * Fixes the load's version — continues `resume` after checking it may be, or allocates a fresh one — and
 * returns its plan with the versioned spec (and the sample's keys moved into that version, should a
 * concurrent load have taken the provisional one).
 */
export async function fixDatasetVersion(
  spec: ImportSpec,
  targets: readonly Target[],
  start: DatasetStart,
  sample: SourceSample,
  input: { readonly resume?: number; readonly source: string },
): Promise<{ plan: DatasetPlan; spec: ImportSpec; sample: SourceSample }> {
  const dataset = spec.dataset!;
  const allocate = {
    dataset,
    model: spec.model.type,
    rejectFraction: spec.rejectBudget.fraction,
    source: input.source,
  };
  const plan =
    input.resume === undefined
      ? await allocateVersion(targets[0]!, allocate)
      : await resumeVersion(targets[0]!, allocate, input.resume);
  if (plan.version === start.provisional) return { plan, spec: start.spec, sample };
  const from = versionNamespace(dataset.name, start.provisional);
  const to = versionNamespace(dataset.name, plan.version);
  const samples = sample.samples.map((s) =>
    s.key.startsWith(from) ? { ...s, key: to + s.key.slice(from.length) } : s,
  );
  return { plan, spec: versionedSpec(spec, plan.version), sample: { ...sample, samples } };
}

/** Records a version's bucket parameters in its hash, for readers (`openCurrent`). */
export async function recordBuckets(
  targets: readonly Target[],
  plan: DatasetPlan,
  buckets: BucketParams,
): Promise<void> {
  await recordVersion(targets[0]!, plan.name, plan.version, { buckets: JSON.stringify(buckets) });
}

/**
 * The pre-flight's note on a dataset load: the live versions stay in Redis beside the new one until the
 * cutover expires them, and they are part of the `used_memory` the projection starts from.
 */
export function sideBySideNote(
  name: string,
  state: DatasetState,
  provisional: number,
  keep: number,
): string | undefined {
  if (state.current === null) return undefined;
  const kept = keep > 1 ? ` and up to ${keep - 1} older version(s) kept for a rollback` : '';
  return (
    `dataset ${name}: v${provisional} loads beside the live v${state.current}${kept}; ` +
    `their memory is in used_memory and stays until the cutover expires them, so the projection counts the versions side by side`
  );
}
