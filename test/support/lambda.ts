import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';

/** The environment a CLI child needs for the local stack: s3rver's credentials, a region, no SDK warning. */
export const LOCAL_AWS_ENV: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** A real `@aws-sdk/client-lambda` client for a local Invoke endpoint (dummy credentials). */
export function localLambdaClient(endpoint: string): LambdaClient {
  return new LambdaClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

/** Invokes a function through the SDK and decodes its payload as JSON (null when empty). */
export async function invoke(
  client: LambdaClient,
  name: string,
  payload: unknown,
  type: 'RequestResponse' | 'Event' | 'DryRun' = 'RequestResponse',
): Promise<{ reply: InvokeCommandOutput; body: unknown }> {
  const reply = await client.send(
    new InvokeCommand({
      FunctionName: name,
      InvocationType: type,
      Payload: Buffer.from(JSON.stringify(payload)),
    }),
  );
  const text = reply.Payload ? Buffer.from(reply.Payload).toString('utf8') : '';
  return { reply, body: text === '' ? null : (JSON.parse(text) as unknown) };
}
