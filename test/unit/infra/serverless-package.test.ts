import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

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
});
