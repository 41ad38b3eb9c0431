import { expect } from 'vitest';
import type { Command, Reply, Target } from '../../shared/redis/index.js';
import { redisCli } from './redis-server.js';

/** Runs commands in pipelines of 1000 and returns all replies (for reading back large loads). */
export async function execAll(target: Target, cmds: Command[]): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < cmds.length; i += 1000) out.push(...(await target.exec(cmds.slice(i, i + 1000))));
  return out;
}

/** `id,v` CSV text of `n` rows `<i>,v<i>`, the data {@link expectExactKeys} checks. */
export function idValueRows(n: number): string {
  return `id,v\n${Array.from({ length: n }, (_, i) => `${i},v${i}`).join('\n')}\n`;
}

/**
 * Asserts that keys `<prefix>:0 … <prefix>:<n-1>` hold exactly `v<i>` and that no other key has the prefix,
 * with `redis-cli` (independent of our driver) and one Lua pass over all ids.
 */
export async function expectExactKeys(port: number, prefix: string, n: number): Promise<void> {
  const count = Number(
    await redisCli(port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${prefix}:*`),
  );
  expect(count).toBe(n);
  const script = `local ok = 0 for i = 0, tonumber(ARGV[2]) - 1 do if redis.call('GET', ARGV[1] .. ':' .. i) == 'v' .. i then ok = ok + 1 end end return ok`;
  expect(Number(await redisCli(port, 'EVAL', script, '0', prefix, String(n)))).toBe(n);
}
