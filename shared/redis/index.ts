/**
 * Redis transport: RESP2 encoding and parsing, URL and INFO parsing, the hand-written TCP {@link TcpTarget},
 * the slot-aware {@link ClusterTarget} and the Upstash REST {@link UpstashTarget}.
 *
 * @example
 * import { TcpTarget } from '../redis/index.js';
 * const target = new TcpTarget(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const replies = await target.exec([{ key: 'k', args: ['SET', 'k', 'v'] }]);
 *
 * @module
 */
export { ClusterTarget, type ClusterRedirects, type ClusterTargetOptions } from './cluster-target.js';
export {
  clusterOf,
  isProvisional,
  openTarget,
  openTargets,
  type OpenTargetOptions,
  serversOf,
} from './open.js';
export { keySlot, SLOT_COUNT, slotTag } from './slots.js';
export { touchTargets } from './touch.js';
export { maxMemory, parseInfo, usedMemory } from './info.js';
export { commandNameAt, encodeCommands, ReplyParser } from './resp.js';
export { serverReset, TcpTarget, type TcpTargetOptions } from './tcp-target.js';
export {
  type Command,
  type ExecOptions,
  type RedisInfo,
  type Reply,
  ReplyError,
  type ServerIdentity,
  type Target,
} from './types.js';
export { UpstashTarget, type UpstashTargetOptions } from './upstash-target.js';
export {
  isRestUrl,
  parseRedisUrl,
  parseRestUrl,
  type RedisEndpoint,
  redactUrl,
  type RestEndpoint,
} from './url.js';
