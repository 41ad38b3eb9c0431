import type { RedisInfo } from './types.js';

/**
 * Parses `INFO` output: a `# Memory` header starts section `memory` (lower case), each `key:value` line is a
 * field split at its first colon. Keyspace lines (`db0:keys=1,expires=0,avg_ttl=0`) keep their value raw.
 * Fields before the first header (not sent by real servers) land in section `''`.
 *
 * @example
 * parseInfo('# Memory\r\nused_memory:1024\r\n').memory?.used_memory; // '1024'
 */
export function parseInfo(text: string): RedisInfo {
  const info: RedisInfo = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const name = line.slice(1).trim().toLowerCase();
      section = info[name] ??= {};
      continue;
    }
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    section ??= info[''] ??= {};
    section[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return info;
}

function memoryField(info: RedisInfo, field: string): number {
  const value = Number(info.memory?.[field]);
  return Number.isFinite(value) ? value : 0;
}

/** `used_memory` in bytes from the `memory` section; 0 when absent. */
export function usedMemory(info: RedisInfo): number {
  return memoryField(info, 'used_memory');
}

/** `maxmemory` in bytes from the `memory` section; 0 when absent (and when the server has no limit). */
export function maxMemory(info: RedisInfo): number {
  return memoryField(info, 'maxmemory');
}
