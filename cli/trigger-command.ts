import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { classifyError, ConfigError, SourceChangedError } from '../shared/errors/index.js';
import type { StartOutcome } from '../shared/import/index.js';
import { s3Sdk } from '../shared/records/index.js';
import {
  addAwsOptions,
  type AwsFlags,
  functionName,
  invokeJson,
  lambdaClientFor,
  s3ClientFor,
} from './aws-functions.js';
import { commandError, ExitCode, exitCodeFor } from './exit-codes.js';
import { parseS3Uri } from './source.js';

interface TriggerFlags extends AwsFlags {
  versionId?: string;
  forceNew: boolean;
  json: boolean;
}

/** The object version a trigger names, as a HEAD found it. */
interface ObjectVersion {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly versionId?: string;
}

/** What `trigger --json` prints. */
export interface TriggerOutput {
  readonly object: ObjectVersion;
  readonly outcome: StartOutcome;
}

function isMissing(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const name = err instanceof Error ? err.name : '';
  return status === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchVersion';
}

async function head(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<ObjectVersion> {
  const { HeadObjectCommand } = await s3Sdk();
  const where = `s3://${bucket}/${key}${versionId === undefined ? '' : ` version ${versionId}`}`;
  try {
    const reply = await s3.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(versionId === undefined ? {} : { VersionId: versionId }),
      }),
    );
    return {
      bucket,
      key,
      etag: reply.ETag ?? '',
      size: reply.ContentLength ?? 0,
      ...(reply.VersionId === undefined ? {} : { versionId: reply.VersionId }),
    };
  } catch (err) {
    if (isMissing(err)) throw new SourceChangedError(`${where} not found: nothing to import`, { cause: err });
    const e = classifyError(err);
    throw Object.assign(e, { message: `${where}: ${e.message}` });
  }
}

/**
 * The object version to import: `--version-id` must be the current version's content (import-start and the
 * chunks read the current object, pinned to its ETag), so an older version with other content is refused.
 */
async function objectVersion(s3: S3Client, uri: string, versionId?: string): Promise<ObjectVersion> {
  const location = parseS3Uri(uri);
  if (!location) throw new ConfigError(`${uri}: expected s3://bucket/key`);
  const current = await head(s3, location.bucket, location.key);
  if (versionId === undefined || versionId === current.versionId) return current;
  const wanted = await head(s3, location.bucket, location.key, versionId);
  if (wanted.etag.replace(/"/g, '') !== current.etag.replace(/"/g, '')) {
    throw new ConfigError(
      `${uri} version ${versionId} (ETag ${wanted.etag}) is not the current version (ETag ${current.etag}): ` +
        'imports read the current object; copy that version over the key to import it',
    );
  }
  return { ...current, versionId };
}

/**
 * An S3 `ObjectCreated:Put` notification for one object version, in the shape S3 sends (keys URL-encoded with
 * `+` for spaces); `run` asks import-start for a new import of a version imported before.
 */
export function s3CreatedEvent(object: ObjectVersion, region: string, run?: string): unknown {
  const key = encodeURIComponent(object.key).replace(/%20/g, '+').replace(/%2F/g, '/');
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'redis-bulk-loader-trigger' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'redis-bulk-loader-trigger', 'x-amz-id-2': 'trigger' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'redis-bulk-loader-trigger',
          bucket: {
            name: object.bucket,
            ownerIdentity: { principalId: 'redis-bulk-loader-trigger' },
            arn: `arn:aws:s3:::${object.bucket}`,
          },
          object: {
            key,
            size: object.size,
            eTag: object.etag.replace(/"/g, ''),
            ...(object.versionId === undefined ? {} : { versionId: object.versionId }),
            sequencer: Date.now().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
        ...(run === undefined ? {} : { trigger: { run } }),
      },
    ],
  };
}

/** One line for an outcome of import-start. */
export function describeOutcome(outcome: StartOutcome, object: ObjectVersion): string {
  const what = `s3://${object.bucket}/${object.key} (ETag ${object.etag})`;
  switch (outcome.status) {
    case 'started':
      return `import ${outcome.importId} started: ${what} in ${outcome.chunks} chunk(s), ${outcome.mode} map; execution ${outcome.executionArn}`;
    case 'duplicate':
      return `import ${outcome.importId} of ${what} already has execution ${outcome.executionArn}: nothing started (--force-new starts another)`;
    case 'refused':
      return `import ${outcome.importId} of ${what} was refused: ${outcome.reason}; report ${outcome.report}`;
    case 'ignored':
      return `${what} not imported: ${outcome.reason}`;
  }
}

