import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finish, runCli, spawnCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();

async function countKeys(pattern: string): Promise<number> {
  return Number(
    await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', pattern),
  );
}

describe('redis-bulk-loader --help', () => {
  it('documents every command, and import documents its exit codes', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/import/);
    expect(top.stdout).toMatch(/demo/);
    const help = await runCli(['import', '--help']);
    expect(help.code).toBe(0);
    for (const text of [
      '--redis',
      '--key',
      '--model',
      '--ttl-jitter',
      '--reject-budget',
      '--price-per-100k',
      'Exit codes',
      '130',
    ]) {
      expect(help.stdout).toContain(text);
    }
    expect((await runCli(['demo', '--help'])).stdout).toMatch(/--rows/);
  });
});

describe('redis-bulk-loader import', () => {
  it('loads a file, writes the rejects file and prints a reconciled JSON summary', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n2,20,x\n3,30\n\n4,40\n');
    const rejects = join(tmp.dir, `${p}.rejects.jsonl`);
    const result = await runCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--rejects',
      rejects,
      '--reject-budget',
      '0.5',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      status: string;
      counts: { read: number; written: number; rejected: number; skipped: number };
      rejectsFile: string;
      memoryBefore: { usedMemory: number }[];
    };
    expect(summary.status).toBe('completed');
    expect(summary.counts).toMatchObject({ read: 5, written: 3, rejected: 1, skipped: 1 });
    expect(summary.rejectsFile).toBe(rejects);
    expect(summary.memoryBefore[0]!.usedMemory).toBeGreaterThan(0);
    const [reject] = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as object);
    expect(reject).toEqual({
      file,
      line: 3,
      offset: 14,
      reason: 'expected 2 columns, found 3',
      raw: '2,20,x',
    });
    expect(await redisCli(redis.server.port, 'MGET', `${p}:1`, `${p}:3`, `${p}:4`)).toBe('10\n30\n40');
  });

  it('prints the human summary with bytes per key on stderr', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.jsonl`, '{"id":1,"v":"a"}\n{"id":2,"v":"b"}\n');
    const result = await runCli([
      'import',
      file,
      '-r',
      redis.server.url,
      '-k',
      `${p}:{id}`,
      '-v',
      'v',
      '--no-progress',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/status\s+completed/);
    expect(result.stderr).toMatch(/written\s+2/);
    expect(result.stderr).toMatch(/bytes\/key/);
  });

  it('a bad spec is one line saying what to fix, exit 2, nothing written', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n');
    const spec = await tmp.write(
      `${p}.json`,
      JSON.stringify({
        format: { type: 'csv', delimeter: ';' },
        key: 'k:{id}',
        model: { type: 'string', value: 'score' },
      }),
    );
    const result = await runCli(['import', file, '--redis', redis.server.url, '--spec', spec]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(
      `spec file ${spec} is invalid: format.delimeter: unknown key; did you mean delimiter?`,
    );
    const noKey = await runCli(['import', file, '--redis', redis.server.url, '--value', 'score']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--key is required/);
    expect(await countKeys(`${p}:*`)).toBe(0);
  });

  it('an unreachable Redis is a one-line fatal error, exit 3, with a hint', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n');
    const result = await runCli([
      'import',
      file,
      '--redis',
      'redis://127.0.0.1:1',
      '--key',
      'k:{id}',
      '--value',
      'score',
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /cannot connect to redis:\/\/127\.0\.0\.1:1\/0: ECONNREFUSED.*is Redis running there\?/,
    );
  });

  it('exceeding the reject budget exits 4 and says so', async () => {
    const p = randomPrefix();
    const file = await tmp.write(
      `${p}.csv`,
      `id,score\n${Array.from({ length: 20 }, (_, i) => (i % 2 ? `${i},1` : `${i}`)).join('\n')}\n`,
    );
    // 20 records are fewer than the default minRecords (1000), below which the budget is not applied.
    const spec = await tmp.write(`${p}.json`, JSON.stringify({ rejectBudget: { minRecords: 10 } }));
    const result = await runCli([
      'import',
      file,
      '--spec',
      spec,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--no-progress',
      '--rejects',
      join(tmp.dir, `${p}.rej`),
    ]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/RejectBudgetExceededError: rejected 10 of 20 records/);
  });

  it('takes the password from REDIS_PASSWORD and never prints it', async () => {
    const secured = await import('../support/redis-server.js').then((m) =>
      m.startRedis({ password: 'pw-Very-Secret' }),
    );
    try {
      const p = randomPrefix();
      const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n');
      const args = [
        'import',
        file,
        '--redis',
        secured.url,
        '--key',
        `${p}:{id}`,
        '--value',
        'score',
        '--no-progress',
      ];
      const ok = await runCli(args, { REDIS_PASSWORD: 'pw-Very-Secret' });
      expect(ok.code).toBe(0);
      expect(ok.stderr).not.toContain('pw-Very-Secret');
      const bad = await runCli(args, { REDIS_PASSWORD: 'wrong-Secret-2' });
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/WRONGPASS|AuthError|authentication/i);
      expect(bad.stderr).not.toContain('wrong-Secret-2');
    } finally {
      await secured.stop();
    }
  });

  it('Ctrl-C stops at a batch boundary, exits 130 and says where to resume; resuming loads exactly the rest', async () => {
    const p = randomPrefix();
    const n = 600_000;
    const rows: string[] = [];
    for (let i = 0; i < n; i++) rows.push(`${i},${i % 1000}`);
    const file = await tmp.write(`${p}.csv`, `id,score\n${rows.join('\n')}\n`);
    const args = [
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--json',
    ];
    const child = spawnCli(args);
    const done = finish(child);
    // Wait until the load has really started writing, then interrupt.
    await new Promise<void>((resolve) => {
      const poll = async (): Promise<void> => {
        if ((await countKeys(`${p}:*`)) > 0) return resolve();
        setImmediate(() => void poll());
      };
      void poll();
    });
    child.kill('SIGINT');
    const first = await done;
    expect(first.code).toBe(130);
    const summary = JSON.parse(first.stdout) as {
      status: string;
      nextOffset: number;
      nextLine: number;
      counts: { written: number };
    };
    expect(summary.status).toBe('interrupted');
    expect(summary.counts.written).toBeLessThan(n);
    expect(await countKeys(`${p}:*`)).toBe(summary.counts.written);
    const rest = await runCli([
      ...args,
      '--start-offset',
      String(summary.nextOffset),
      '--start-line',
      String(summary.nextLine),
    ]);
    expect(rest.code).toBe(0);
    expect(await countKeys(`${p}:*`)).toBe(n);
  });
});
