import { AuthError, classifyError, classifyReplyError, FatalError, withRetry } from '../errors/index.js';
import { ReplyError, type Target } from '../redis/index.js';

/**
 * PINGs every shard (3 quick attempts) so an unreachable or misconfigured Redis is found before anything is
 * planned or written. Wrong credentials surface at once as an {@link AuthError}; an unreachable shard as the
 * last retryable error.
 */
export async function pingTargets(targets: readonly Target[]): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      try {
        await withRetry(
          async () => {
            const [reply] = await t.exec([{ args: ['PING'] }]);
            if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
          },
          { retries: 2, baseMs: 200, maxMs: 1000 },
        );
      } catch (err) {
        const e = classifyError(err);
        if (e.retryable || e instanceof AuthError) throw e;
        throw new FatalError(`${t.name}: ${e.message}`, { cause: e });
      }
    }),
  );
}
