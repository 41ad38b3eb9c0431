import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An execution as the local endpoint describes it. */
export interface LocalExecutionInfo {
  readonly name: string;
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  readonly input: unknown;
  readonly startDate: Date;
  readonly stopDate?: Date;
}

/** Options of {@link startSfnEndpoint}. */
export interface SfnEndpointOptions {
  /** The state machine's ARN: executions are `<arn with :execution:>:<name>`. */
  readonly stateMachineArn: string;
  /** The execution of this name, if any. */
  readonly execution: (name: string) => LocalExecutionInfo | undefined;
}

/** A running {@link startSfnEndpoint}. */
export interface SfnEndpoint {
  /** `http://127.0.0.1:<port>`: the `endpoint` of an `SFNClient` (or `AWS_ENDPOINT_URL_SFN`). */
  readonly url: string;
  stop(): Promise<void>;
}

/** Why the local executor cannot redrive, as `redriveStatusReason` says it. */
export const LOCAL_REDRIVE_REASON = 'the local executor (aws-local-stepfunctions) cannot redrive executions';

/**
 * A local endpoint speaking the two Step Functions calls `redrive` makes (AWS JSON 1.0, `POST /`,
 * `X-Amz-Target: AWSStepFunctions.<Operation>`) for the local stack's executions:
 *
 * - `DescribeExecution`: name, status (RUNNING, SUCCEEDED, FAILED), input, dates, and `redriveStatus`
 *   `NOT_REDRIVABLE` with {@link LOCAL_REDRIVE_REASON}: aws-local-stepfunctions has no redrive;
 * - `RedriveExecution`: `ExecutionNotRedrivable`, for the same reason;
 * - an unknown execution: `ExecutionDoesNotExist`, as Step Functions answers.
 */
export async function startSfnEndpoint(options: SfnEndpointOptions): Promise<SfnEndpoint> {
  const executionPrefix = `${options.stateMachineArn.replace(':stateMachine:', ':execution:')}:`;
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'local' });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, type: string, message: string): void =>
    reply(res, 400, { __type: type, message });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: { executionArn?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { executionArn?: unknown };
    } catch {
      fail(res, 'SerializationException', 'body is not JSON');
      return;
    }
    const operation = target.replace(/^AWSStepFunctions\./, '');
    if (operation !== 'DescribeExecution' && operation !== 'RedriveExecution') {
      fail(res, 'UnknownOperationException', `the local endpoint does not serve ${target}`);
      return;
    }
    const arn = String(body.executionArn ?? '');
    const execution = arn.startsWith(executionPrefix)
      ? options.execution(arn.slice(executionPrefix.length))
      : undefined;
    if (!execution) {
      fail(res, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
      return;
    }
    if (operation === 'RedriveExecution') {
      fail(res, 'ExecutionNotRedrivable', `${arn}: ${LOCAL_REDRIVE_REASON}`);
      return;
    }
    reply(res, 200, {
      executionArn: arn,
      stateMachineArn: options.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime() / 1000,
      ...(execution.stopDate ? { stopDate: execution.stopDate.getTime() / 1000 } : {}),
      input: JSON.stringify(execution.input),
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: LOCAL_REDRIVE_REASON,
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, { __type: 'InternalError', message: String(err) });
      else res.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
