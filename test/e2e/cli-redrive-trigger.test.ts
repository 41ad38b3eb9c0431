import { describe, expect, it } from 'vitest';
import type { ChunkState, ImportReport, StartOutcome } from '../../shared/import/index.js';
import { runCli } from '../support/cli.js';
import { randomPrefix } from '../support/files.js';
import { LOCAL_AWS_ENV } from '../support/lambda.js';
import { expectExactKeys, idValueRows } from '../support/read-back.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { getObjectText, putObject, s3Event, TEST_BUCKET, useS3 } from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

const STAGE = 'e2e';

/** The CLI's AWS flags for the local stack's Invoke endpoint and s3rver. */
function awsArgs(lambdaUrl: string): string[] {
  return ['--stage', STAGE, '--lambda-endpoint', lambdaUrl, '--s3-endpoint', s3.server.endpoint];
}

function redrive(importId: string, lambdaUrl: string, ...extra: string[]) {
  return runCli(
    ['redrive', importId, '--report-bucket', TEST_BUCKET, ...awsArgs(lambdaUrl), ...extra],
    LOCAL_AWS_ENV,
  );
}

/** Each chunk invocation that returned, per chunk index, with the phase it ran in. */
interface ChunkRun {
  readonly phase: 'first run' | 'early redrive' | 'redrive';
  readonly status: string | undefined;
  readonly replayed: boolean;
}

async function usedMemory(): Promise<number> {
  const info = await redisCli(redis.server.port, 'INFO', 'memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

describe('redis-bulk-loader redrive <importId>', () => {
  it('loads again exactly the failed and unfinished chunks of a FAILED import (Redis out of memory), which then SUCCEEDS with every key', async () => {
    const p = randomPrefix();
    const rows = 12_000;
    const key = `incoming/${p}/users.csv`;
    const etag = await putObject(s3.server, key, idValueRows(rows));
    const runs = new Map<number, ChunkRun[]>();
    let phase: ChunkRun['phase'] = 'first run';
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 24 * 1024,
      // One chunk at a time: chunk 2 is the one that meets the full Redis, and chunks 3… never start.
      maxConcurrency: 1,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
      onChunk: async (state: ChunkState) => {
        const list = runs.get(state.chunk.index) ?? [];
        list.push({ phase, status: state.progress?.status, replayed: state.progress?.replayed === true });
        runs.set(state.chunk.index, list);
        // The operator's fault: Redis fills up after chunk 1 (maxmemory at what it uses now, noeviction).
        if (phase === 'first run' && state.chunk.index === 1 && state.progress?.status === 'done') {
          await redisCli(redis.server.port, 'CONFIG', 'SET', 'maxmemory', String(await usedMemory()));
        }
      },
    });
    const lambda = await stack.serveLambda({ service: 'redis-bulk-loader', stage: STAGE });
    const sfn = await stack.serveStepFunctions();
    try {
      const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
      expect(outcome.chunks).toBeGreaterThanOrEqual(5);
      await stack.execution(outcome.importId)!.result;
      const failed = await stack.report(outcome.importId);
      expect(failed.status).toBe('FAILED');
      expect(failed.reason).toContain('RedisOutOfMemoryError');
      expect(failed.chunks.completed).toBe(2);
      expect([...runs.keys()].sort()).toEqual([0, 1, 2]);
      expect(runs.get(2)).toEqual([{ phase: 'first run', status: 'failed', replayed: false }]);

      // Redriven before the cause is fixed: chunk 2 fails again at once, 3… do not start, exit 3.
      phase = 'early redrive';
      const early = await redrive(outcome.importId, lambda.url);
      expect(early.code, early.stdout + early.stderr).toBe(3);
      // How much of chunk 2 fits under the limit depends on what Redis held when the limit was set.
      expect(early.stdout).toMatch(
        new RegExp(
          `^import ${outcome.importId} FAILED after redrive of chunk\\(s\\) 2, 3, .*: [0-9,]+ written, 0 rejected, 2/${outcome.chunks} chunks — RedisOutOfMemoryError: .*OOM command not allowed`,
        ),
      );
      expect([...runs.entries()].filter(([, list]) => list.some((r) => r.phase === 'early redrive'))).toEqual(
        [
          [
            2,
            expect.arrayContaining([
              { phase: 'early redrive', status: 'failed', replayed: false },
            ]) as unknown,
          ],
        ],
      );

      // The operator makes room, then redrives.
      await redisCli(redis.server.port, 'CONFIG', 'SET', 'maxmemory', '0');
      phase = 'redrive';
      // Step Functions is asked first: the execution SUCCEEDED (the Map's failure was caught), so no redrive.
      const result = await redrive(
        outcome.importId,
        lambda.url,
        '--state-machine-arn',
        stack.stateMachineArn,
        '--sfn-endpoint',
        sfn.url,
      );
      expect(result.stderr).not.toContain('internal error');
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(
        "not redriving the execution: its execution ended SUCCEEDED (the Map's failure was caught and reported), which Step Functions cannot redrive; invoking the chunks instead",
      );
      const toRedo = Array.from({ length: outcome.chunks - 2 }, (_, i) => i + 2);
      expect(result.stdout.trim()).toBe(
        `import ${outcome.importId} SUCCEEDED after redrive of chunk(s) ${toRedo.join(', ')}: ${rows.toLocaleString('en-US')} written, 0 rejected, ${outcome.chunks}/${outcome.chunks} chunks; report s3://${TEST_BUCKET}/reports/${outcome.importId}.json`,
      );

      // No chunk loaded twice: 0 and 1 not invoked again, 2 once more after its failure, the rest once.
      for (let i = 0; i < outcome.chunks; i++) {
        const loads = (runs.get(i) ?? []).filter((r) => r.status === 'done' && !r.replayed);
        expect(loads, `chunk ${i}`).toHaveLength(1);
        expect(loads[0]!.phase, `chunk ${i}`).toBe(i < 2 ? 'first run' : 'redrive');
        expect(runs.get(i)!.filter((r) => r.status === 'failed')).toHaveLength(i === 2 ? 2 : 0);
        expect(
          runs.get(i)!.filter((r) => r.phase === 'redrive'),
          `chunk ${i}`,
        ).toHaveLength(i < 2 ? 0 : 1);
      }
      const report = JSON.parse(
        (await getObjectText(s3.server, `reports/${outcome.importId}.json`))!,
      ) as ImportReport;
      expect(report.status).toBe('SUCCEEDED');
      expect(report.counts).toMatchObject({ read: rows, written: rows, rejected: 0, unsettled: 0 });
      expect(report.notes.join(' ')).toContain(`redrive at `);
      await expectExactKeys(redis.server.port, p, rows);

      // Now SUCCEEDED: a second redrive has nothing to do.
      const again = await redrive(outcome.importId, lambda.url);
      expect(again.code).toBe(2);
      expect(again.stdout).toBe('');
      expect(again.stderr).toBe(
        `redis-bulk-loader redrive: import ${outcome.importId} SUCCEEDED (${outcome.chunks} of ${outcome.chunks} chunks, ${rows.toLocaleString('en-US')} records written): nothing to redrive\n`,
      );
      expect(runs.get(0)!.filter((r) => r.phase === 'redrive')).toHaveLength(0);
    } finally {
      await redisCli(redis.server.port, 'CONFIG', 'SET', 'maxmemory', '0');
    }
  });

  it('refuses an unknown import id with one line, exit 2', async () => {
    const stack = await stacks.create({ redisUrls: [redis.server.url], s3Endpoint: s3.server.endpoint });
    const lambda = await stack.serveLambda({ service: 'redis-bulk-loader', stage: STAGE });
    const result = await redrive('no-such-import-0123456789abcdef', lambda.url);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `redis-bulk-loader redrive: unknown import no-such-import-0123456789abcdef: there is no report s3://${TEST_BUCKET}/reports/no-such-import-0123456789abcdef.json\n`,
    );
    expect(stack.invocations).toEqual({ 'import-start': 0, 'import-chunk': 0, 'import-finish': 0 });
  });
});

