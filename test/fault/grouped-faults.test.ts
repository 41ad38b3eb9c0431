import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImportSummary } from '../../cli/import-run.js';
import { type CliResult, finish, runCli, spawnCli, spawnCliUntil } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { expectBucketFields, scoreRows } from '../support/grouped.js';
import { type RedisServer, redisCli, useRedis } from '../support/redis-server.js';

/**
 * Grouped writes confirm nothing by byte offset until their load pass ends, so their promises are kept by
 * partition: a stopped import continues after the partitions Redis confirmed, and a server that lost its data
 * (SIGKILL without persistence) never leaves an import reporting completed with buckets missing.
 */

const redis = useRedis();
const tmp = useTempDir();

const ROWS = 200_000;

function importArgs(file: string, p: string, tempDir: string, ...more: string[]): string[] {
  return [
    'import',
    file,
    '--redis',
    redis.server.url,
    '--key',
    `${p}:{id}`,
    '--value',
    'score',
    '--model',
    'bucketed',
    '--group-buckets',
    'on',
    '--temp-dir',
    tempDir,
    // Many small partitions and small pipelines: the load pass takes long enough to be struck mid-way.
    '--group-memory',
    '1',
    '--batch-commands',
    '200',
    '--in-flight',
    '1',
    '--json',
    ...more,
  ];
}

function summaryOf(result: CliResult): ImportSummary {
  try {
    return JSON.parse(result.stdout) as ImportSummary;
  } catch {
    throw new Error(`no JSON summary (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  }
}

/** Whether the load pass has written more than `n` buckets (the server holds this test's keys only). */
function bucketsWritten(server: RedisServer, n: number): () => Promise<boolean> {
  return async () => Number(await redisCli(server.port, 'DBSIZE')) > n;
}

async function expectComplete(summary: ImportSummary, last: Map<string, string>): Promise<void> {
  expect(summary.status).toBe('completed');
  expect(summary.counts).toMatchObject({ read: ROWS, written: ROWS, rejected: 0, unsettled: 0 });
  if (summary.buckets?.scheme !== 'hash') throw new Error('hash buckets expected');
  await expectBucketFields(redis.server.port, summary.buckets.prefix, summary.buckets.bucketCount, last);
}

describe('grouped writes under faults', () => {
  it('SIGTERM mid-load pass: exit 143 with the spill kept; the same command again continues and ends exact', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const p = randomPrefix();
    const { text, last } = scoreRows(ROWS, 20_000);
    const file = await tmp.write(`${p}.csv`, text);
    const dir = join(tmp.dir, p);
    const args = importArgs(file, p, dir);
    const child = spawnCli(args);
    const done = finish(child);
    let exited = false;
    void done.then(() => (exited = true));
    const started = bucketsWritten(redis.server, 300);
    while (!exited && !(await started())) await new Promise((r) => setTimeout(r, 20));
    expect(exited).toBe(false);
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code).toBe(143);
    const first = summaryOf(stopped);
    expect(first.status).toBe('interrupted');
    expect(first.nextOffset).toBe(0);
    const grouped = first.writePath!.grouped!;
    expect(grouped.kept).toBe(true);
    expect(grouped.settled).toBeLessThan(grouped.partitions);
    const c = first.counts;
    expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
    expect(c.unsettled).toBeGreaterThan(0);
    expect(await readdir(dir)).toContain(grouped.spill.slice(dir.length + 1));

    const again = await runCli(args);
    expect(again.code).toBe(0);
    const second = summaryOf(again);
    expect(second.writePath!.grouped).toMatchObject({
      reusedSpill: true,
      resumedAt: grouped.settled,
      kept: false,
    });
    await expectComplete(second, last);
    expect(await readdir(dir)).toEqual([]);
  });

  it('redis-server SIGKILLed mid-load pass and back empty: the load pass starts over and ends exact', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const p = randomPrefix();
    const { text, last } = scoreRows(ROWS, 5000);
    const file = await tmp.write(`${p}.csv`, text);
    const args = importArgs(file, p, join(tmp.dir, p), '--retries', '30');
    const { running, done } = await spawnCliUntil(args, bucketsWritten(redis.server, 300));
    expect(running).toBe(true);
    await redis.server.kill('SIGKILL');
    await redis.server.restart();
    const result = await done;
    expect(result.code).toBe(0);
    const summary = summaryOf(result);
    expect(summary.counts.serverResets).toBeGreaterThanOrEqual(1);
    expect(summary.resets[0]).toMatchObject({ action: 'replayed' });
    // The server came back without the meta hash: the buckets are checked with the parameters the load used.
    await expectComplete(summary, last);
  });

  it('redis-server SIGKILLed and not back: never completed; a rerun against the new server reloads every bucket', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const p = randomPrefix();
    const { text, last } = scoreRows(ROWS);
    const file = await tmp.write(`${p}.csv`, text);
    const dir = join(tmp.dir, p);
    const args = importArgs(file, p, dir, '--retries', '2');
    const { running, done } = await spawnCliUntil(args, bucketsWritten(redis.server, 300));
    expect(running).toBe(true);
    await redis.server.kill('SIGKILL');
    const failed = await done;
    expect(failed.code).toBe(3);
    const first = summaryOf(failed);
    expect(first.status).toBe('failed');
    expect(first.counts.written).toBeLessThan(ROWS);
    expect(first.writePath!.grouped!.kept).toBe(true);

    await redis.server.restart();
    const again = await runCli(args);
    expect(again.code).toBe(0);
    const second = summaryOf(again);
    expect(second.writePath!.grouped).toMatchObject({ reusedSpill: true, resumedAt: 0 });
    if (first.writePath!.grouped!.settled > 0) {
      expect(second.resets).toEqual([expect.objectContaining({ action: 'replayed' })]);
    }
    await expectComplete(second, last);
  });
});
