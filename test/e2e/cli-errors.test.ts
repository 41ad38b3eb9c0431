import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImportErrorOutput } from '../../cli/import-command.js';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();

async function countKeys(prefix: string): Promise<number> {
  return Number(
    await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${prefix}:*`),
  );
}

function importArgs(file: string, prefix: string, ...more: string[]): string[] {
  return [
    'import',
    file,
    '--redis',
    redis.server.url,
    '--key',
    `${prefix}:{id}`,
    '--value',
    'score',
    ...more,
  ];
}

describe('import --json: a failure before loading is a JSON error object on stdout', () => {
  it('a bad spec: ConfigError, exit 2', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n');
    const spec = await tmp.write(`${p}.json`, JSON.stringify({ ttl: { seconds: '86400' } }));
    const result = await runCli(importArgs(file, p, '--spec', spec, '--json'));
    expect(result.code).toBe(2);
    const output = JSON.parse(result.stdout) as ImportErrorOutput;
    expect(output).toEqual({
      status: 'error',
      error: {
        name: 'ConfigError',
        code: 'CONFIG',
        message: `spec file ${spec} is invalid: ttl.seconds: expected a number, got the string "86400"`,
      },
      exitCode: 2,
    });
  });

  it('a typo in the spec file is named, not hidden behind "--value is required"', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n');
    const spec = await tmp.write(`${p}.json`, JSON.stringify({ model: { type: 'string', valu: 'score' } }));
    const result = await runCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '-k',
      `${p}:{id}`,
      '--spec',
      spec,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `redis-bulk-loader: spec file ${spec} is invalid: model.value: required (expected a string or an array); ` +
        'model.valu: unknown key; did you mean value?',
    );
  });

  it('an unreachable Redis: FatalError, exit 3', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n');
    const result = await runCli([...importArgs(file, p, '--json'), '--redis', 'redis://127.0.0.1:1']);
    expect(result.code).toBe(3);
    const output = JSON.parse(result.stdout) as ImportErrorOutput;
    expect(output.status).toBe('error');
    expect(output.exitCode).toBe(3);
    expect(output.error.name).toBe('FatalError');
    expect(output.error.code).toBe('FATAL');
    expect(output.error.message).toMatch(/cannot connect to redis:\/\/127\.0\.0\.1:1\/0: ECONNREFUSED/);
  });

  it('a file that does not exist: exit 3, and the message names it', async () => {
    const missing = join(tmp.dir, 'no-such-file.csv');
    const result = await runCli(importArgs(missing, randomPrefix(), '--json'));
    expect(result.code).toBe(3);
    const output = JSON.parse(result.stdout) as ImportErrorOutput;
    expect(output).toMatchObject({ status: 'error', exitCode: 3 });
    expect(output.error.message).toContain('no-such-file.csv');
  });
});

describe('import --start-offset past the end of the file', () => {
  it('says so in words and exits 2 before contacting Redis', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n2,20\n');
    // An unreachable Redis proves nothing was contacted: the offset is refused first.
    const result = await runCli([
      ...importArgs(file, p, '--start-offset', '123456', '--no-progress'),
      '--redis',
      'redis://127.0.0.1:1',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `redis-bulk-loader: --start-offset 123456 is past the end of ${file} (19 bytes): nothing to resume`,
    );
  });

  it('at exactly the end there is nothing left to load: completed, exit 0', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n2,20\n');
    const result = await runCli(importArgs(file, p, '--start-offset', '19', '--json'));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', counts: { read: 0 } });
  });
});

describe('a CSV header without a field the spec needs is found before the first write', () => {
  it('names the missing field and the header it saw, exit 2, nothing written', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,name,score\n1,a,10\n2,b,20\n');
    const result = await runCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{uid}`,
      '--value',
      'score',
      '--no-progress',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `redis-bulk-loader: key template '${p}:{uid}' needs field 'uid', but the header of ${file} has: id, name, score`,
    );
    expect(await countKeys(p)).toBe(0);
  });

  it('checks the value field too, also when resuming mid-file', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,name,score\n1,a,10\n2,b,20\n');
    const result = await runCli([
      ...importArgs(file, p, '--no-progress', '--start-offset', '20'),
      '--value',
      'scor',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `model.value needs field 'scor', but the header of ${file} has: id, name, score`,
    );
    expect(await countKeys(p)).toBe(0);
  });

  it('checks --columns without reading the file or contacting Redis', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, '1,a,10\n');
    const result = await runCli([
      ...importArgs(file, p, '--columns', 'uid,name,score', '--no-progress', '--json'),
      '--redis',
      'redis://127.0.0.1:1',
    ]);
    expect(result.code).toBe(2);
    expect((JSON.parse(result.stdout) as ImportErrorOutput).error.message).toBe(
      `key template '${p}:{id}' needs field 'id', but --columns has: uid, name, score`,
    );
  });
});

describe('the reject budget waits for rejectBudget.minRecords, at the end too', () => {
  it('a 4-line file with 1 bad line completes with 1 rejected, exit 0', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n2,20,extra\n3,30\n4,40\n');
    const result = await runCli(
      importArgs(file, p, '--json', '--rejects', join(tmp.dir, `${p}.rejects.jsonl`)),
    );
    expect(result.code, result.stdout).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'completed',
      counts: { read: 4, written: 3, rejected: 1 },
    });
    expect(await countKeys(p)).toBe(3);
  });
});