describe('redis-bulk-loader trigger s3://bucket/key', () => {
  function trigger(uri: string, lambdaUrl: string, ...extra: string[]) {
    return runCli(['trigger', uri, '--json', ...awsArgs(lambdaUrl), ...extra], LOCAL_AWS_ENV);
  }

  it('starts one execution for an object version; again it is a no-op naming that execution; --force-new starts another', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/users.csv`;
    await putObject(s3.server, key, idValueRows(3000));
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const lambda = await stack.serveLambda({ service: 'redis-bulk-loader', stage: STAGE });
    const uri = `s3://${TEST_BUCKET}/${key}`;

    const first = await trigger(uri, lambda.url);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const one = JSON.parse(first.stdout) as { outcome: StartOutcome };
    const outcome = started(one.outcome);
    expect(stack.started.map((e) => e.name)).toEqual([outcome.importId]);
    await expect(stack.execution(outcome.importId)!.result).resolves.toMatchObject({ status: 'SUCCEEDED' });
    await expectExactKeys(redis.server.port, p, 3000);

    const second = await trigger(uri, lambda.url);
    expect(second.code).toBe(0);
    expect((JSON.parse(second.stdout) as { outcome: StartOutcome }).outcome).toEqual({
      status: 'duplicate',
      importId: outcome.importId,
      executionArn: outcome.executionArn,
    });
    expect(stack.started).toHaveLength(1);
    const human = await runCli(['trigger', uri, ...awsArgs(lambda.url)], LOCAL_AWS_ENV);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`import ${outcome.importId} of ${uri} (ETag `);
    expect(human.stdout).toContain(
      `already has execution ${outcome.executionArn}: nothing started (--force-new starts another)`,
    );
    expect(stack.started).toHaveLength(1);

    const forced = await trigger(uri, lambda.url, '--force-new');
    expect(forced.code).toBe(0);
    const renewed = started((JSON.parse(forced.stdout) as { outcome: StartOutcome }).outcome);
    expect(renewed.importId).toMatch(new RegExp(`^${outcome.importId}-[a-z0-9]+$`));
    expect(stack.started.map((e) => e.name)).toEqual([outcome.importId, renewed.importId]);
    await expect(stack.execution(renewed.importId)!.result).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect((await stack.report(renewed.importId)).counts).toMatchObject({ read: 3000, written: 3000 });
    expect(stack.invocations['import-start']).toBe(4);
  });

  it('a missing object: one line, exit 3 (source unreadable), import-start never invoked', async () => {
    const stack = await stacks.create({ redisUrls: [redis.server.url], s3Endpoint: s3.server.endpoint });
    const lambda = await stack.serveLambda({ service: 'redis-bulk-loader', stage: STAGE });
    const uri = `s3://${TEST_BUCKET}/incoming/${randomPrefix()}/none.csv`;
    const result = await trigger(uri, lambda.url);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`redis-bulk-loader trigger: ${uri} not found: nothing to import\n`);
    expect(stack.invocations['import-start']).toBe(0);
  });
});
