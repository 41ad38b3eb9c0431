import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type S3rverServer from 's3rver';
import { ConfigError } from '../../shared/errors/index.js';
import { createS3Client } from '../../shared/records/index.js';

/** s3rver's built-in account: any S3 client pointed at it signs with these. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** An in-process s3rver on a free loopback port, storing objects in its own temp dir. */
export interface LocalS3 {
  readonly endpoint: string;
  readonly port: number;
  /** A client for this server (path-style, its credentials). */
  readonly client: S3Client;
  stop(): Promise<void>;
}

/**
 * Starts s3rver in this process on 127.0.0.1 and a free port, with `buckets` created. `stop()` closes it and
 * removes its directory. s3rver is a development dependency: outside a development checkout this fails with
 * a ConfigError that says so.
 *
 * @example
 * const s3 = await startLocalS3(['data']);
 * await s3.client.send(new PutObjectCommand({ Bucket: 'data', Key: 'a.csv', Body: 'id\n1\n' }));
 * await s3.stop();
 */
export async function startLocalS3(buckets: readonly string[]): Promise<LocalS3> {
  let S3rver: typeof S3rverServer;
  try {
    S3rver = (await import('s3rver')).default;
  } catch (err) {
    throw new ConfigError('s3rver is not installed: run `npm ci` in a checkout of redis-bulk-loader', {
      cause: err,
    });
  }
  const directory = await mkdtemp(join(tmpdir(), 'rbl-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  let address;
  try {
    address = await server.run();
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = await createS3Client({ endpoint, credentials: LOCAL_S3_CREDENTIALS });
  return {
    endpoint,
    port: address.port,
    client,
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
