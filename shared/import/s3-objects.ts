import type { S3Client } from '@aws-sdk/client-s3';
import { classifyError, type RetryPolicy, withRetry } from '../errors/index.js';
import { s3Sdk } from '../records/index.js';

const S3_RETRY: RetryPolicy = { retries: 4, baseMs: 200, maxMs: 5000 };

/** Writes `value` as pretty JSON to `s3://bucket/key` (retrying throttling and 5xx). */
export async function putJson(client: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await putText(client, bucket, key, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
}

/** Writes `body` as one object with its content type, retried like every S3 write of the loader. */
export async function putText(
  client: S3Client,
  bucket: string,
  key: string,
  body: string,
  contentType: string,
): Promise<void> {
  const { PutObjectCommand } = await s3Sdk();
  await withRetry(
    () =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType })),
    S3_RETRY,
  );
}

function isMissing(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return status === 404 || (err instanceof Error && (err.name === 'NoSuchKey' || err.name === 'NotFound'));
}

/** Reads a small object as UTF-8 text; `undefined` when it does not exist. */
export async function getText(client: S3Client, bucket: string, key: string): Promise<string | undefined> {
  const { GetObjectCommand } = await s3Sdk();
  return withRetry(async () => {
    try {
      const reply = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await reply.Body?.transformToString('utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw classifyError(err);
    }
  }, S3_RETRY);
}
