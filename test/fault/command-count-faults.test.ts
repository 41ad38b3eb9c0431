import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../shared/config/index.js';
import { loadRange, MemoryRejectSink } from '../../shared/import/index.js';
import { FileSource } from '../../shared/records/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { dataCommandCalls, resetCommandStats } from '../support/commandstats.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { expectExactKeys, idValueRows } from '../support/read-back.js';
import { useRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * Replays count: a pipeline sent again after a lost connection is run (and billed) again, so `commands` counts
 * it again — in full, since the loader cannot know how much of a cut pipeline the server ran.
 */

const redis = useRedis();
const tmp = useTempDir();
const targets: TcpTarget[] = [];
const proxies: TcpProxy[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
  await Promise.all(proxies.map((p) => p.close()));
});

describe('commands sent when the connection is cut mid-load', () => {
  it('counts the replayed pipelines: the server ran at least the rows and at most the count', async () => {
    const p = randomPrefix();
    const rows = 100_000;
    const maxCommands = 500;
    const inFlight = 4;
    const file = await tmp.write(`${p}.csv`, idValueRows(rows));
    const proxy = await startTcpProxy(redis.server.port);
    proxies.push(proxy);
    const target = new TcpTarget(proxy.url);
    targets.push(target);
    await resetCommandStats([redis.server.port]);
    // The cut lands inside a pipeline; the proxy forwards again, so the writer reconnects and replays.
    const cut = proxy.cutAfter(600_000, 'forward');
    const result = await loadRange({
      source: new FileSource(file, { highWaterMark: 16 * 1024 }),
      spec: parseImportSpec({
        format: { type: 'csv' },
        key: `${p}:{id}`,
        model: { type: 'string', value: 'v' },
        batch: { maxCommands, inFlight },
        retry: { retries: 5, baseMs: 10, maxMs: 50 },
      }),
      targets: [target],
      rejects: new MemoryRejectSink(),
    });
    await cut;
    expect(result.status).toBe('completed');
    expect(result.counts.retries).toBeGreaterThan(0);
    expect(result.counts.written).toBe(rows);
    const server = await dataCommandCalls([redis.server.port]);
    const { commands } = result.counts;
    // At least the pipeline cut in half went out twice.
    expect(commands).toBeGreaterThan(rows);
    expect(server.total).toBeGreaterThanOrEqual(rows);
    expect(server.total).toBeLessThanOrEqual(commands);
    // What the count holds that the server never ran: parts of the pipelines in flight at the cut.
    expect(commands - server.total).toBeLessThanOrEqual(inFlight * maxCommands);
    await expectExactKeys(redis.server.port, p, rows);
  });
});
