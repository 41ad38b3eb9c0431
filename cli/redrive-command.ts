import type { S3Client } from '@aws-sdk/client-s3';
import type * as SfnSdk from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { classifyError, ConfigError } from '../shared/errors/index.js';
import {
  executionArnFor,
  getText,
  type ImportReport,
  planChunkList,
  planInputKey,
  readPlanInput,
  redriveImport,
  redriveSelection,
  reportKey,
} from '../shared/import/index.js';
import {
  addAwsOptions,
  type AwsFlags,
  LambdaInvoker,
  lambdaClientFor,
  s3ClientFor,
} from './aws-functions.js';
import { commandError, ExitCode, exitCodeFor } from './exit-codes.js';

interface RedriveFlags extends AwsFlags {
  reportBucket?: string;
  reportPrefix: string;
  planPrefix: string;
  stateMachineArn?: string;
  sfnEndpoint?: string;
  json: boolean;
}

/** What `redrive --json` prints. */
export interface RedriveOutput {
  readonly importId: string;
  /** `step-functions`: the execution was redriven; `lambda`: the chunks were invoked here. */
  readonly via: 'step-functions' | 'lambda';
  readonly chunks: readonly number[];
  /** `lambda`: the report after the redrive. */
  readonly status?: ImportReport['status'];
  readonly report?: string;
  readonly executionArn?: string;
}

/** An execution as DescribeExecution describes it (the fields the decision reads). */
export interface ExecutionDescription {
  readonly status?: string;
  readonly redriveStatus?: string;
  readonly redriveStatusReason?: string;
}

/**
 * Whether Step Functions can redrive an execution: only a FAILED, TIMED_OUT or ABORTED one it marks REDRIVABLE.
 * This state machine catches a failed Map and runs import-finish, so a FAILED import's execution usually
 * SUCCEEDED — then the chunks are invoked directly instead.
 */
export function sfnRedrive(
  execution: ExecutionDescription,
): { redrive: true } | { redrive: false; why: string } {
  const ended = ['FAILED', 'TIMED_OUT', 'ABORTED'];
  if (!ended.includes(execution.status ?? '')) {
    return {
      redrive: false,
      why: `its execution ended ${execution.status ?? 'in an unknown state'} (the Map's failure was caught and reported), which Step Functions cannot redrive`,
    };
  }
  if (execution.redriveStatus !== 'REDRIVABLE') {
    return {
      redrive: false,
      why: `Step Functions says its execution is ${execution.redriveStatus ?? 'not redrivable'}${execution.redriveStatusReason ? `: ${execution.redriveStatusReason}` : ''}`,
    };
  }
  return { redrive: true };
}

/** Registers `redrive <importId>`: re-run the failed or unfinished chunks of an import. */
export function registerRedrive(program: Command): void {
  const command = program
    .command('redrive')
    .summary('re-run only the failed or unfinished chunks of a FAILED import')
    .description(
      'Read reports/<importId>.json and load again only the chunks it does not list as completed. With ' +
        '--state-machine-arn, an execution Step Functions can redrive (FAILED, TIMED_OUT or ABORTED, and ' +
        'REDRIVABLE) is redriven (RedriveExecution re-runs only the unsuccessful Map iterations); otherwise — ' +
        'and usually: the state machine catches a failed Map, so the execution itself SUCCEEDED — each such ' +
        'chunk is invoked through Lambda Invoke of import-chunk (continuations and retries as the state machine ' +
        'does them), then import-finish writes the report again. Completed chunks are not run again (and a ' +
        "chunk's completion marker makes a re-run of it write nothing).",
    )
    .argument('<importId>', 'the import id (the execution name; in the report, the log, and `trigger`)')
    .option(
      '--report-bucket <bucket>',
      "the functions' REPORT_BUCKET (serverless param importReportBucket; env REPORT_BUCKET)",
      process.env.REPORT_BUCKET,
    )
    .option('--report-prefix <prefix>', "the functions' REPORT_PREFIX", 'reports/')
    .option('--plan-prefix <prefix>', "the functions' PLAN_PREFIX", 'plans/')
    .option(
      '--state-machine-arn <arn>',
      'redrive the execution with Step Functions when it can be (env STATE_MACHINE_ARN)',
      process.env.STATE_MACHINE_ARN,
    )
    .option('--sfn-endpoint <url>', 'Step Functions-compatible endpoint (env AWS_ENDPOINT_URL_SFN)')
    .option('--json', 'print what was redriven and the new status as JSON on stdout', false);
  addAwsOptions(command, ['import-chunk', 'import-finish'])
    .addHelpText(
      'after',
      `
Exit codes: 0 the import SUCCEEDED (or is PARTIAL) after the redrive, or Step Functions redrove it; 2 bad
command line, an unknown import, or one with nothing to redrive (SUCCEEDED, PARTIAL, refused before it ran,
still running); 3 the redriven import FAILED again (the report says why), or AWS unreachable.

Examples:
  redis-bulk-loader redrive users-csv-3f9a0c1d2e4b5a69 --report-bucket my-bucket --stage prod
  redis-bulk-loader redrive users-csv-3f9a0c1d2e4b5a69 --report-bucket demo \\
    --lambda-endpoint http://127.0.0.1:9001 --s3-endpoint http://127.0.0.1:4568`,
    )
    .action(async (importId: string, flags: RedriveFlags) => {
      process.exitCode = await redriveAction(importId, flags);
    });
}

