import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { finish, runCli, spawnCli } from '../support/cli.js';
import { LOCAL_AWS_ENV } from '../support/lambda.js';

describe('demo --serve', () => {
  it('keeps the local stack up behind a Lambda Invoke endpoint that trigger and redrive reach', async () => {
    const child = spawnCli(['demo', '--rows', '4000', '--chunk-mib', '0.02', '--no-progress', '--serve']);
    const done = finish(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    while (!stderr.includes('Ctrl-C stops')) {
      const [exited] = await Promise.race([
        once(child.stderr!, 'data').then(() => [false]),
        done.then(() => [true]),
      ]);
      if (exited) throw new Error(`demo exited before serving: ${stderr}`);
    }
    try {
      const flags = /trigger (s3:\/\/\S+) (--lambda-endpoint \S+ --s3-endpoint \S+)/.exec(stderr)!;
      const importId = /redrive (\S+) --report-bucket/.exec(stderr)![1]!;
      const args = flags[2]!.split(' ');
      const again = await runCli(['trigger', flags[1]!, ...args], LOCAL_AWS_ENV);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`import ${importId} of s3://demo/incoming/users.csv`);
      expect(again.stdout).toContain('nothing started');
      const redrive = await runCli(['redrive', importId, '--report-bucket', 'demo', ...args], LOCAL_AWS_ENV);
      expect(redrive.code).toBe(2);
      expect(redrive.stderr).toMatch(
        /SUCCEEDED \(\d+ of \d+ chunks, 4,000 records written\): nothing to redrive/,
      );
    } finally {
      child.kill('SIGINT');
    }
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('stopping…');
  }, 120_000);
});
