import { describe, expect, it } from 'vitest';
import { decodeS3Key, requestsOf, s3EventSchema } from '../../../functions/import-start/event.js';
import { formatZodError } from '../../../shared/config/index.js';
import { loadEvent } from '../../events/load-event.js';

/** What validateEvent would say after "S3 event is invalid: ", or 'ok'. */
function problems(event: unknown): string {
  const result = s3EventSchema.safeParse(event);
  return result.success ? 'ok' : formatZodError(result.error);
}

describe('import-start event schema: the message names the field', () => {
  it('an empty event or null says what is missing, not "invalid input"', () => {
    expect(problems({})).toBe('event.Records: required');
    expect(problems(null)).toBe('event: expected an object, got null');
    expect(problems(undefined)).toBe('event: required');
    expect(problems([])).toBe('event: expected an object, got an array');
    expect(problems('ObjectCreated')).toBe('event: expected an object, got a string');
  });

  it("S3's s3:TestEvent (no Records) names the missing Records", async () => {
    expect(problems(await loadEvent('s3-test-event'))).toBe('event.Records: required');
  });

  it('a record without a key names the record and the field', async () => {
    expect(problems(await loadEvent('s3-object-created-no-key'))).toBe(
      'event.Records[0].s3.object.key: required',
    );
  });

  it('wrong types and values say what was expected and what came', async () => {
    const event = await loadEvent<{ Records: Record<string, unknown>[] }>('s3-object-created');
    const record = event.Records[0]!;
    record.eventSource = 'aws:sns';
    record.eventTime = 17;
    (record.s3 as { bucket: { name: string } }).bucket.name = '';
    expect(problems(event)).toBe(
      [
        'event.Records[0].eventSource: expected "aws:s3", got "aws:sns"',
        'event.Records[0].eventTime: expected a string, got a number',
        'event.Records[0].s3.bucket.name: must not be empty',
      ].join('; '),
    );
    expect(problems({ Records: [] })).toBe('event.Records: needs at least 1 entry');
    expect(problems({ Records: 'x' })).toBe('event.Records: expected an array, got a string');
  });

  it('an EventBridge event is checked as one: its own fields are named', async () => {
    expect(problems({ source: 'aws.s3' })).toBe(
      'event.detail-type: required; event.time: required; event.detail: required',
    );
    const bridge = await loadEvent<{ 'detail-type': string }>('eventbridge-object-created');
    expect(problems(bridge)).toBe('ok');
    bridge['detail-type'] = 'Object Deleted';
    expect(problems(bridge)).toBe('event.detail-type: expected "Object Created", got "Object Deleted"');
  });
});

describe('import-start event keys', () => {
  it('a malformed %-escape marks that record invalid; the others decode (+ is a space)', async () => {
    const event = s3EventSchema.parse(await loadEvent('s3-object-created-bad-key'));
    expect(requestsOf(event)).toEqual([
      { bucket: 'BUCKET', key: 'incoming/first.csv', etag: 'ETAG1', eventTime: '2025-01-01T00:00:00.000Z' },
      {
        bucket: 'BUCKET',
        key: 'incoming/bad%ZZkey.csv',
        invalid: expect.stringContaining('malformed %-escape "%ZZ" at character 13') as unknown,
        etag: 'ETAG2',
        eventTime: '2025-01-01T00:00:00.000Z',
      },
      {
        bucket: 'BUCKET',
        key: 'incoming/my second file.csv',
        etag: 'ETAG3',
        eventTime: '2025-01-01T00:00:00.000Z',
      },
    ]);
  });

  it('decodes what S3 encodes, and says what is wrong with what it cannot decode', () => {
    expect(decodeS3Key('a+b%2Bc%C3%A9%2F.csv')).toEqual({ key: 'a b+cé/.csv' });
    expect(decodeS3Key('trailing%')).toEqual({
      invalid: expect.stringContaining('malformed %-escape "%" at character 9') as unknown,
    });
    expect(decodeS3Key('half%4')).toEqual({
      invalid: expect.stringContaining('malformed %-escape "%4" at character 5') as unknown,
    });
    // Well-formed escapes that are not UTF-8 (a lone lead byte).
    expect(decodeS3Key('x%C3%28.csv')).toEqual({
      invalid: expect.stringContaining('%-escapes that are not UTF-8') as unknown,
    });
  });
});
