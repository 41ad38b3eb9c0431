import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S3RejectSink } from '../../../shared/import/index.js';
import { LOCAL_S3_CREDENTIALS } from '../../../cli/local-stack/local-s3.js';
import { createS3Client, S3Source } from '../../../shared/records/index.js';
import { randomPrefix } from '../../support/files.js';
import { getObjectText, putObject, TEST_BUCKET, useS3 } from '../../support/s3.js';

const s3 = useS3();

async function collect(source: S3Source, start: number, end?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source.stream(start, end)) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('S3Source against s3rver', () => {
  it('streams any byte range exactly, across window boundaries', async () => {
    const key = `${randomPrefix()}/bytes.bin`;
    const bytes = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 251));
    const etag = await putObject(s3.server, key, bytes);
    const source = new S3Source(s3.server.client, TEST_BUCKET, key, {
      etag,
      windowBytes: 4096,
      yieldBytes: 1000,
    });
    expect(await source.size()).toBe(bytes.length);
    expect(source.name).toBe(`s3://${TEST_BUCKET}/${key}`);
    await fc.assert(
      fc.asyncProperty(fc.nat(bytes.length), fc.nat(bytes.length), async (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        expect((await collect(source, start, end)).equals(bytes.subarray(start, end))).toBe(true);
      }),
      { numRuns: 25 },
    );
    expect((await collect(source, 49_990)).equals(bytes.subarray(49_990))).toBe(true);
  });

  it('an overwritten object is a SourceChangedError, never bytes of the new version', async () => {
    const key = `${randomPrefix()}/moving.csv`;
    const etag = await putObject(s3.server, key, 'a'.repeat(10_000));
    const source = new S3Source(s3.server.client, TEST_BUCKET, key, {
      etag,
      size: 10_000,
      windowBytes: 4096,
    });
    const iterator = source.stream(0);
    const first = await iterator.next();
    expect(first.value?.toString()).toMatch(/^a+$/);
    await putObject(s3.server, key, 'b'.repeat(10_000));
    await expect(collect(source, 0)).rejects.toMatchObject({ name: 'SourceChangedError' });
    await iterator.return(undefined);
    await expect(new S3Source(s3.server.client, TEST_BUCKET, key, { etag }).head()).rejects.toMatchObject({
      name: 'SourceChangedError',
    });
  });

  it('a deleted object is a SourceChangedError', async () => {
    const key = `${randomPrefix()}/gone.csv`;
    const etag = await putObject(s3.server, key, 'id\n1\n');
    await s3.server.client.send(new DeleteObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
    const source = new S3Source(s3.server.client, TEST_BUCKET, key, { etag, size: 5 });
    await expect(collect(source, 0)).rejects.toMatchObject({
      name: 'SourceChangedError',
      message: `s3://${TEST_BUCKET}/${key} not found (deleted after the import pinned ETag ${etag})`,
    });
  });

  it('a missing object: HEAD says "s3://bucket/key not found", after one request and no retries', async () => {
    const key = `${randomPrefix()}/never-put.csv`;
    const client = await createS3Client({ endpoint: s3.server.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    let requests = 0;
    // The deserialize step runs once per HTTP attempt, the SDK's own retries included.
    client.middlewareStack.add(
      (next) => (args) => {
        requests++;
        return next(args);
      },
      { step: 'deserialize' },
    );
    try {
      const error = await new S3Source(client, TEST_BUCKET, key).head().catch((err: unknown) => err);
      expect(error).toMatchObject({
        name: 'SourceChangedError',
        retryable: false,
        message: `s3://${TEST_BUCKET}/${key} not found`,
      });
      expect(requests).toBe(1);
    } finally {
      client.destroy();
    }
  });
});

describe('S3RejectSink', () => {
  const entry = (i: number) => ({
    file: 's3://b/k',
    line: i + 2,
    offset: i * 10,
    reason: 'bad',
    raw: `row ${i} ${'x'.repeat(300)}`,
  });

  it('writes nothing without rejects, one PUT for a few', async () => {
    const key = `${randomPrefix()}/none.jsonl`;
    const empty = new S3RejectSink(s3.server.client, TEST_BUCKET, key);
    await empty.close();
    expect(await getObjectText(s3.server, key)).toBeUndefined();
    const sink = new S3RejectSink(s3.server.client, TEST_BUCKET, key);
    for (let i = 0; i < 3; i++) sink.write(entry(i));
    await sink.close();
    const lines = (await getObjectText(s3.server, key))!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; raw: string });
    expect(lines.map((l) => l.line)).toEqual([2, 3, 4]);
    expect(Buffer.byteLength(lines[0]!.raw)).toBeLessThanOrEqual(200);
  });

  it('goes multipart past its buffer, holding at most two buffers', async () => {
    const key = `${randomPrefix()}/many.jsonl`;
    const sink = new S3RejectSink(s3.server.client, TEST_BUCKET, key, 5 * 1024 * 1024);
    const n = 45_000; // about 12 MiB of lines: three parts
    for (let i = 0; i < n; i++) {
      sink.write(entry(i));
      if (i % 1000 === 999) await sink.settle();
    }
    await sink.close();
    const text = (await getObjectText(s3.server, key))!;
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(n);
    expect(JSON.parse(lines[n - 1]!)).toMatchObject({ line: n + 1 });
    expect(sink.count).toBe(n);
  });
});
