import { describe, expect, it } from 'vitest';
import { sfnRedrive } from '../../../cli/redrive-command.js';
import { s3CreatedEvent } from '../../../cli/trigger-command.js';
import { requestsOf, s3EventSchema } from '../../../functions/import-start/event.js';
import { buildReport, type ChunkStats, importIdFor, redriveSelection } from '../../../shared/import/index.js';

function stats(index: number, status: ChunkStats['status'], rejected = 0): ChunkStats {
  return {
    index,
    start: index * 10,
    end: index * 10 + 10,
    status,
    read: 10,
    written: 10 - rejected,
    rejected,
    skipped: 0,
    unsettled: 0,
    retries: 0,
    taskRetries: 0,
    commandErrors: 0,
    commands: 10,
    redirects: { moved: 0, ask: 0 },
    serverResets: 0,
    servers: [],
    invocations: 1,
    durationMs: 1,
    rejectsObjects: rejected > 0 ? [`rejects/x/chunk-${index}.jsonl`] : [],
  };
}

function report(chunks: (ChunkStats | undefined)[], extra: { refusal?: string; planned?: number } = {}) {
  return buildReport({
    importId: 'users-csv-0123456789abcdef',
    source: { bucket: 'b', key: 'users.csv' },
    planned: extra.planned ?? chunks.length,
    chunks,
    errors: [],
    notes: [],
    memoryBefore: [],
    memoryAfter: null,
    ...(extra.refusal === undefined ? {} : { refusal: extra.refusal }),
  });
}

describe('redriveSelection: what a redrive loads again', () => {
  it('a FAILED import: the failed chunk and those that never completed, not the completed ones', () => {
    const r = report([
      stats(0, 'completed'),
      stats(1, 'failed'),
      undefined,
      stats(3, 'completed'),
      undefined,
    ]);
    expect(r.status).toBe('FAILED');
    expect(redriveSelection(r)).toEqual({ chunks: [1, 2, 4] });
  });

  it('nothing for SUCCEEDED, PARTIAL (every chunk completed) or an import refused before it ran', () => {
    expect(redriveSelection(report([stats(0, 'completed'), stats(1, 'completed')]))).toEqual({
      status: 'SUCCEEDED',
      nothing:
        'import users-csv-0123456789abcdef SUCCEEDED (2 of 2 chunks, 20 records written): nothing to redrive',
    });
    const partial = redriveSelection(report([stats(0, 'completed', 3), stats(1, 'completed')]));
    expect(partial).toMatchObject({ status: 'PARTIAL' });
    expect('nothing' in partial && partial.nothing).toContain('3 records were rejected for their data');
    const refused = redriveSelection(report([], { refusal: 'the object is too large', planned: 0 }));
    expect(refused).toMatchObject({ status: 'FAILED' });
    expect('nothing' in refused && refused.nothing).toContain(
      'was refused before any chunk ran (the object is too large): nothing to redrive',
    );
  });
});

describe('sfnRedrive: when Step Functions can redrive the execution', () => {
  it('only a FAILED, TIMED_OUT or ABORTED execution that is REDRIVABLE', () => {
    for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED']) {
      expect(sfnRedrive({ status, redriveStatus: 'REDRIVABLE' })).toEqual({ redrive: true });
    }
    expect(sfnRedrive({ status: 'SUCCEEDED', redriveStatus: 'NOT_REDRIVABLE' })).toMatchObject({
      redrive: false,
      why: expect.stringContaining('ended SUCCEEDED (the Map') as unknown,
    });
    expect(
      sfnRedrive({
        status: 'FAILED',
        redriveStatus: 'NOT_REDRIVABLE',
        redriveStatusReason: 'Execution is older than 14 days',
      }),
    ).toEqual({
      redrive: false,
      why: 'Step Functions says its execution is NOT_REDRIVABLE: Execution is older than 14 days',
    });
  });
});

describe('the event trigger sends', () => {
  const object = { bucket: 'data', key: 'incoming/my users.csv', etag: '"abc"', size: 42 };

  it('is an S3 notification import-start reads as the same object; a run token gives a new import id', () => {
    const plain = s3EventSchema.parse(s3CreatedEvent(object, 'eu-west-1'));
    const [request] = requestsOf(plain);
    expect(request).toMatchObject({ bucket: 'data', key: 'incoming/my users.csv', etag: 'abc' });
    expect(request!.run).toBeUndefined();
    const forced = requestsOf(s3EventSchema.parse(s3CreatedEvent(object, 'eu-west-1', 'm1abc')))[0]!;
    expect(forced.run).toBe('m1abc');
    const id = importIdFor('data', 'incoming/my users.csv', '"abc"');
    expect(importIdFor('data', 'incoming/my users.csv', '"abc"', 'm1abc')).toBe(`${id}-m1abc`);
    expect(`${'x'.repeat(48)}-${'0'.repeat(16)}-${'r'.repeat(12)}`.length).toBeLessThanOrEqual(80);
  });

  it('refuses a malformed run token, naming the field', () => {
    const event = s3CreatedEvent(object, 'eu-west-1', 'Not/Valid') as { Records: object[] };
    const result = s3EventSchema.safeParse(event);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join('.')).toBe('event.Records[0].trigger.run');
  });
});
