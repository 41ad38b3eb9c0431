import { classifyReplyError, FatalError } from '../errors/index.js';
import { ReplyError, type Target } from '../redis/index.js';
import { type ChunkStats, chunkStatsSchema } from './schemas.js';

/** Default lifetime of a completion marker: 7 days, longer than any execution and its retries. */
export const DEFAULT_MARKER_TTL_SECONDS = 7 * 86_400;

/** The Redis key of chunk `index`'s completion marker, e.g. `rbl:import:users-1a2b…:chunk:7`. */
export function markerKey(prefix: string, importId: string, index: number): string {
  return `${prefix}${importId}:chunk:${index}`;
}

function parse(reply: unknown, key: string): ChunkStats | undefined {
  if (reply === null) return undefined;
  if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
  if (typeof reply !== 'string') throw new FatalError(`completion marker ${key} is not a string`);
  const result = chunkStatsSchema.safeParse(JSON.parse(reply));
  if (!result.success) throw new FatalError(`completion marker ${key} is malformed: ${result.error.message}`);
  return result.data;
}

/**
 * Reads the completion marker of one chunk: its recorded stats when the chunk was fully written before,
 * `undefined` otherwise. Markers live on the first shard.
 */
export async function readMarker(
  target: Target,
  prefix: string,
  importId: string,
  index: number,
): Promise<ChunkStats | undefined> {
  const key = markerKey(prefix, importId, index);
  const [reply] = await target.exec([{ key, args: ['GET', key] }]);
  return parse(reply, key);
}

/**
 * Reads the markers of chunks `0 … count-1` (a pipeline of 1000 GETs at a time: one GET per key, so the
 * markers may live on different masters of a cluster); missing ones are `undefined`.
 */
export async function readMarkers(
  target: Target,
  prefix: string,
  importId: string,
  count: number,
): Promise<(ChunkStats | undefined)[]> {
  const out: (ChunkStats | undefined)[] = [];
  for (let from = 0; from < count; from += 1000) {
    const keys = Array.from({ length: Math.min(1000, count - from) }, (_, i) =>
      markerKey(prefix, importId, from + i),
    );
    const replies = await target.exec(keys.map((key) => ({ key, args: ['GET', key] })));
    replies.forEach((r, i) => out.push(parse(r, keys[i]!)));
  }
  return out;
}

/**
 * Records that a chunk's data is fully written (call only after every write was confirmed): a later run of
 * the same chunk finds it and returns these stats without writing anything.
 */
export async function writeMarker(
  target: Target,
  prefix: string,
  importId: string,
  stats: ChunkStats,
  ttlSeconds = DEFAULT_MARKER_TTL_SECONDS,
): Promise<void> {
  const key = markerKey(prefix, importId, stats.index);
  const [reply] = await target.exec([
    { key, args: ['SET', key, JSON.stringify(stats), 'EX', String(ttlSeconds)] },
  ]);
  if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
}
