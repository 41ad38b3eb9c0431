import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { bindTasks, readImportDefinition } from '../../../cli/local-stack/state-machine.js';
import { installWithResolvers } from '../../../cli/local-stack/with-resolvers.js';
import { requestsOf, s3EventSchema } from '../../../functions/import-start/event.js';
import { chunkEnvSchema, parseEnv, startEnvSchema } from '../../../shared/config/index.js';
import {
  buildReport,
  type ChunkStats,
  describeStateError,
  formatFromKey,
  importIdFor,
} from '../../../shared/import/index.js';

function stats(index: number, overrides: Partial<ChunkStats> = {}): ChunkStats {
  return {
    index,
    start: index * 10,
    end: index * 10 + 10,
    status: 'completed',
    read: 10,
    written: 10,
    rejected: 0,
    skipped: 0,
    unsettled: 0,
    retries: 0,
    taskRetries: 0,
    commandErrors: 0,
    commands: 20,
    redirects: { moved: 0, ask: 0 },
    serverResets: 0,
    servers: [],
    invocations: 1,
    durationMs: 5,
    rejectsObjects: [],
    ...overrides,
  };
}

describe('environment config', () => {
  const base = { REDIS_URL: 'redis://a:6379, redis://b:6379', REPORT_BUCKET: 'reports' };

  it('parses with defaults and ignores unrelated variables', () => {
    const env = parseEnv(chunkEnvSchema, { ...base, AWS_REGION: 'eu-west-1', PATH: '/bin' });
    expect(env.REDIS_URL).toEqual(['redis://a:6379', 'redis://b:6379']);
    expect(env).toMatchObject({
      MARKER_TTL_SECONDS: 604_800,
      TIMEOUT_MARGIN_MS: 30_000,
      REPORT_PREFIX: 'reports/',
    });
  });

  it('names every missing or invalid variable', () => {
    expect(() => parseEnv(startEnvSchema, { ...base, CHUNK_BYTES: 'lots' })).toThrow(
      /STATE_MACHINE_ARN is required.*|CHUNK_BYTES must be an integer/,
    );
    try {
      parseEnv(startEnvSchema, { ...base, CHUNK_BYTES: '0', DEFAULT_SPEC: '{nope' });
      expect.unreachable();
    } catch (err) {
      const message = (err as Error).message;
      expect((err as Error).name).toBe('ConfigError');
      for (const name of ['STATE_MACHINE_ARN', 'ALLOWED_SOURCES', 'CHUNK_BYTES', 'DEFAULT_SPEC']) {
        expect(message).toContain(name);
      }
    }
    expect(() => parseEnv(chunkEnvSchema, { REPORT_BUCKET: 'r' })).toThrow(/REDIS_URL/);
  });

  it('reads the allowlist as bucket/prefix pairs', () => {
    const env = parseEnv(startEnvSchema, {
      ...base,
      STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:1:stateMachine:x',
      ALLOWED_SOURCES: 'data/incoming/,other',
    });
    expect(env.ALLOWED_SOURCES).toEqual([
      { bucket: 'data', prefix: 'incoming/' },
      { bucket: 'other', prefix: '' },
    ]);
  });
});

describe('import-start events', () => {
  it('reads S3 notifications (keys URL-decoded) and the EventBridge form', async () => {
    const notification = JSON.parse(
      await readFile(new URL('../../events/s3-object-created.json', import.meta.url), 'utf8'),
    );
    notification.Records[0].s3.bucket.name = 'data';
    notification.Records[0].s3.object.key = 'incoming/my+file%C3%A9.csv';
    expect(requestsOf(s3EventSchema.parse(notification))).toEqual([
      { bucket: 'data', key: 'incoming/my fileé.csv', etag: 'ETAG', eventTime: '2025-01-01T00:00:00.000Z' },
    ]);
    const bridge = JSON.parse(
      await readFile(new URL('../../events/eventbridge-object-created.json', import.meta.url), 'utf8'),
    );
    bridge.detail.object.key = 'incoming/a b.jsonl';
    expect(requestsOf(s3EventSchema.parse(bridge))).toEqual([
      { bucket: 'BUCKET', key: 'incoming/a b.jsonl', etag: 'ETAG', eventTime: '2025-01-01T00:00:00Z' },
    ]);
  });

  it('rejects other events', () => {
    expect(s3EventSchema.safeParse({ Records: [] }).success).toBe(false);
    expect(s3EventSchema.safeParse({ source: 'aws.s3', 'detail-type': 'Object Deleted' }).success).toBe(
      false,
    );
  });
});

