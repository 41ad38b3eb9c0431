import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { type LoadResult, loadRange, MemoryRejectSink } from '../../../shared/import/index.js';
import { FileSource } from '../../../shared/records/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

/**
 * A server that stops reading (SIGSTOP: a stalled or paused Redis) must not make the loader buffer without
 * bound: the writer keeps at most `inFlight` pipelines of at most `maxBytes`, and the driver holds what the
 * socket refused in its own queue until 'drain'. Once the server continues (SIGCONT), the load completes with
 * every key.
 */

const MiB = 1024 * 1024;
const IN_FLIGHT = 4;
const MAX_BYTES = 4 * MiB;
const MAX_COMMANDS = 2000;
/** Records of ~2 KB: pipelines of ~4 MB, so the window holds ~16 MB, more than the kernel buffers take. */
const RECORDS = 24_000;
const PADDING = 'abcdefghijklmnopqrstuvwxyz'.repeat(80);
/** Driver bytes allowed beyond the window's payloads: one command past `maxBytes` per pipeline, and framing. */
const SLACK_BYTES = 1 * MiB;
/** JS heap plus off-heap buffers may grow by less than this while the server is stopped. */
const MEMORY_GROWTH_LIMIT = 200 * MiB;
const POLLS_WHILE_STOPPED = 10;

const redis = useRedis();
const tmp = useTempDir();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function value(i: number): string {
  return `${i}-${PADDING}`;
}

/** Polls `condition` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

function memory(): number {
  const { external, heapUsed } = process.memoryUsage();
  return external + heapUsed;
}

describe('write backpressure against a server that stops reading', () => {
  it('keeps the window and the buffered bytes bounded while SIGSTOPped, then completes after SIGCONT', async () => {
    const p = randomPrefix();
    const lines = Array.from({ length: RECORDS }, (_, i) => `${i},${value(i)}`);
    const file = await tmp.write(`${p}.csv`, `id,v\n${lines.join('\n')}\n`);
    const spec = parseImportSpec({
      format: { type: 'csv' },
      key: `${p}:{id}`,
      model: { type: 'string', value: 'v' },
      batch: { maxCommands: MAX_COMMANDS, maxBytes: MAX_BYTES, inFlight: IN_FLIGHT },
    });
    const target = new TcpTarget(redis.server.url);
    targets.push(target);
    const pid = redis.server.pid;

    let stopped = false;
    let resumed = false;
    let writtenAtStop = 0;
    let lastWritten = 0;
    const resume = (): void => {
      if (stopped && !resumed) {
        resumed = true;
        process.kill(pid, 'SIGCONT');
      }
    };
    let loading: Promise<LoadResult> | undefined;
    try {
      loading = loadRange({
        source: new FileSource(file),
        spec,
        targets: [target],
        rejects: new MemoryRejectSink(),
        onProgress: (progress) => {
          lastWritten = progress.written;
          // Stopped from inside the load, once Redis has confirmed a first pipeline: the rest piles up.
          if (!stopped && progress.written > 0) {
            process.kill(pid, 'SIGSTOP');
            stopped = true;
            writtenAtStop = progress.written;
          }
        },
      });
      // Handled here too, so a load that fails before the checks below is reported by them, not as unhandled.
      loading.catch(() => undefined);
      await waitFor('the load to write its first keys', () => stopped);
      expect(writtenAtStop).toBeLessThan(RECORDS - IN_FLIGHT * MAX_COMMANDS);
      await waitFor(`a full writer window (${IN_FLIGHT} pipelines)`, () => target.stats.pending >= IN_FLIGHT);

      // Replies Redis sent just before it stopped may still have settled a pipeline: count from a full window.
      const writtenAtFull = lastWritten;
      const base = memory();
      for (let poll = 0; poll < POLLS_WHILE_STOPPED; poll++) {
        const { pending, bufferedBytes } = target.stats;
        expect(pending).toBe(IN_FLIGHT);
        expect(bufferedBytes).toBeLessThanOrEqual(IN_FLIGHT * MAX_BYTES + SLACK_BYTES);
        expect(memory() - base).toBeLessThan(MEMORY_GROWTH_LIMIT);
        await delay(100);
      }
      // Nothing is confirmed while the server is stopped: the window stayed full the whole time.
      expect(lastWritten).toBe(writtenAtFull);

      resume();
      const result = await loading;
      expect(result.status).toBe('completed');
      expect(result.counts).toMatchObject({ read: RECORDS, written: RECORDS, rejected: 0, retries: 0 });
    } finally {
      // A stopped server would hang the SIGTERM of useRedis' cleanup, and the load with it.
      resume();
      await loading?.catch(() => undefined);
    }

    const port = redis.server.port;
    const count = await redisCli(port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${p}:*`);
    expect(Number(count)).toBe(RECORDS);
    const exact = `local ok = 0 for i = 0, tonumber(ARGV[2]) - 1 do if redis.call('GET', ARGV[1] .. ':' .. i) == i .. '-' .. ARGV[3] then ok = ok + 1 end end return ok`;
    expect(Number(await redisCli(port, 'EVAL', exact, '0', p, String(RECORDS), PADDING))).toBe(RECORDS);
    for (const i of [0, 1, 4_321, RECORDS - 1]) {
      expect(await redisCli(port, 'GET', `${p}:${i}`)).toBe(value(i));
    }
  }, 120_000);
});
