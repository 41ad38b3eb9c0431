import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { finish, runCli, spawnCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();

const ROWS = 300_000;

const cli = (...args: string[]) => redisCli(redis.server.port, ...args);

/** Keys of version `v` of dataset `name`, counted inside Redis. */
async function versionKeys(name: string, v: number): Promise<number> {
  return Number(await cli('EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${name}:v${v}:*`));
}

/** Resolves once version `v` has keys: the load is writing (polls, no fixed sleep). */
async function writing(child: ChildProcess, name: string, v: number): Promise<void> {
  while ((await versionKeys(name, v)) === 0) {
    if (child.exitCode !== null) throw new Error(`the import exited (${child.exitCode}) before loading`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** `id,v` rows tagged with the load: `<tag>:<id>`. */
function rows(n: number, tag: string): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${i},${tag}:${i}`);
  return `id,v\n${out.join('\n')}\n`;
}

describe('import --dataset', () => {
  it('--help documents the dataset flags', async () => {
    const help = await runCli(['import', '--help']);
    for (const flag of [
      '--dataset <name>',
      '--dataset-keep <n>',
      '--dataset-version <n>',
      'Dataset cutover',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it('a stopped load resumed with the printed command ends in the same version and flips once', async () => {
    const name = randomPrefix();
    const small = await tmp.write(`${name}-1.csv`, rows(1000, 'v1'));
    const base = ['--redis', redis.server.url, '--key', 'user:{id}', '--value', 'v', '--dataset', name];
    const first = await runCli(['import', small, ...base, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      status: 'completed',
      dataset: { name, version: 1, flipped: true, previous: null, current: 1 },
    });

    const big = await tmp.write(`${name}-2.csv`, rows(ROWS, 'v2'));
    const args = ['import', big, ...base, '--no-progress'];
    const child = spawnCli(args);
    const done = finish(child);
    await writing(child, name, 2);
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(stopped.stderr).toMatch(
      new RegExp(
        `dataset\\s+v2 loaded into ${name}:v2:…; cutover skipped: import INTERRUPTED; current stays at v1`,
      ),
    );
    expect(await cli('GET', `${name}:current`)).toBe('1');
    const resume = /resume\s+(--start-offset \d+ --start-line \d+ --dataset-version 2)\s/.exec(
      stopped.stderr,
    );
    expect(resume, stopped.stderr).not.toBeNull();
    // Readers still get v1 while v2 is half loaded.
    expect(await cli('GET', `${name}:v1:user:7`)).toBe('v1:7');

    const rest = await runCli([...args, ...resume![1]!.split(' ')]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stderr).toMatch(
      new RegExp(`dataset\\s+v2 loaded into ${name}:v2:…; ${name} v2 is current \\(was v1\\)`),
    );
    expect(await cli('GET', `${name}:current`)).toBe('2');
    // No second version was allocated: the rest went into v2, which holds every row exactly.
    expect(await cli('GET', `${name}:next`)).toBe('2');
    expect(await versionKeys(name, 2)).toBe(ROWS);
    const script = `for i = 0, tonumber(ARGV[2]) - 1 do
        if redis.call('GET', ARGV[1] .. i) ~= 'v2:' .. i then return i end
      end
      return -1`;
    expect(await cli('EVAL', script, '0', `${name}:v2:user:`, String(ROWS))).toBe('-1');
    expect(await cli('HEXISTS', `${name}:v2`, 'flippedAt')).toBe('1');

    // The version is live now: continuing it again is refused before anything is written.
    const again = await runCli([...args, ...resume![1]!.split(' ')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      new RegExp(`dataset ${name} v2 is current: a live version is never written again`),
    );
  });

  it('refuses --dataset-version of a version never allocated, and without --dataset', async () => {
    const name = randomPrefix();
    const file = await tmp.write(`${name}.csv`, rows(10, 'x'));
    const args = ['import', file, '--redis', redis.server.url, '--key', 'user:{id}', '--value', 'v'];
    const unknown = await runCli([...args, '--dataset', name, '--dataset-version', '5']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(`dataset ${name} has no v5: the last version allocated is v0`);
    const alone = await runCli([...args, '--dataset-version', '5']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch('--dataset-version needs --dataset');
    expect(await cli('EXISTS', `${name}:next`, `${name}:current`)).toBe('0');
  });
});
