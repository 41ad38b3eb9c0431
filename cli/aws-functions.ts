import type * as LambdaSdk from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { classifyError, ConfigError } from '../shared/errors/index.js';
import type { FunctionInvoker, InvokeOutcome } from '../shared/import/index.js';
import { createS3Client } from '../shared/records/index.js';

/** The import functions, by their keys in serverless.yml. */
export type ImportFunction = 'import-start' | 'import-chunk' | 'import-finish';

/** The AWS settings `trigger` and `redrive` take (flags, with environment defaults). */
export interface AwsFlags {
  service: string;
  stage: string;
  region?: string;
  lambdaEndpoint?: string;
  s3Endpoint?: string;
  startFunction?: string;
  chunkFunction?: string;
  finishFunction?: string;
}

/** serverless.yml's `service`, and the stage `osls deploy` uses without `--stage`. */
export const DEFAULT_SERVICE = 'redis-bulk-loader';
export const DEFAULT_STAGE = 'dev';

/** The name serverless gives a function it deploys: `<service>-<stage>-<function key>`. */
export function deployedName(service: string, stage: string, fn: ImportFunction): string {
  return `${service}-${stage}-${fn}`;
}

/** The deployed name of `fn` under `flags`, or the flag that overrides it. */
export function functionName(flags: AwsFlags, fn: ImportFunction): string {
  const override = {
    'import-start': flags.startFunction,
    'import-chunk': flags.chunkFunction,
    'import-finish': flags.finishFunction,
  }[fn];
  return override ?? deployedName(flags.service, flags.stage, fn);
}

/** Adds the AWS options shared by `trigger` and `redrive`; `functions` are the ones the command invokes. */
export function addAwsOptions(command: Command, functions: readonly ImportFunction[]): Command {
  command
    .option(
      '--service <name>',
      "serverless.yml's service: functions are named <service>-<stage>-<function> (env RBL_SERVICE)",
      process.env.RBL_SERVICE ?? DEFAULT_SERVICE,
    )
    .option('--stage <stage>', 'the deployed stage (env RBL_STAGE)', process.env.RBL_STAGE ?? DEFAULT_STAGE)
    .option('--region <region>', 'AWS region (default: AWS_REGION or the SDK profile)')
    .option(
      '--lambda-endpoint <url>',
      'Lambda-compatible endpoint, e.g. the local stack (env AWS_ENDPOINT_URL_LAMBDA)',
    )
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (env S3_ENDPOINT)', process.env.S3_ENDPOINT);
  const flag = { 'import-start': 'start', 'import-chunk': 'chunk', 'import-finish': 'finish' } as const;
  for (const fn of functions) {
    command.option(
      `--${flag[fn]}-function <name>`,
      `the ${fn} function's name or ARN (default: <service>-<stage>-${fn})`,
    );
  }
  return command;
}

/** An S3 client for the command's settings (credentials from the SDK's chain). */
export function s3ClientFor(flags: AwsFlags): Promise<S3Client> {
  return createS3Client({
    ...(flags.s3Endpoint === undefined ? {} : { endpoint: flags.s3Endpoint }),
    ...(flags.region === undefined ? {} : { region: flags.region }),
  });
}

// Loaded on first use, like the other AWS SDK clients of the CLI.
let loading: Promise<typeof LambdaSdk> | undefined;
function lambdaSdk(): Promise<typeof LambdaSdk> {
  loading ??= import('@aws-sdk/client-lambda');
  return loading;
}

/** A Lambda client for the command's settings. */
export async function lambdaClientFor(flags: AwsFlags): Promise<LambdaSdk.LambdaClient> {
  const { LambdaClient } = await lambdaSdk();
  const region = flags.region ?? process.env.AWS_REGION;
  return new LambdaClient({
    ...(flags.lambdaEndpoint === undefined ? {} : { endpoint: flags.lambdaEndpoint }),
    // A local endpoint needs some region to sign for; AWS needs the real one (the SDK's chain finds it).
    ...(region === undefined
      ? flags.lambdaEndpoint === undefined
        ? {}
        : { region: 'us-east-1' }
      : { region }),
  });
}

/**
 * Invokes a function synchronously (`RequestResponse`) and decodes its result, or the error payload of a
 * `FunctionError`. A function that does not exist is a {@link ConfigError} naming it; other failures to invoke
 * are classified (throttling and 5xx are retryable).
 */
export async function invokeJson(
  client: LambdaSdk.LambdaClient,
  name: string,
  payload: unknown,
): Promise<InvokeOutcome> {
  const { InvokeCommand } = await lambdaSdk();
  let reply: LambdaSdk.InvokeCommandOutput;
  try {
    reply = await client.send(
      new InvokeCommand({
        FunctionName: name,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(payload)),
      }),
    );
  } catch (err) {
    if (err instanceof Error && err.name === 'ResourceNotFoundException') {
      throw new ConfigError(
        `Lambda function ${name} not found: check --service/--stage (or the --*-function names) and --region`,
        { cause: err },
      );
    }
    throw classifyError(err);
  }
  const text = reply.Payload ? Buffer.from(reply.Payload).toString('utf8') : '';
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  if (reply.FunctionError !== undefined) {
    const e = (body ?? {}) as { errorType?: unknown; errorMessage?: unknown };
    return {
      ok: false,
      error: {
        name: typeof e.errorType === 'string' ? e.errorType : `Lambda.${reply.FunctionError}`,
        message: typeof e.errorMessage === 'string' ? e.errorMessage : text,
      },
    };
  }
  return { ok: true, result: body };
}

/** A {@link FunctionInvoker} over Lambda `Invoke`, for the deployed (or local) import functions. */
export class LambdaInvoker implements FunctionInvoker {
  constructor(
    private readonly client: LambdaSdk.LambdaClient,
    private readonly flags: AwsFlags,
  ) {}

  invoke(fn: ImportFunction, payload: unknown): Promise<InvokeOutcome> {
    return invokeJson(this.client, functionName(this.flags, fn), payload);
  }
}
