import { describe, expect, it } from 'vitest';
import { startLambdaEndpoint, type LambdaInvocation } from '../../cli/local-stack/lambda-endpoint.js';
import { useRedis } from '../support/redis-server.js';
import { useS3 } from '../support/s3.js';
import { useImportStacks } from '../support/stepfunctions.js';
import { invoke, localLambdaClient } from '../support/lambda.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

describe('the local Lambda Invoke endpoint, through @aws-sdk/client-lambda', () => {
  it('RequestResponse returns the handler result; a thrown error is FunctionError Unhandled with its payload', async () => {
    const seen: LambdaInvocation[] = [];
    const endpoint = await startLambdaEndpoint({
      functions: {
        echo: (event, context) => Promise.resolve({ event, functionName: context.functionName }),
        boom: () => Promise.reject(Object.assign(new Error('no such chunk'), { name: 'ConfigError' })),
      },
      onInvoke: (i) => seen.push(i),
    });
    const client = localLambdaClient(endpoint.url);
    try {
      const ok = await invoke(client, 'echo', { a: [1, 'x'] });
      expect(ok.reply.StatusCode).toBe(200);
      expect(ok.reply.FunctionError).toBeUndefined();
      expect(ok.reply.ExecutedVersion).toBe('$LATEST');
      expect(ok.body).toEqual({ event: { a: [1, 'x'] }, functionName: 'echo' });

      // A full ARN with a qualifier names the same function.
      const byArn = await invoke(client, 'arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST', 7);
      expect(byArn.body).toEqual({ event: 7, functionName: 'echo' });

      const failed = await invoke(client, 'boom', {});
      expect(failed.reply.StatusCode).toBe(200);
      expect(failed.reply.FunctionError).toBe('Unhandled');
      expect(failed.body).toMatchObject({ errorType: 'ConfigError', errorMessage: 'no such chunk' });
      expect((failed.body as { trace: unknown }).trace).toBeInstanceOf(Array);

      const queued = await invoke(client, 'boom', { later: true }, 'Event');
      expect(queued.reply.StatusCode).toBe(202);
      expect(queued.body).toBeNull();
      await endpoint.idle();
      expect(seen.at(-1)).toMatchObject({
        functionName: 'boom',
        invocationType: 'Event',
        error: { errorType: 'ConfigError' },
      });

      const dry = await invoke(client, 'echo', {}, 'DryRun');
      expect(dry.reply.StatusCode).toBe(204);
      expect(seen).toHaveLength(4);

      await expect(invoke(client, 'missing', {})).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        $metadata: { httpStatusCode: 404 },
      });
    } finally {
      client.destroy();
      await endpoint.stop();
    }
  });

  it("serves the local stack's real handlers under their deployed names: a bad event is the handler's FunctionError", async () => {
    const stack = await stacks.create({ redisUrls: [redis.server.url], s3Endpoint: s3.server.endpoint });
    const endpoint = await stack.serveLambda({ service: 'redis-bulk-loader', stage: 'local' });
    const client = localLambdaClient(endpoint.url);
    try {
      const reply = await invoke(client, 'redis-bulk-loader-local-import-start', { Records: [] });
      expect(reply.reply.FunctionError).toBe('Unhandled');
      expect(reply.body).toMatchObject({ errorType: 'ConfigError' });
      expect((reply.body as { errorMessage: string }).errorMessage).toContain('event.Records');

      const finish = await invoke(client, 'import-finish', { importId: 'x' });
      expect(finish.reply.FunctionError).toBe('Unhandled');
      expect(finish.body).toMatchObject({ errorType: 'ConfigError' });
      expect(stack.invocations).toMatchObject({ 'import-start': 1, 'import-finish': 1 });
    } finally {
      client.destroy();
    }
  });
});
