import { maxMemory, serversOf, type Target, usedMemory } from '../redis/index.js';

/** One shard's memory at a point in time. */
export interface ShardMemory {
  shard: string;
  usedMemory: number;
  maxMemory: number;
}

/** Reads `INFO memory` of every server (in parallel): each shard, each master of a cluster. */
export async function memorySnapshot(targets: readonly Target[]): Promise<ShardMemory[]> {
  return Promise.all(
    (await serversOf(targets)).map(async (t) => {
      const info = await t.info(['memory']);
      return { shard: t.name, usedMemory: usedMemory(info), maxMemory: maxMemory(info) };
    }),
  );
}

/** Total `used_memory` growth between two snapshots divided by `keys` (0 when no keys). */
export function bytesPerKey(
  before: readonly ShardMemory[],
  after: readonly ShardMemory[],
  keys: number,
): number {
  if (keys <= 0) return 0;
  const sum = (s: readonly ShardMemory[]) => s.reduce((a, m) => a + m.usedMemory, 0);
  return (sum(after) - sum(before)) / keys;
}
