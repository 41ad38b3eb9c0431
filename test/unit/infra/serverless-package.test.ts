import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

function statements(role: Resource): Statement[] {
  const policies = role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

function actions(role: Resource): string[] {
  return statements(role).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

// `osls package` must work offline, without AWS credentials: it is what CI checks.
describe('serverless.yml', () => {
  let outDir: string;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'rbl-package-'));
  });

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('packages offline without credentials, honouring stage and region', async () => {
    const env = { ...process.env };
    for (const name of Object.keys(env)) {
      if (name.startsWith('AWS_') && name !== 'AWS_CA_BUNDLE') delete env[name];
    }
    const { stdout } = await run(
      process.execPath,
      ['scripts/package-check.mjs', '--stage', 'ci', '--param=region=eu-central-1', '--package', outDir],
      { env: { ...env, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' } },
    );
    expect(stdout).toContain('package-check: ok');
    expect(stdout).toContain('stage ci region eu-central-1');

    const template = JSON.parse(
      await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    );
    expect(template.Resources).toHaveProperty('ServerlessDeploymentBucket');
    const state = JSON.parse(await readFile(join(outDir, 'serverless-state.json'), 'utf8'));
    expect(state.service.service).toBe('redis-bulk-loader');
    expect(state.service.provider).toMatchObject({ name: 'aws', runtime: 'nodejs22.x', stage: 'ci' });
  });

  // The import stack (functions import-*, infra/import.asl.json), from the template packaged above.
  describe('the S3 → Step Functions → Lambda import stack', () => {
    let resources: Record<string, Resource>;
    beforeAll(async () => {
      const template = JSON.parse(
        await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
      ) as { Resources: Record<string, Resource> };
      resources = template.Resources;
    });

    it('has the three functions with memory, timeout, VPC and their environment', () => {
      const fn = (id: string) => resources[id]!.Properties;
      expect(fn('ImportDashstartLambdaFunction')).toMatchObject({ Runtime: 'nodejs22.x', Timeout: 900 });
      expect(fn('ImportDashchunkLambdaFunction')).toMatchObject({ MemorySize: 1024, Timeout: 900 });
      expect(fn('ImportDashfinishLambdaFunction')).toMatchObject({ Timeout: 300 });
      for (const id of [
        'ImportDashstartLambdaFunction',
        'ImportDashchunkLambdaFunction',
        'ImportDashfinishLambdaFunction',
      ]) {
        expect(fn(id).VpcConfig).toMatchObject({
          SubnetIds: expect.any(Array),
          SecurityGroupIds: expect.any(Array),
        });
        expect((fn(id).Environment as { Variables: Record<string, unknown> }).Variables).toHaveProperty(
          'REDIS_URL',
        );
      }
      const startEnv = (
        fn('ImportDashstartLambdaFunction').Environment as { Variables: Record<string, unknown> }
      ).Variables;
      expect(startEnv.STATE_MACHINE_ARN).toEqual({ Ref: 'ImportStateMachine' });
      expect(startEnv.ALLOWED_SOURCES).toBe('redis-bulk-loader-incoming/incoming/');
    });

    it('triggers import-start from ObjectCreated on the existing bucket, under the prefix only', () => {
      const trigger = Object.values(resources).find((r) => r.Type === 'Custom::S3')!;
      const config = trigger.Properties.BucketConfigs as { Event: string; Rules: { Prefix?: string }[] }[];
      expect(trigger.Properties.BucketName).toBe('redis-bulk-loader-incoming');
      expect(config).toEqual([
        expect.objectContaining({ Event: 's3:ObjectCreated:*', Rules: [{ Prefix: 'incoming/' }] }),
      ]);
    });

    it('deploys the ASL file with its retry policy: RetryableError and Lambda errors only, backoff and jitter', async () => {
      const machine = resources.ImportStateMachine!.Properties;
      const [text] = (machine.DefinitionString as { 'Fn::Sub': [string, unknown] })['Fn::Sub'];
      const definition = JSON.parse(text) as {
        States: Record<string, { ItemProcessor?: { States: Record<string, { Retry?: unknown }> } }>;
      };
      const asl = JSON.parse(await readFile('infra/import.asl.json', 'utf8')) as typeof definition;
      expect(Object.keys(definition.States)).toEqual(Object.keys(asl.States));
      const retry = definition.States.LoadChunks!.ItemProcessor!.States.LoadChunk!.Retry;
      expect(retry).toEqual([
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining([
            'RetryableError',
            'Lambda.ServiceException',
            'Lambda.TooManyRequestsException',
          ]),
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 6,
          MaxDelaySeconds: 60,
          JitterStrategy: 'FULL',
        }),
      ]);
      expect(JSON.stringify(retry)).not.toContain('FatalError');
      expect(text).not.toContain('Fn::GetAtt');
    });

    it('grants each role only what its function needs', () => {
      expect(actions(resources.ImportStartRole!).sort()).toEqual([
        's3:GetObject',
        's3:PutObject',
        'states:DescribeExecution',
        'states:StartExecution',
      ]);
      expect(actions(resources.ImportChunkRole!).sort()).toEqual([
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:PutObject',
      ]);
      expect(actions(resources.ImportFinishRole!)).toEqual(['s3:PutObject']);
      const all = [
        resources.ImportStartRole!,
        resources.ImportChunkRole!,
        resources.ImportFinishRole!,
        resources.ImportStateMachineExecutionRole!,
      ];
      for (const role of all) {
        for (const s of statements(role)) {
          expect(s.Resource).not.toBe('*');
          expect(JSON.stringify(s.Action)).not.toContain('*');
        }
      }
      const reads = statements(resources.ImportChunkRole!).find((s) => s.Action === 's3:GetObject')!;
      expect(reads.Resource).toBe('arn:aws:s3:::redis-bulk-loader-incoming/incoming/*');
      expect(resources.ImportStateMachine!.Properties.RoleArn).toEqual({
        'Fn::GetAtt': ['ImportStateMachineExecutionRole', 'Arn'],
      });
    });
  });
});