/** A one-line refusal: nothing was redriven (exit 2). */
class NothingToRedrive extends ConfigError {}

async function readReport(s3: S3Client, importId: string, flags: RedriveFlags, bucket: string) {
  const key = reportKey(flags.reportPrefix, importId);
  const text = await getText(s3, bucket, key);
  if (text !== undefined) return JSON.parse(text) as ImportReport;
  const plan = await getText(s3, bucket, planInputKey(flags.planPrefix, importId));
  throw new NothingToRedrive(
    plan === undefined
      ? `unknown import ${importId}: there is no report s3://${bucket}/${key}`
      : `import ${importId} has no report yet: it is still running (or its import-finish never ran); redrive it once it has FAILED`,
  );
}

async function viaStepFunctions(
  flags: RedriveFlags,
  importId: string,
  log: (line: string) => void,
): Promise<string | undefined> {
  if (flags.stateMachineArn === undefined) return undefined;
  const sdk: typeof SfnSdk = await import('@aws-sdk/client-sfn');
  const region = flags.region ?? process.env.AWS_REGION;
  const client = new sdk.SFNClient({
    ...(flags.sfnEndpoint === undefined ? {} : { endpoint: flags.sfnEndpoint }),
    // A local endpoint needs some region to sign for; AWS needs the real one (the SDK's chain finds it).
    ...(region === undefined ? (flags.sfnEndpoint === undefined ? {} : { region: 'us-east-1' }) : { region }),
  });
  const executionArn = executionArnFor(flags.stateMachineArn, importId);
  try {
    const execution = await client.send(new sdk.DescribeExecutionCommand({ executionArn }));
    if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') {
      throw new NothingToRedrive(
        `import ${importId} is running again (execution ${executionArn} is ${execution.status}): redrive it once it has ended`,
      );
    }
    const decision = sfnRedrive(execution);
    if (!decision.redrive) {
      log(`not redriving the execution: ${decision.why}; invoking the chunks instead`);
      return undefined;
    }
    await client.send(new sdk.RedriveExecutionCommand({ executionArn }));
    return executionArn;
  } catch (err) {
    if (err instanceof NothingToRedrive) throw err;
    if (err instanceof Error && err.name === 'ExecutionDoesNotExist') {
      log(`no execution ${executionArn}; invoking the chunks instead`);
      return undefined;
    }
    throw classifyError(err);
  } finally {
    client.destroy();
  }
}

async function redriveAction(importId: string, flags: RedriveFlags): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let s3: S3Client | undefined;
  try {
    const bucket = flags.reportBucket;
    if (bucket === undefined) throw new ConfigError('--report-bucket is required (or REPORT_BUCKET)');
    s3 = await s3ClientFor(flags);
    const report = await readReport(s3, importId, flags, bucket);
    const selection = redriveSelection(report);
    if ('nothing' in selection) throw new NothingToRedrive(selection.nothing);
    const print = (out: RedriveOutput, line: string) =>
      process.stdout.write(flags.json ? `${JSON.stringify(out, null, 2)}\n` : `${line}\n`);

    const executionArn = await viaStepFunctions(flags, importId, log);
    if (executionArn !== undefined) {
      print(
        { importId, via: 'step-functions', chunks: selection.chunks, executionArn },
        `import ${importId}: execution ${executionArn} redriven; Step Functions re-runs its unsuccessful chunks and import-finish writes s3://${bucket}/${reportKey(flags.reportPrefix, importId)} again`,
      );
      return ExitCode.Ok;
    }

    const plan = await readPlanInput(s3, bucket, flags.planPrefix, importId);
    if (plan === undefined) {
      throw new NothingToRedrive(
        `import ${importId} has no recorded plan (s3://${bucket}/${planInputKey(flags.planPrefix, importId)}): ` +
          'it was started before redrive existed; trigger the object again with --force-new',
      );
    }
    const all = await planChunkList(s3, plan);
    log(
      `import ${importId} ${report.status}: loading chunk(s) ${selection.chunks.join(', ')} of ${plan.chunkCount} again through import-chunk`,
    );
    const lambda = await lambdaClientFor(flags);
    let result;
    try {
      result = await redriveImport(plan, all, selection.chunks, {
        invoker: new LambdaInvoker(lambda, flags),
        log,
      });
    } finally {
      lambda.destroy();
    }
    const { status, report: location } = result.finish;
    const after = await getText(s3, bucket, reportKey(flags.reportPrefix, importId));
    const final = after === undefined ? undefined : (JSON.parse(after) as ImportReport);
    const counts = final
      ? `: ${final.counts.written.toLocaleString('en-US')} written, ${final.counts.rejected.toLocaleString('en-US')} rejected, ${final.chunks.completed}/${final.chunks.planned} chunks`
      : '';
    print(
      { importId, via: 'lambda', chunks: selection.chunks, status, report: location },
      `import ${importId} ${status} after redrive of chunk(s) ${selection.chunks.join(', ')}${counts}${final?.reason ? ` — ${final.reason}` : ''}; report ${location}`,
    );
    return status === 'FAILED' ? ExitCode.Fatal : ExitCode.Ok;
  } catch (err) {
    const e = commandError(err);
    process.stderr.write(`redis-bulk-loader redrive: ${e.message}\n`);
    return exitCodeFor(e);
  } finally {
    s3?.destroy();
  }
}
