import { open, readdir, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImportSummary } from '../../cli/import-run.js';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { expectBucketFields, scoreRows } from '../support/grouped.js';
import { redisCli, useRedis } from '../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();

function args(file: string, p: string, ...more: string[]): string[] {
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
    ...more,
  ];
}

describe('redis-bulk-loader import with grouped bucket writes', () => {
  it('documents the flags', async () => {
    const help = await runCli(['import', '--help']);
    expect(help.code).toBe(0);
    for (const text of ['--group-buckets', '--temp-dir', '--group-memory', 'continues a stopped load']) {
      expect(help.stdout).toContain(text);
    }
  });

  it('--group-buckets on: every bucket written whole, the last duplicate wins, the summary shows the spill', async () => {
    const p = randomPrefix();
    const { text, last } = scoreRows(30_000, 3000);
    const file = await tmp.write(`${p}.csv`, `${text}1,2,3\n`);
    const rejectsFile = join(tmp.dir, `${p}.rejects.jsonl`);
    const result = await runCli(
      args(
        file,
        p,
        '--group-buckets',
        'on',
        '--temp-dir',
        tmp.dir,
        '--group-memory',
        '1',
        '--rejects',
        rejectsFile,
        '--json',
      ),
    );
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as ImportSummary;
    expect(summary.status).toBe('completed');
    expect(summary.counts).toMatchObject({ read: 30_001, written: 30_000, rejected: 1, skipped: 0 });
    expect(JSON.parse(await readFile(rejectsFile, 'utf8'))).toEqual({
      file,
      line: 30_002,
      offset: Buffer.byteLength(text),
      reason: 'expected 2 columns, found 3',
      raw: '1,2,3',
    });
    expect(summary.writePath).toMatchObject({
      path: 'grouped',
      reason: 'groupBuckets on',
      grouped: { kept: false, resumedAt: 0, reusedSpill: false },
    });
    const g = summary.writePath!.grouped!;
    expect(g.partitions).toBeGreaterThan(1);
    expect(g.settled).toBe(g.partitions);
    expect(g.tempBytes).toBeGreaterThan(0);
    expect(g.tempBytes).toBeLessThan(1.2 * Buffer.byteLength(text));
    expect(g.spill.startsWith(join(tmp.dir, 'rbl-grouped-'))).toBe(true);
    expect((await readdir(tmp.dir)).filter((f) => f.startsWith('rbl-grouped-'))).toEqual([]);
    if (summary.buckets?.scheme !== 'hash') throw new Error('hash buckets expected');
    await expectBucketFields(redis.server.port, summary.buckets.prefix, summary.buckets.bucketCount, last);

    const human = await runCli(
      args(
        file,
        p,
        '--group-buckets',
        'on',
        '--temp-dir',
        tmp.dir,
        '--no-progress',
        '--rejects',
        rejectsFile,
      ),
    );
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(
      /write path\s+grouped \(groupBuckets on\), one HSET per bucket; \d+ partitions?; temp disk/,
    );
    const direct = await runCli(args(file, p, '--no-progress', '--rejects', rejectsFile));
    expect(direct.stderr).toMatch(
      /write path\s+direct \(~(29|30),\d{3} rows, below the 1,000,000 where grouping pays\)/,
    );
  });

  it('a spill that does not fit the temp dir is refused before the first write, saying how much it needs', async () => {
    const p = randomPrefix();
    // A sparse file far larger than the free disk: rows where the pre-flight samples (8 slices of 32 KiB, one
    // centred in each eighth), holes elsewhere. It is never read whole: the refusal comes first.
    const free = await statfs(tmp.dir);
    const size = Math.max(2 ** 36, 4 * free.bavail * free.bsize);
    const file = join(tmp.dir, `${p}.csv`);
    const handle = await open(file, 'w');
    try {
      await handle.truncate(size);
      const rows = Array.from({ length: 5000 }, (_, i) => `${1_000_000 + i},${i % 1000}\n`).join('');
      // Rows right after the header too: the source checks read the first record.
      await handle.write(`id,score\n${rows}`, 0);
      for (let i = 0; i < 8; i++) {
        const at = Math.floor(((i + 0.5) * size) / 8) - 20_000;
        await handle.write(`\n${rows}`, at);
      }
    } finally {
      await handle.close();
    }
    // --force: a source this size would also outgrow the host's memory, which the pre-flight refuses first.
    const result = await runCli(
      args(file, p, '--group-buckets', 'on', '--temp-dir', tmp.dir, '--no-progress', '--force'),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `grouped writes need about [\\d.]+ [MG]iB of temp disk in ${tmp.dir} \\(\\d+ partitions .*\\), but only [\\d.]+ [MG]iB is free: free some space, point --temp-dir at a larger disk, or write without grouping \\(--group-buckets off\\)`,
      ),
    );
    expect(await redisCli(redis.server.port, 'EXISTS', `${p}:bkt:meta`)).toBe('0');
    expect((await readdir(tmp.dir)).filter((f) => f.startsWith('rbl-grouped-'))).toEqual([]);
  });
});
