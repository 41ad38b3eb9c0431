import type { Command, Reply, Target } from '../../shared/redis/index.js';

/** Runs commands in pipelines of 1000 and returns all replies (for reading back large loads). */
export async function execAll(target: Target, cmds: Command[]): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < cmds.length; i += 1000) out.push(...(await target.exec(cmds.slice(i, i + 1000))));
  return out;
}
