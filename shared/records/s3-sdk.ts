import type * as S3Sdk from '@aws-sdk/client-s3';

let loading: Promise<typeof S3Sdk> | undefined;

/**
 * The AWS SDK's S3 module, loaded on first use and shared by every caller. Loading it takes 100-200 ms, which
 * a load from a local file never needs: modules that only read files must not import it at the top.
 *
 * @example
 * const { GetObjectCommand } = await s3Sdk();
 * const reply = await client.send(new GetObjectCommand({ Bucket: 'data', Key: 'users.csv' }));
 */
export function s3Sdk(): Promise<typeof S3Sdk> {
  loading ??= import('@aws-sdk/client-s3');
  return loading;
}
