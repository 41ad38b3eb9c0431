import { classifyReplyError, ServerResetError } from '../errors/index.js';
import { ReplyError, type Target } from './types.js';

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
