import type { Command } from '../redis/index.js';

/**
 * The keys of a dataset's bookkeeping, all outside its versions' namespaces (`<name>:v<n>:…`). Each is one key,
 * used by single-key commands only, so a Redis Cluster routes each on its own (no CROSSSLOT).
 */
export interface DatasetKeys {
  /** `INCR`ed to allocate a version: two loads started at once get two versions. */
  readonly next: string;
  /** The version readers use, as a decimal string. */
  readonly current: string;
  /** Sorted set of the versions allocated and not expired yet (score = version). */
  readonly versions: string;
}

/**
 * The bookkeeping keys of dataset `name`.
 *
 * @example
 * datasetKeys('users'); // { next: 'users:next', current: 'users:current', versions: 'users:versions' }
 */
export function datasetKeys(name: string): DatasetKeys {
  return { next: `${name}:next`, current: `${name}:current`, versions: `${name}:versions` };
}

/** The prefix of every key version `version` writes: `users:v3:`. */
export function versionNamespace(name: string, version: number): string {
  return `${name}:v${version}:`;
}

/**
 * The hash describing one version (`users:v3`, beside its namespace `users:v3:…`, never inside it): its
 * model, its bucket parameters, its state, when it was loaded and flipped.
 */
export function versionKey(name: string, version: number): string {
  return `${name}:v${version}`;
}

/** The `SCAN MATCH` pattern of a version's keys (dataset names hold no glob characters). */
export function versionPattern(name: string, version: number): string {
  return `${versionNamespace(name, version)}*`;
}

/**
 * Sets `current` to `ARGV[1]` only when that is newer than what it holds, atomically: a load that finishes
 * after a newer one never takes `current` back. Replies `{flipped (0|1), previous (0: none)}`.
 */
export const FLIP_SCRIPT = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local v = tonumber(ARGV[1])
if v > cur then redis.call('SET', KEYS[1], ARGV[1]) return {1, cur} end
return {0, cur}`;

/** The command that flips `current` to `version` (see {@link FLIP_SCRIPT}). */
export function flipCommand(name: string, version: number): Command {
  const key = datasetKeys(name).current;
  return { key, args: ['EVAL', FLIP_SCRIPT, '1', key, String(version)] };
}

/**
 * The command that removes `key` after `graceSeconds` (`EXPIRE`), or at once in the background (`UNLINK`)
 * when the grace is 0.
 */
export function expireCommand(key: string, graceSeconds: number): Command {
  return graceSeconds > 0
    ? { key, args: ['EXPIRE', key, String(graceSeconds)] }
    : { key, args: ['UNLINK', key] };
}
