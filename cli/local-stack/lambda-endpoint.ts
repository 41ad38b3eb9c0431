import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';

/** A handler the endpoint runs in-process, as the Lambda runtime would call it. */
export type LocalFunction = (event: unknown, context: Context) => Promise<unknown>;

/** Options of {@link startLambdaEndpoint}. */
export interface LambdaEndpointOptions {
  /** Function name (as `Invoke` names it, without ARN or qualifier) -> handler. */
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** The timeout each handler runs under (its `getRemainingTimeInMillis`). @default 900000 */
  readonly timeoutMs?: number;
  /** Told about every invocation once it has settled (for logs and tests). */
  readonly onInvoke?: (invocation: LambdaInvocation) => void;
}

/** One invocation the endpoint ran. */
export interface LambdaInvocation {
  readonly functionName: string;
  readonly invocationType: 'RequestResponse' | 'Event';
  readonly event: unknown;
  /** The handler's result, when it returned one. */
  readonly result?: unknown;
  /** The error payload (`errorType`, `errorMessage`), when the handler threw. */
  readonly error?: LambdaErrorPayload;
}

/** What the Node.js runtime returns for an error the handler threw (`X-Amz-Function-Error: Unhandled`). */
export interface LambdaErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: string[];
}

/** A running {@link startLambdaEndpoint}. */
export interface LambdaEndpoint {
  /** `http://127.0.0.1:<port>`: the `endpoint` of a `LambdaClient` (or `AWS_ENDPOINT_URL_LAMBDA`). */
  readonly url: string;
  /** Settles once every `Event` invocation started so far has settled. */
  idle(): Promise<void>;
  /** Waits for `Event` invocations in flight and closes the server. */
  stop(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** A Lambda context for a handler run in-process, its deadline `timeoutMs` from now. */
export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const unsupported = () => {
    throw new Error('callback-style completion is not supported');
  };
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

/**
 * The function a path segment names: a name, a partial ARN (`123456789012:function:name`) or a full ARN,
 * each optionally with `:qualifier`, as `Invoke` accepts them.
 */
export function functionNameOf(segment: string): string {
  const parts = decodeURIComponent(segment).split(':');
  const at = parts.indexOf('function');
  return at >= 0 ? (parts[at + 1] ?? '') : parts[0]!;
}

/** The runtime's error payload for a thrown value. */
export function errorPayload(err: unknown): LambdaErrorPayload {
  if (err instanceof Error) {
    return {
      errorType: err.name,
      errorMessage: err.message,
      trace: (err.stack ?? '').split('\n'),
    };
  }
  return { errorType: 'Error', errorMessage: String(err), trace: [] };
}

/**
 * A local endpoint speaking the Lambda `Invoke` API (REST-JSON, `POST /2015-03-31/functions/<name>/invocations`)
 * that runs handlers in this process, so `@aws-sdk/client-lambda` (the CLI's `trigger` and `redrive`) works
 * against the local stack unchanged:
 *
 * - `X-Amz-Invocation-Type: RequestResponse` (the default): 200 with the handler's result as JSON and
 *   `X-Amz-Executed-Version: $LATEST`; a handler that throws gives 200 with `X-Amz-Function-Error: Unhandled`
 *   and the Node.js runtime's error payload `{errorType, errorMessage, trace}`;
 * - `Event`: 202 with an empty body at once, the handler runs in the background (an error is only logged, as
 *   Lambda would after its own retries);
 * - `DryRun`: 204, nothing runs;
 * - an unknown function: 404 `ResourceNotFoundException`; a body that is not JSON: 400
 *   `InvalidRequestContentException`, as Lambda answers them.
 *
 * @example
 * const lambda = await startLambdaEndpoint({ functions: { 'svc-dev-import-start': handler } });
 * const client = new LambdaClient({ endpoint: lambda.url, region: 'us-east-1', credentials });
 */
export async function startLambdaEndpoint(options: LambdaEndpointOptions): Promise<LambdaEndpoint> {
  const timeoutMs = options.timeoutMs ?? 900_000;
  const background = new Set<Promise<unknown>>();

  const fail = (res: ServerResponse, status: number, type: string, message: string): void => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-amzn-errortype': type,
      'x-amzn-requestid': randomUUID(),
    });
    res.end(JSON.stringify({ Type: 'User', message }));
  };

  const run = async (
    name: string,
    invocationType: LambdaInvocation['invocationType'],
    event: unknown,
  ): Promise<{ result?: unknown; error?: LambdaErrorPayload }> => {
    const fn = options.functions[name]!;
    let outcome: { result?: unknown; error?: LambdaErrorPayload };
    try {
      outcome = { result: await fn(event, lambdaContext(name, timeoutMs)) };
    } catch (err) {
      outcome = { error: errorPayload(err) };
    }
    options.onInvoke?.({ functionName: name, invocationType, event, ...outcome });
    return outcome;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      fail(res, 404, 'UnknownOperationException', `no such operation: ${req.method} ${url.pathname}`);
      return;
    }
    const name = functionNameOf(match[1]!);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (options.functions[name] === undefined) {
      fail(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      );
      return;
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let event: unknown;
    try {
      event = text === '' ? {} : JSON.parse(text);
    } catch (err) {
      fail(
        res,
        400,
        'InvalidRequestContentException',
        `Could not parse request body into json: ${(err as Error).message}`,
      );
      return;
    }
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type === 'DryRun') {
      res.writeHead(204, { 'x-amzn-requestid': randomUUID() });
      res.end();
      return;
    }
    if (type === 'Event') {
      const call = run(name, 'Event', event).then(({ error }) => {
        if (error)
          process.stderr.write(`lambda ${name} (Event): ${error.errorType}: ${error.errorMessage}\n`);
      });
      background.add(call);
      void call.finally(() => background.delete(call));
      res.writeHead(202, { 'x-amzn-requestid': randomUUID() });
      res.end();
      return;
    }
    if (type !== 'RequestResponse') {
      fail(res, 400, 'InvalidParameterValueException', `unknown invocation type ${type}`);
      return;
    }
    const { result, error } = await run(name, 'RequestResponse', event);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': randomUUID(),
    };
    if (error) headers['x-amz-function-error'] = 'Unhandled';
    res.writeHead(200, headers);
    res.end(JSON.stringify(error ?? result ?? null));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) fail(res, 500, 'ServiceException', String(err));
      else res.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const idle = async (): Promise<void> => {
    while (background.size > 0) await Promise.allSettled([...background]);
  };
  return {
    url,
    idle,
    async stop() {
      await idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
