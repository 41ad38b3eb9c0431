import { describe, expect, it } from 'vitest';
import type { StartOutcome } from '../../shared/import/index.js';
import { loadEvent } from '../events/load-event.js';
import { randomPrefix } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { listKeys, putObject, s3Event, TEST_BUCKET, useS3 } from '../support/s3.js';
import { useImportStacks } from '../support/stepfunctions.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

type Notification = {
  Records: { s3: { bucket: { name: string }; object: { key: string; eTag?: string } } }[];
};

/** The three-record fixture (its middle key has a malformed %-escape), moved under `incoming/<p>/`. */
async function badKeyEvent(p: string): Promise<Notification> {
  const event = await loadEvent<Notification>('s3-object-created-bad-key');
  for (const record of event.Records) {
    record.s3.bucket.name = TEST_BUCKET;
    record.s3.object.key = record.s3.object.key.replace('incoming/', `incoming/${p}/`);
    // The objects are put by the test: their own ETags are the ones HEAD finds.
    delete record.s3.object.eTag;
  }
  return event;
}

/** One notification with the records of several. */
async function notificationOf(...keys: string[]): Promise<Notification> {
  const events = (await Promise.all(keys.map((k) => s3Event(k)))) as Notification[];
  return { Records: events.flatMap((e) => e.Records) };
}

function rows(n: number): string {
  return `id,v\n${Array.from({ length: n }, (_, i) => `${i},${i}`).join('\n')}\n`;
}

async function newStack(p: string, allowedSources?: string) {
  return stacks.create({
    redisUrls: [redis.server.url],
    s3Endpoint: s3.server.endpoint,
    ...(allowedSources === undefined ? {} : { allowedSources }),
    defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
  });
}

function importIdOf(outcome: StartOutcome | undefined): string {
  if (outcome === undefined || !('importId' in outcome)) throw new Error(JSON.stringify(outcome));
  return outcome.importId;
}

describe('import-start: an event it cannot read starts nothing and says which field is wrong', () => {
  it.each([
    [{}, 'S3 event is invalid: event.Records: required'],
    [null, 'S3 event is invalid: event: expected an object, got null'],
  ])('%j', async (event, message) => {
    const stack = await newStack(randomPrefix());
    const reports = await listKeys(s3.server, 'reports/');
    await expect(stack.deliver(event)).rejects.toMatchObject({ name: 'ConfigError', message });
    expect(stack.started).toHaveLength(0);
    expect(await listKeys(s3.server, 'reports/')).toEqual(reports);
  });
});

describe('import-start: one bad record of an event is refused alone', () => {
  it('a key with a malformed %-escape gets a FAILED report; the other records of the event start', async () => {
    const p = randomPrefix();
    await putObject(s3.server, `incoming/${p}/first.csv`, rows(10));
    await putObject(s3.server, `incoming/${p}/my second file.csv`, rows(20));
    const stack = await newStack(p);
    const outcomes = await stack.deliver(await badKeyEvent(p));
    expect(outcomes.map((o) => o.status)).toEqual(['started', 'refused', 'started']);
    expect(outcomes[1]).toMatchObject({
      reason: `s3://${TEST_BUCKET}/incoming/${p}/bad%ZZkey.csv: the event's object key has a malformed %-escape "%ZZ" at character ${`incoming/${p}/bad`.length + 1}; S3 notifications URL-encode keys (a space as +), so this record names no object`,
    });
    const report = await stack.report(importIdOf(outcomes[1]));
    expect(report).toMatchObject({ status: 'FAILED', source: { key: `incoming/${p}/bad%ZZkey.csv` } });
    expect(report.reason).toContain('malformed %-escape "%ZZ"');
    expect(report.counts.written).toBe(0);

    for (const outcome of [outcomes[0], outcomes[2]]) {
      expect(await stack.execution(importIdOf(outcome))!.result).toMatchObject({ status: 'SUCCEEDED' });
    }
    expect(stack.started.map((e) => e.plan.source.key).sort()).toEqual([
      `incoming/${p}/first.csv`,
      `incoming/${p}/my second file.csv`,
    ]);
    expect(await redisCli(redis.server.port, 'GET', `${p}:19`)).toBe('19');
  });

  it('a missing object says "s3://bucket/key not found" in a FAILED report; no retry, the others start', async () => {
    const p = randomPrefix();
    const missing = `incoming/${p}/deleted.csv`;
    const present = `incoming/${p}/present.csv`;
    await putObject(s3.server, present, rows(5));
    const stack = await newStack(p);
    // Delivered without throwing: the Lambda is not retried for an object no retry can bring back.
    const outcomes = await stack.deliver(await notificationOf(missing, present));
    expect(outcomes.map((o) => o.status)).toEqual(['refused', 'started']);
    const reason = `s3://${TEST_BUCKET}/${missing} not found`;
    expect(outcomes[0]).toMatchObject({ reason });
    const report = await stack.report(importIdOf(outcomes[0]));
    expect(report).toMatchObject({ status: 'FAILED', reason });
    expect(report.reason).not.toMatch(/changed/);
    expect(await stack.execution(importIdOf(outcomes[1]))!.result).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('a key with ".." segments is outside the allowlist even under an allowed prefix', async () => {
    const p = randomPrefix();
    const sneaky = `incoming/../secret/${p}/x.csv`;
    const fine = `incoming/${p}/x.csv`;
    // Not put: refused by the allowlist before any HEAD (and s3rver would store such a key as a path).
    await putObject(s3.server, fine, rows(3));
    const stack = await newStack(p, `${TEST_BUCKET}/incoming/`);
    const outcomes = await stack.deliver(await notificationOf(sneaky, fine));
    expect(outcomes.map((o) => o.status)).toEqual(['refused', 'started']);
    const report = await stack.report(importIdOf(outcomes[0]));
    expect(report.status).toBe('FAILED');
    expect(report.reason).toBe(
      `s3://${TEST_BUCKET}/${sneaky} is outside the allowed sources: its key has a ".." path segment`,
    );
    expect(stack.started.map((e) => e.plan.source.key)).toEqual([fine]);
    await stack.execution(importIdOf(outcomes[1]))!.result;
    expect(await redisCli(redis.server.port, 'EXISTS', `${p}:2`)).toBe('1');
  });
});
