import type { ServerIdentity, Target } from '../redis/index.js';

/** Who each shard is (as of its current or last connection), in shard order; `null` where unknown. */
export function currentServers(targets: readonly Target[]): (ServerIdentity | null)[] {
  return targets.map((t) => t.identity?.() ?? null);
}

/**
 * The indexes of the shards that are other servers now than `before` says (a restart or failover in between).
 * A shard unknown on either side never counts as changed.
 *
 * @example
 * serversChanged([{ runId: 'a' }], [{ runId: 'b' }]); // [0]
 */
export function serversChanged(
  before: readonly (ServerIdentity | null)[],
  now: readonly (ServerIdentity | null)[],
): number[] {
  const changed: number[] = [];
  before.forEach((b, i) => {
    const n = now[i];
    if (!b || !n) return;
    const replaced = b.replId !== undefined && n.replId !== undefined && b.replId !== n.replId;
    if (b.runId !== n.runId || replaced) changed.push(i);
  });
  return changed;
}

export { touchTargets } from '../redis/index.js';