/** The exit code of an outcome: a refusal is the import's failure (pre-flight: 5), an ignored object a usage error. */
function outcomeCode(outcome: StartOutcome): ExitCode {
  if (outcome.status === 'refused') {
    return outcome.reason.startsWith('PreflightRefusedError') ? ExitCode.PreflightRefused : ExitCode.Fatal;
  }
  return outcome.status === 'ignored' ? ExitCode.Usage : ExitCode.Ok;
}

/** Registers `trigger s3://bucket/key`: import-start for an existing object version, through Lambda Invoke. */
export function registerTrigger(program: Command): void {
  const command = program
    .command('trigger')
    .summary('import an S3 object again without re-uploading it (invokes import-start)')
    .description(
      'Invoke the import-start function (Lambda Invoke, RequestResponse) with the S3 ObjectCreated event of an ' +
        'existing object version, as the bucket notification would: it is checked, planned and loaded by the ' +
        'deployed state machine. The execution is named after bucket, key and ETag, so triggering the same ' +
        'version again starts nothing and names the existing execution; --force-new starts a new import of it ' +
        '(a new import id: every chunk loads again; writes are idempotent).',
    )
    .argument('<s3-uri>', 's3://bucket/key of the object to import')
    .option(
      '--version-id <id>',
      'the object version (it must be the current content: imports read the current object)',
    )
    .option('--force-new', 'start a new import even if this version was imported before', false)
    .option('--json', 'print the object and import-start outcome as JSON on stdout', false);
  addAwsOptions(command, ['import-start'])
    .addHelpText(
      'after',
      `
Exit codes: 0 started, or already imported (nothing started); 2 bad command line, a version that is not the
current one, or an object import-start ignores; 3 the object or version does not exist, AWS unreachable, or
import-start refused the object (its FAILED report says why); 5 refused by the memory pre-flight.

Examples:
  redis-bulk-loader trigger s3://my-bucket/incoming/users.csv --stage prod --region eu-west-1
  redis-bulk-loader trigger s3://demo/incoming/users.csv --force-new \\
    --lambda-endpoint http://127.0.0.1:9001 --s3-endpoint http://127.0.0.1:4568`,
    )
    .action(async (uri: string, flags: TriggerFlags) => {
      process.exitCode = await triggerAction(uri, flags);
    });
}

async function triggerAction(uri: string, flags: TriggerFlags): Promise<number> {
  let s3: S3Client | undefined;
  try {
    s3 = await s3ClientFor(flags);
    const object = await objectVersion(s3, uri, flags.versionId);
    const lambda = await lambdaClientFor(flags);
    const region = (await lambda.config.region()) || 'us-east-1';
    const run = flags.forceNew ? Date.now().toString(36) : undefined;
    const name = functionName(flags, 'import-start');
    const out = await invokeJson(lambda, name, s3CreatedEvent(object, region, run));
    lambda.destroy();
    if (!out.ok) {
      process.stderr.write(
        `redis-bulk-loader trigger: ${name} failed: ${out.error.name}: ${out.error.message}\n`,
      );
      return out.error.name === 'ConfigError' ? ExitCode.Usage : ExitCode.Fatal;
    }
    const outcome = (out.result as { outcomes?: StartOutcome[] } | null)?.outcomes?.[0];
    if (outcome === undefined) throw new Error(`${name} returned no outcome: ${JSON.stringify(out.result)}`);
    if (flags.json)
      process.stdout.write(`${JSON.stringify({ object, outcome } satisfies TriggerOutput, null, 2)}\n`);
    else process.stdout.write(`${describeOutcome(outcome, object)}\n`);
    return outcomeCode(outcome);
  } catch (err) {
    const e = commandError(err);
    process.stderr.write(`redis-bulk-loader trigger: ${e.message}\n`);
    return exitCodeFor(e);
  } finally {
    s3?.destroy();
  }
}
