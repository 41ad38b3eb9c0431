import { describe, expect, it } from 'vitest';
import type { StartOutcome } from '../../shared/import/index.js';
import { randomPrefix } from '../support/files.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import { getObjectText, putObject, s3Event, useS3 } from '../support/s3.js';
import { useImportStacks } from '../support/stepfunctions.js';
import { captureStdout, jsonLines } from '../support/stdout.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

const PASSWORD = 'telemetry-S3cret-pw';

describe('Powertools logs and metrics of the import functions (local stack, real state machine)', () => {
  it('chunk lines carry the request id and import id, EMF documents parse, and no line holds the password', async () => {
    const port = redis.server.port;
    await redisCli(port, 'ACL', 'SETUSER', 'loader', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
    const p = randomPrefix();
    const rows = Array.from({ length: 3000 }, (_, i) => `${i},${i % 200 === 0 ? 'x,y' : i}`);
    const key = `incoming/${p}/scores.csv`;
    const etag = await putObject(s3.server, key, `id,score\n${rows.join('\n')}`);
    const stack = await stacks.create({
      redisUrls: [`redis://loader:${PASSWORD}@127.0.0.1:${port}`],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 8 * 1024,
      // Lambda runs one invocation per process at a time, which is what Powertools' logger (its per-invocation
      // keys and context) assumes; the local stack runs the Map's chunks side by side unless told not to.
      maxConcurrency: 1,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'score' } },
    });
    let outcome: StartOutcome | undefined;
    const lines = await captureStdout(async () => {
      [outcome] = await stack.deliver(await s3Event(key, etag));
      if (outcome?.status !== 'started') throw new Error(`not started: ${JSON.stringify(outcome)}`);
      await stack.execution(outcome.importId)!.result;
    });
    if (outcome?.status !== 'started') throw new Error('not started');
    const { importId, chunks } = outcome;
    expect(chunks).toBeGreaterThan(2);

    expect(lines.filter((l) => l.includes(PASSWORD))).toEqual([]);
    const docs = jsonLines(lines);
    const logs = docs.filter((d) => d._aws === undefined);
    const emf = docs.filter((d) => d._aws !== undefined);

    const chunkLines = logs.filter((d) => d.function === 'import-chunk');
    expect(chunkLines.length).toBeGreaterThanOrEqual(chunks);
    for (const line of chunkLines) {
      expect(line).toMatchObject({ service: 'redis-bulk-loader', importId, level: 'INFO' });
      expect(line.function_request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof line.chunk).toBe('number');
    }
    // One request id per invocation, so the lines of different chunks do not share one.
    expect(new Set(chunkLines.map((l) => l.function_request_id)).size).toBe(chunkLines.length);
    const summary = logs.find((d) => d.function === 'import-finish' && String(d.message).includes('PARTIAL'));
    expect(summary).toMatchObject({ importId, level: 'INFO' });

    // EMF: each document declares its metrics and dimensions and carries their values.
    const written = new Map<string, number>();
    for (const doc of emf) {
      const aws = doc._aws as {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
      const [directive] = aws.CloudWatchMetrics;
      expect(directive!.Namespace).toBe('RedisBulkLoader');
      for (const dim of directive!.Dimensions.flat()) expect(typeof doc[dim]).toBe('string');
      for (const m of directive!.Metrics) {
        const value = doc[m.Name];
        expect(typeof value === 'number' || Array.isArray(value), m.Name).toBe(true);
        written.set(m.Name, (written.get(m.Name) ?? 0) + (typeof value === 'number' ? value : 0));
      }
    }
    const report = await stack.report(importId);
    expect(written.get('RecordsWritten')).toBe(report.counts.written);
    expect(written.get('RecordsRejected')).toBe(report.counts.rejected);
    expect(report.counts.rejected).toBe(15);
    expect(written.get('ImportsPartial')).toBe(1);
    expect(written.get('ImportsStarted')).toBe(1);

    // Beside the JSON report, the HTML one (rendered by shared/report; checked in Chromium by its own tests).
    const html = await getObjectText(s3.server, `reports/${importId}.html`);
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain(importId);
    expect(html).toContain('PARTIAL');
    expect(logs.some((d) => String(d.message).includes(`reports/${importId}.html`))).toBe(true);
  });
});
