import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { finish, runCli, spawnCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';

// One server for this file alone, so DBSIZE counts exactly this file's keys.
const redis = useRedis();
const tmp = useTempDir();

const ROWS = 400_000;

async function dbsize(): Promise<number> {
  return Number(await redisCli(redis.server.port, 'DBSIZE'));
}

/** Resolves once Redis holds at least one key: the load has started writing (polls, no fixed sleep). */
async function loading(child: ChildProcess): Promise<void> {
  while ((await dbsize()) === 0) {
    if (child.exitCode !== null) throw new Error(`the import exited (${child.exitCode}) before loading`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A CSV of ids 0…ROWS-1 with score id mod 1000, and the import arguments for it. */
async function bigImport(): Promise<{ prefix: string; args: string[] }> {
  const prefix = randomPrefix();
  const rows: string[] = [];
  for (let i = 0; i < ROWS; i++) rows.push(`${i},${i % 1000}`);
  const file = await tmp.write(`${prefix}.csv`, `id,score\n${rows.join('\n')}\n`);
  return {
    prefix,
    args: ['import', file, '--redis', redis.server.url, '--key', `${prefix}:{id}`, '--value', 'score'],
  };
}

/** The first key under `prefix` whose value is not id mod 1000 (all ROWS checked inside Redis), or -1. */
async function firstWrongKey(prefix: string): Promise<number> {
  const script = `for i = 0, tonumber(ARGV[2]) - 1 do
      if redis.call('GET', ARGV[1] .. i) ~= tostring(i % 1000) then return i end
    end
    return -1`;
  return Number(await redisCli(redis.server.port, 'EVAL', script, '0', `${prefix}:`, String(ROWS)));
}

describe('import stops on SIGTERM like on the first Ctrl-C', () => {
  it('--help documents exit 143 next to 130', async () => {
    const help = await runCli(['import', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}130 {2}interrupted by Ctrl-C \(SIGINT\)/m);
    expect(help.stdout).toMatch(/^ {2}143 {2}stopped by SIGTERM at a batch boundary/m);
  });

  it('exits 143 at a batch boundary with the resume point; resuming loads every key exactly once', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const { prefix, args } = await bigImport();
    const child = spawnCli([...args, '--no-progress']);
    const done = finish(child);
    await loading(child);
    child.kill('SIGTERM');
    const first = await done;
    expect(first.code).toBe(143);
    expect(first.stderr).toMatch(/SIGTERM: stopping at the next batch boundary/);
    expect(first.stderr).toMatch(/status\s+interrupted/);
    const resume = /resume\s+--start-offset (\d+) --start-line (\d+)/.exec(first.stderr);
    expect(resume, first.stderr).not.toBeNull();
    const written = Number(/written\s+([\d,]+)/.exec(first.stderr)![1]!.replaceAll(',', ''));
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(ROWS);
    // Everything before the resume point is in Redis (at least what the summary counts as written).
    expect(await dbsize()).toBeGreaterThanOrEqual(written);

    const rest = await runCli([
      ...args,
      '--no-progress',
      '--start-offset',
      resume![1]!,
      '--start-line',
      resume![2]!,
    ]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stderr).toMatch(/status\s+completed/);
    expect(await dbsize()).toBe(ROWS);
    expect(await firstWrongKey(prefix)).toBe(-1);
    expect(
      await redisCli(redis.server.port, 'MGET', `${prefix}:0`, `${prefix}:123456`, `${prefix}:399999`),
    ).toBe('0\n456\n999');
  });

  it('a second signal, of either kind, quits at once without a summary', async () => {
    await redisCli(redis.server.port, 'FLUSHALL');
    const { args } = await bigImport();
    const child = spawnCli([...args, '--no-progress']);
    const done = finish(child);
    await loading(child);
    // Both are pending at once, so the kernel picks the order (lower signal number first when both are
    // pending); whichever is handled second must end the process at once, with its own exit code.
    child.kill('SIGTERM');
    child.kill('SIGINT');
    const result = await done;
    const stopping = [...result.stderr.matchAll(/(SIGINT|SIGTERM): stopping at the next batch boundary/g)];
    expect(stopping, result.stderr).toHaveLength(1);
    const second = stopping[0]![1] === 'SIGINT' ? 'SIGTERM' : 'SIGINT';
    expect(result.code, result.stderr).toBe(second === 'SIGINT' ? 130 : 143);
    expect(result.stderr).not.toMatch(/status\s+interrupted/);
    expect(result.stderr).not.toMatch(/--start-offset/);
  });
});
