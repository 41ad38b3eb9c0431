import { ConfigError } from '../shared/errors/index.js';
import { type ByteSource, createS3Client, FileSource, S3Source } from '../shared/records/index.js';

/** `s3://bucket/key` split into its parts, or undefined for a local path. */
export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  if (!uri.startsWith('s3://')) return undefined;
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) {
    throw new ConfigError(`${uri}: expected s3://bucket/key`);
  }
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

/**
 * The source of a CLI import: a local file, or an S3 object (`s3://bucket/key`) read with ranged GETs pinned
 * to the ETag of its first HEAD. `endpoint` points the S3 client at an S3-compatible server (s3rver, MinIO);
 * credentials come from the AWS SDK's usual chain (environment, profile, instance role).
 *
 * @example
 * const source = await openSource('s3://data/users.csv', { endpoint: 'http://127.0.0.1:4568' });
 */
export async function openSource(location: string, options: { endpoint?: string } = {}): Promise<ByteSource> {
  const s3 = parseS3Uri(location);
  if (!s3) return new FileSource(location);
  // Only here is the AWS SDK loaded: a local file import never pays for it.
  const client = await createS3Client(options.endpoint === undefined ? {} : { endpoint: options.endpoint });
  return new S3Source(client, s3.bucket, s3.key);
}
