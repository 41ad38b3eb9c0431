import { classifyReplyError, ServerResetError } from '../errors/index.js';
import { ReplyError, type ServerIdentity, type Target } from '../redis/index.js';

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

/**
 * Makes sure every shard is connected and its identity known: a `PING` per shard. A reused connection that
 * finds its server restarted reports it once (a `ServerResetError`); that is expected here, before anything
 * is written, so the shard is pinged again. Callers compare identities with {@link serversChanged}.
 * Connection errors are thrown as they are (retryable ones are retried by the caller's caller).
 */
export async function touchTargets(targets: readonly Target[]): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      const ping = () => t.exec([{ args: ['PING'] }]);
      const [reply] = await ping().catch((err: unknown) => {
        if (err instanceof ServerResetError) return ping();
        throw err;
      });
      if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
    }),
  );
}
