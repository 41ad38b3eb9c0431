import { DescribeExecutionCommand, RedriveExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { LOCAL_REDRIVE_REASON } from '../../cli/local-stack/sfn-endpoint.js';
import { executionArnFor, type StartOutcome } from '../../shared/import/index.js';
import { randomPrefix } from '../support/files.js';
import { idValueRows } from '../support/read-back.js';
import { useRedis } from '../support/redis-server.js';
import { putObject, s3Event, useS3 } from '../support/s3.js';
import { useImportStacks } from '../support/stepfunctions.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

describe("the local stack's Step Functions endpoint, through @aws-sdk/client-sfn", () => {
  it('describes its executions; redrive is refused as the local executor cannot; unknown names do not exist', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/users.csv`;
    const etag = await putObject(s3.server, key, idValueRows(500));
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const endpoint = await stack.serveStepFunctions();
    const client = new SFNClient({
      endpoint: endpoint.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const [outcome] = (await stack.deliver(await s3Event(key, etag))) as [StartOutcome];
      if (outcome.status !== 'started') throw new Error(JSON.stringify(outcome));
      await stack.execution(outcome.importId)!.result;
      const executionArn = executionArnFor(stack.stateMachineArn, outcome.importId);
      expect(executionArn).toBe(outcome.executionArn);
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      expect(described).toMatchObject({
        executionArn,
        name: outcome.importId,
        status: 'SUCCEEDED',
        redriveStatus: 'NOT_REDRIVABLE',
        redriveStatusReason: LOCAL_REDRIVE_REASON,
      });
      expect(described.startDate).toBeInstanceOf(Date);
      expect(JSON.parse(described.input!)).toMatchObject({ importId: outcome.importId, pass: 0 });
      await expect(client.send(new RedriveExecutionCommand({ executionArn }))).rejects.toMatchObject({
        name: 'ExecutionNotRedrivable',
      });
      await expect(
        client.send(new DescribeExecutionCommand({ executionArn: `${executionArn}-nope` })),
      ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    } finally {
      client.destroy();
    }
  });
});
