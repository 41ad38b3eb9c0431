import { readFile } from 'node:fs/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../cli/local-stack/local-s3.js';

/** The bucket every test file's s3rver has. */
export const TEST_BUCKET = 'rbl-test';

/**
 * Starts one s3rver (in-process, free port, temp dir) for the enclosing test file, with {@link TEST_BUCKET}.
 *
 * @example
 * const s3 = useS3();
 * it('puts', async () => { await putObject(s3.server, 'a.csv', 'id\n1\n') });
 */
export function useS3(): { readonly server: LocalS3 } {
  let server: LocalS3 | undefined;
  beforeAll(async () => {
    server = await startLocalS3([TEST_BUCKET]);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server(): LocalS3 {
      if (!server) throw new Error('useS3: the server starts in beforeAll; use it inside tests');
      return server;
    },
  };
}

/** Puts an object and returns its ETag. */
export async function putObject(s3: LocalS3, key: string, body: string | Buffer): Promise<string> {
  await s3.client.send(new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: body }));
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
  return head.ETag ?? '';
}

/** Reads an object as text; undefined when it does not exist. */
export async function getObjectText(
  s3: LocalS3,
  key: string,
  bucket = TEST_BUCKET,
): Promise<string | undefined> {
  try {
    const reply = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await reply.Body?.transformToString('utf8');
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** Keys under a prefix. */
export async function listKeys(s3: LocalS3, prefix: string): Promise<string[]> {
  const reply = await s3.client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: prefix }));
  return (reply.Contents ?? []).map((c) => c.Key ?? '').sort();
}

/** An S3 `ObjectCreated:Put` notification for one object, from the fixture in test/events/. */
export async function s3Event(key: string, etag?: string, bucket = TEST_BUCKET): Promise<unknown> {
  const fixture = JSON.parse(
    await readFile(new URL('../events/s3-object-created.json', import.meta.url), 'utf8'),
  ) as { Records: [{ s3: { bucket: { name: string }; object: { key: string; eTag?: string } } }] };
  const record = fixture.Records[0];
  record.s3.bucket.name = bucket;
  // Notifications URL-encode keys, with + for spaces.
  record.s3.object.key = encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
  if (etag === undefined) delete record.s3.object.eTag;
  else record.s3.object.eTag = etag.replace(/"/g, '');
  return fixture;
}

/** An EventBridge "Object Created" event, from the fixture in test/events/. */
export async function eventBridgeEvent(key: string, bucket = TEST_BUCKET): Promise<unknown> {
  const fixture = JSON.parse(
    await readFile(new URL('../events/eventbridge-object-created.json', import.meta.url), 'utf8'),
  ) as { detail: { bucket: { name: string }; object: { key: string; etag?: string } } };
  fixture.detail.bucket.name = bucket;
  fixture.detail.object.key = key;
  delete fixture.detail.object.etag;
  return fixture;
}
