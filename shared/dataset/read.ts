import { ConfigError } from '../errors/index.js';
import { type BucketParams, bucketOf } from '../mapping/index.js';
import type { Command, Target } from '../redis/index.js';
import { createJumpRouter } from '../sharding/index.js';
import { execChecked, versionOf } from './exec.js';
import { datasetKeys, versionNamespace } from './keys.js';
import { readVersionInfo, type VersionInfo } from './versions.js';

/** Options of a read: the hash model reads one field of a record's hash. */
export interface ReadOptions {
  /** Hash model: the field to read (`HGET`); required there, ignored by the other models. */
  readonly field?: string;
}

/** One version of a dataset, pinned: every read through it reads that version, whatever `current` does meanwhile. */
export interface DatasetView {
  readonly name: string;
  readonly version: number;
  readonly model: VersionInfo['model'];
  /** The bucketed model's parameters of this version (`readKey` takes them too). */
  readonly buckets?: BucketParams;
  /** One key, as the load's key template made it (`user:42`); null when the version does not have it. */
  read(key: string, options?: ReadOptions): Promise<string | null>;
  /** Several keys in one pipeline, all from this version: a consistent snapshot of them. */
  readMany(keys: readonly string[], options?: ReadOptions): Promise<(string | null)[]>;
}

/**
 * Resolves `<name>:current` and pins the version it names: a reader that reads through the view sees one
 * complete version, never a half-loaded one or a mix of two (a version is current only once fully loaded, and
 * is kept — or given a grace period — after the next cutover). Undefined when the dataset has no current
 * version yet. `targets`: one target (standalone, cluster, Upstash), or the shards of a load spread over
 * several standalone servers, in the same order (the dataset's own keys live on the first).
 *
 * @example
 * const view = await openCurrent(target, 'users');
 * const [a, b] = (await view?.readMany(['user:1', 'user:2'])) ?? [];
 */
export async function openCurrent(
  targets: Target | readonly Target[],
  name: string,
): Promise<DatasetView | undefined> {
  const shards: readonly Target[] = Array.isArray(targets) ? targets : [targets as Target];
  const control = shards[0]!;
  const key = datasetKeys(name).current;
  const [reply] = await execChecked(control, [{ key, args: ['GET', key] }]);
  const version = versionOf(reply);
  if (version === null) return undefined;
  const info = await readVersionInfo(control, name, version);
  if (info === undefined) {
    throw new ConfigError(`dataset ${name}: ${key} names v${version}, which has no version hash`);
  }
  return viewOf(shards, name, info);
}

/**
 * Reads one key of the current version of dataset `name`: resolves `<name>:current`, then reads the key in
 * that version (`GET`, `HGET` of `options.field` for the hash model, the key's bucket for the bucketed one).
 * Null when the key is absent, or the dataset has no current version yet. For several keys that must come
 * from one version, use {@link openCurrent} and `readMany`.
 *
 * @example
 * const score = await readCurrent(target, 'users', 'user:42'); // '17'
 */
export async function readCurrent(
  targets: Target | readonly Target[],
  name: string,
  key: string,
  options: ReadOptions = {},
): Promise<string | null> {
  const view = await openCurrent(targets, name);
  return view === undefined ? null : view.read(key, options);
}

function viewOf(shards: readonly Target[], name: string, info: VersionInfo): DatasetView {
  const namespace = versionNamespace(name, info.version);
  const router = createJumpRouter(shards.length);
  const command = (key: string, options: ReadOptions): Command => {
    if (info.model === 'string') return { key: namespace + key, args: ['GET', namespace + key] };
    if (info.model === 'hash') {
      if (options.field === undefined) {
        throw new ConfigError(`dataset ${name} uses the hash model: give the field to read`);
      }
      return { key: namespace + key, args: ['HGET', namespace + key, options.field] };
    }
    if (!info.buckets) throw new ConfigError(`dataset ${name} v${info.version} has no bucket parameters`);
    const address = bucketOf(key, info.buckets);
    if (typeof address === 'string') throw new ConfigError(`readCurrent("${key.slice(0, 100)}"): ${address}`);
    return { key: address.bucket, args: ['HGET', address.bucket, address.field] };
  };
  const readMany = async (keys: readonly string[], options: ReadOptions = {}): Promise<(string | null)[]> => {
    const cmds = keys.map((k) => command(k, options));
    const out: (string | null)[] = new Array<string | null>(keys.length).fill(null);
    // One pipeline per shard, in parallel; a cluster or single target gets them all.
    const byShard = new Map<number, number[]>();
    for (const [i, c] of cmds.entries()) {
      const shard = router.route(c.key!);
      const list = byShard.get(shard) ?? [];
      list.push(i);
      byShard.set(shard, list);
    }
    await Promise.all(
      [...byShard].map(async ([shard, indexes]) => {
        const replies = await execChecked(
          shards[shard]!,
          indexes.map((i) => cmds[i]!),
        );
        for (const [j, i] of indexes.entries()) {
          const r = replies[j];
          if (r !== null && typeof r !== 'string') {
            throw new ConfigError(`dataset ${name}: unexpected reply ${JSON.stringify(r).slice(0, 200)}`);
          }
          out[i] = r ?? null;
        }
      }),
    );
    return out;
  };
  return {
    name,
    version: info.version,
    model: info.model,
    ...(info.buckets ? { buckets: info.buckets } : {}),
    readMany,
    read: async (key, options = {}) => (await readMany([key], options))[0]!,
  };
}