describe('import ids, formats and reports', () => {
  it('derives a stable execution name from bucket, key and ETag', () => {
    const id = importIdFor('b', 'incoming/users 2024.csv', '"abc"');
    expect(id).toBe(importIdFor('b', 'incoming/users 2024.csv', '"abc"'));
    expect(id).not.toBe(importIdFor('b', 'incoming/users 2024.csv', '"abd"'));
    expect(id).toMatch(/^users-2024-csv-[0-9a-f]{16}$/);
    expect(importIdFor('b', `${'x'.repeat(300)}.csv`, 'e').length).toBeLessThanOrEqual(80);
  });

  it('tells the format from the extension', () => {
    expect(formatFromKey('a.CSV')).toEqual({ type: 'csv' });
    expect(formatFromKey('a.tsv')).toEqual({ type: 'csv', delimiter: '\t' });
    expect(formatFromKey('a.ndjson')).toEqual({ type: 'jsonl' });
    expect(formatFromKey('a.csv.gz')).toBeUndefined();
  });

  const reportBase = {
    importId: 'i',
    source: { bucket: 'b', key: 'k' },
    errors: [],
    notes: [],
    memoryBefore: [],
    memoryAfter: null,
  };

  it('decides the status: SUCCEEDED, PARTIAL with rejects, FAILED with a missing chunk', () => {
    const common = reportBase;
    expect(buildReport({ ...common, planned: 2, chunks: [stats(0), stats(1)] }).status).toBe('SUCCEEDED');
    const partial = buildReport({
      ...common,
      planned: 2,
      chunks: [stats(0), stats(1, { written: 8, rejected: 2, rejectsObjects: ['r/1'] })],
    });
    expect(partial).toMatchObject({
      status: 'PARTIAL',
      counts: { read: 20, written: 18, rejected: 2 },
      rejects: { count: 2, objects: ['r/1'] },
    });
    const failed = buildReport({ ...common, planned: 3, chunks: [stats(0), undefined, stats(2)] });
    expect(failed).toMatchObject({ status: 'FAILED', chunks: { completed: 2, notCompleted: 1 } });
    expect(failed.reason).toContain('1 of 3 chunks');
    expect(failed.perChunk[1]).toEqual({ index: 1, status: 'not completed' });
  });

  it("adds up the chunks' cluster redirects in the report", () => {
    const report = buildReport({
      ...reportBase,
      planned: 3,
      chunks: [
        stats(0, { redirects: { moved: 3, ask: 1 } }),
        undefined,
        stats(2, { redirects: { moved: 4, ask: 0 } }),
      ],
    });
    expect(report.redirects).toEqual({ moved: 7, ask: 1 });
  });

  it('reads Step Functions errors: a chunk failure record, a Lambda error, a plain cause', () => {
    const record = describeStateError({
      Error: 'AuthError',
      Cause: JSON.stringify({ chunk: 3, message: 'bad pw', stats: stats(3, { status: 'failed' }) }),
    });
    expect(record).toMatchObject({ name: 'AuthError', message: 'bad pw', chunk: 3, stats: { index: 3 } });
    expect(
      describeStateError({
        Error: 'RetryableError',
        Cause: '{"errorType":"RetryableError","errorMessage":"reset","trace":[]}',
      }),
    ).toEqual({ name: 'RetryableError', message: 'reset' });
    expect(describeStateError({ Error: 'States.Timeout', Cause: 'took too long' })).toEqual({
      name: 'States.Timeout',
      message: 'took too long',
    });
  });
});

describe('the state machine definition (infra/import.asl.json)', () => {
  it('retries RetryableError and Lambda service errors as specified, never FatalErrors', async () => {
    const definition = (await readImportDefinition()) as {
      States: Record<string, { ItemProcessor?: { States: Record<string, { Retry?: unknown[] }> } }>;
    };
    for (const map of ['LoadChunks', 'LoadChunksDistributed']) {
      const states = definition.States[map]!.ItemProcessor!.States;
      const load = Object.values(states).find((s) => 'Retry' in s) as { Retry: Record<string, unknown>[] };
      expect(load.Retry).toEqual([
        {
          ErrorEquals: [
            'RetryableError',
            'States.Timeout',
            'Lambda.Unknown',
            'Lambda.ServiceException',
            'Lambda.AWSLambdaException',
            'Lambda.SdkClientException',
            'Lambda.TooManyRequestsException',
          ],
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 6,
          MaxDelaySeconds: 60,
          JitterStrategy: 'FULL',
        },
      ]);
      expect(JSON.stringify(load.Retry)).not.toMatch(/FatalError|States\.ALL/);
    }
  });

  it('binds every Fn::GetAtt task to a local function', async () => {
    const { definition, tasks } = bindTasks(await readImportDefinition());
    expect(tasks).toEqual({
      LoadChunk: 'import-chunk',
      LoadChunkD: 'import-chunk',
      FinishImport: 'import-finish',
    });
    expect(JSON.stringify(definition)).not.toContain('Fn::GetAtt');
  });
});

describe('Promise.withResolvers polyfill (aws-local-stepfunctions on Node 20)', () => {
  it('installs a working version when missing and leaves a native one alone', async () => {
    const holder = Promise as unknown as { withResolvers?: unknown };
    const native = holder.withResolvers;
    try {
      delete holder.withResolvers;
      expect(installWithResolvers()).toBe(true);
      const { promise, resolve } = (
        Promise as unknown as { withResolvers<T>(): { promise: Promise<T>; resolve(v: T): void } }
      ).withResolvers<number>();
      resolve(42);
      expect(await promise).toBe(42);
      expect(installWithResolvers()).toBe(false);
    } finally {
      if (native === undefined) delete holder.withResolvers;
      else
        Object.defineProperty(Promise, 'withResolvers', {
          value: native,
          configurable: true,
          writable: true,
        });
    }
  });
});
