import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../../shared/errors/index.js';
import {
  ClusterTarget,
  type Command,
  keySlot,
  openTarget,
  type Reply,
  ReplyError,
  serversOf,
  type Target,
  TcpTarget,
} from '../../../shared/redis/index.js';
import {
  clusterReader,
  getAll,
  keysPerNode,
  reshard,
  useCluster,
  waitForClusterOk,
} from '../../support/redis-cluster.js';
import { startRedis, useRedis } from '../../support/redis-server.js';

/**
 * The Redis Cluster driver against a real 3-master cluster: slots as the server computes them, every command
 * at its slot's owner, and writes that keep their order while `redis-cli --cluster reshard` moves slots
 * under a load (MOVED and ASK followed, nothing swapped, nothing lost).
 */

const cluster = useCluster();
const standalone = useRedis();
const opened: Target[] = [];
afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()));
});

async function open(url: string): Promise<Target> {
  const t = await openTarget(url);
  opened.push(t);
  return t;
}

function check(replies: Reply[]): void {
  const errors = replies.filter((r) => r instanceof ReplyError);
  expect(errors).toEqual([]);
}

describe('ClusterTarget', () => {
  it('detects a cluster from any node, and a standalone server as one', async () => {
    const viaSecond = await open(cluster.server.nodes[1]!.url);
    expect(viaSecond).toBeInstanceOf(ClusterTarget);
    expect(viaSecond.name).toContain('(cluster)');
    expect(await open(standalone.server.url)).toBeInstanceOf(TcpTarget);
    const members = await serversOf([viaSecond]);
    expect(members.map((m) => m.name).sort()).toEqual(
      cluster.server.nodes.map((n) => `redis://127.0.0.1:${n.port}/0`).sort(),
    );
  });

  it('computes the hash slot of any key as the server does (hash tags, UTF-8, braces anywhere)', async () => {
    const target = await open(cluster.server.url);
    const key = fc.oneof(
      fc.string({ maxLength: 24 }),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc
        .tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }))
        .map(([a, b, c]) => `${a}{${b}}${c}`),
      fc.constantFrom('{}', '{}x', 'a{}b{c}', '{{a}}', 'x}{y}', '{a', 'b}', ''),
    );
    const keys = fc.sample(key, { numRuns: 600, seed: 7 });
    const replies = await target.exec(keys.map((k) => ({ args: ['CLUSTER', 'KEYSLOT', k] })));
    expect(replies).toEqual(keys.map((k) => keySlot(k)));
  });

  it('sends every key to its slot owner: 30,000 SETs in pipelines of 1,000, read back with another client', async () => {
    const target = await open(cluster.server.url);
    const before = await keysPerNode(cluster.server);
    const keys = Array.from({ length: 30_000 }, (_, i) => `spread:${i}`);
    const pipelines: Promise<Reply[]>[] = [];
    for (let i = 0; i < keys.length; i += 1000) {
      pipelines.push(
        target.exec(keys.slice(i, i + 1000).map((k) => ({ key: k, args: ['SET', k, `v-${k}`] }))),
      );
    }
    for (const replies of await Promise.all(pipelines)) check(replies);
    const after = await keysPerNode(cluster.server);
    const added = after.map((n, i) => n - before[i]!);
    expect(added.reduce((a, b) => a + b, 0)).toBe(keys.length);
    for (const n of added) expect(n).toBeGreaterThan(8_000);
    const reader = clusterReader(cluster.server);
    try {
      const got = await getAll(reader, keys);
      expect(got).toEqual(keys.map((k) => `v-${k}`));
    } finally {
      await reader.quit();
    }
  });

  it('keeps every write in order while slots move between masters under load (MOVED and ASK)', async () => {
    const target = (await open(cluster.server.url)) as ClusterTarget;
    const ports = cluster.server.nodes.map((n) => n.port);
    const keys = Array.from({ length: 2_000 }, (_, i) => `move:${i}`);
    let round = 0;
    let resharding = true;
    const moving = reshard(
      cluster.server,
      [
        [0, 1],
        [1, 2],
        [2, 0],
      ],
      800,
    ).finally(() => {
      resharding = false;
    });
    // Each round appends its number to every key's list, in pipelines of 250 with 16 in flight: two rounds
    // are in flight at once, so a command sent again after a redirect could land after the next round's.
    // RPUSH is not idempotent and shows order: any loss, duplicate or swap breaks [1, 2, …, rounds].
    const inFlight: Promise<void>[] = [];
    while (resharding || round < 3) {
      round++;
      for (let i = 0; i < keys.length; i += 250) {
        const cmds: Command[] = keys
          .slice(i, i + 250)
          .map((k) => ({ key: k, args: ['RPUSH', k, String(round)] }));
        inFlight.push(target.exec(cmds).then(check));
        if (inFlight.length >= 16) await inFlight.shift();
      }
    }
    await Promise.all(inFlight);
    await moving;
    await waitForClusterOk(ports, 3);
    expect(target.redirects.moved).toBeGreaterThan(0);
    const expected = Array.from({ length: round }, (_, i) => String(i + 1));
    const reader = clusterReader(cluster.server);
    try {
      const wrong: string[] = [];
      for (let i = 0; i < keys.length; i += 500) {
        const lists = await Promise.all(keys.slice(i, i + 500).map((k) => reader.lrange(k, 0, -1)));
        lists.forEach((list, j) => {
          const at = expected.findIndex((v, n) => list[n] !== v);
          if (at >= 0 || list.length !== expected.length)
            wrong.push(`${keys[i + j]}: ${list.length} entries, [${at}…] = ${list.slice(at, at + 3).join()}`);
        });
      }
      expect(wrong.slice(0, 5)).toEqual([]);
    } finally {
      await reader.quit();
    }
  });

  it('refuses a cluster whose slots are not all covered, naming the first uncovered slot', async () => {
    const lonely = await startRedis({
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
    });
    try {
      const target = await open(lonely.url);
      expect(target).toBeInstanceOf(ClusterTarget);
      const error = await target.exec([{ key: 'k', args: ['SET', 'k', '1'] }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/16384 of 16384 slots have no master \(the first is slot 0\)/);
    } finally {
      await lonely.stop();
    }
  });
});
