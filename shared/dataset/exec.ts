import { classifyReplyError } from '../errors/index.js';
import { type Command, type Reply, ReplyError, type Target } from '../redis/index.js';

/** Sends `cmds` as one pipeline and returns the replies; the first server error is thrown, classified. */
export async function execChecked(target: Target, cmds: readonly Command[]): Promise<Reply[]> {
  if (cmds.length === 0) return [];
  const replies = await target.exec(cmds);
  const failed = replies.find((r): r is ReplyError => r instanceof ReplyError);
  if (failed) throw classifyReplyError(failed.message);
  return replies;
}

/** A reply as a positive integer version, or null (nil, empty, 0, not a number). */
export function versionOf(reply: Reply | undefined): number | null {
  const n = Number(reply);
  return reply !== null && reply !== undefined && Number.isInteger(n) && n > 0 ? n : null;
}

/** An `HGETALL` reply as a map. */
export function fieldsOf(reply: Reply | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!Array.isArray(reply)) return m;
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
  return m;
}
