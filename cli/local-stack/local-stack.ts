import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import type { StateMachine as LocalStateMachine } from 'aws-local-stepfunctions';
import { createChunkHandler } from '../../functions/import-chunk/handler.js';
import { createFinishHandler } from '../../functions/import-finish/handler.js';
import { createStartHandler } from '../../functions/import-start/handler.js';
import {
  chunkEnvSchema,
  finishEnvSchema,
  type ImportSpecInput,
  parseEnv,
  startEnvSchema,
} from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors/index.js';
import {
  type ChunkState,
  type ChunkTask,
  type ClientSettings,
  type Clients,
  createClients,
  keepSettled,
  oncePerProcess,
  type ExecutionStarter,
  type ImportPlan,
  type ImportReport,
  type StartOutcome,
} from '../../shared/import/index.js';
import { createS3Client } from '../../shared/records/index.js';
import {
  type LambdaEndpoint,
  lambdaContext,
  type LocalFunction,
  startLambdaEndpoint,
} from './lambda-endpoint.js';
import { LOCAL_S3_CREDENTIALS } from './local-s3.js';
import { type LocalExecutionInfo, type SfnEndpoint, startSfnEndpoint } from './sfn-endpoint.js';
import { bindTasks, type FunctionName, readImportDefinition } from './state-machine.js';
import { installWithResolvers } from './with-resolvers.js';

/** Settings of a {@link LocalImportStack}: the same environment variables the Lambda functions read. */
export interface LocalStackOptions {
  /** One URL per shard. */
  readonly redisUrls: readonly string[];
  readonly redisPassword?: string;
  /** The s3rver (or other S3-compatible) endpoint. */
  readonly s3Endpoint: string;
  /** Bucket for reports, rejects and plans. */
  readonly reportBucket: string;
  /** `ALLOWED_SOURCES`. @default the report bucket, any key */
  readonly allowedSources?: string;
  /** @default 64 MiB */
  readonly chunkBytes?: number;
  /** @default 4 */
  readonly maxConcurrency?: number;
  readonly maxObjectBytes?: number;
  readonly defaultSpec?: Partial<ImportSpecInput>;
  /** The Lambda timeout import-chunk runs under (its `getRemainingTimeInMillis`). @default 900000 */
  readonly chunkTimeoutMs?: number;
  /** Extra environment per function (e.g. a wrong `REDIS_PASSWORD` for import-chunk only). */
  readonly env?: Partial<Record<FunctionName, Record<string, string>>>;
  /** Replaces the pauses of the ASL's Retry policies (milliseconds), e.g. to keep tests short. */
  readonly retryDelayMs?: number;
  /**
   * Replaces the `TimeoutSeconds` of the import-chunk Task states: an invocation running longer fails with
   * `States.Timeout` (and is retried), as Step Functions does when a Lambda outlives its task timeout.
   */
  readonly chunkTaskTimeoutSeconds?: number;
  /** Told about every chunk invocation that returned; the Map waits for a returned promise. */
  readonly onChunk?: (state: ChunkState) => void | Promise<void>;
}

/** One execution of the state machine, as the local stack runs it. */
export interface LocalExecution {
  readonly name: string;
  readonly plan: ImportPlan;
  /** Resolves with import-finish's output; rejects when the execution fails. */
  readonly result: Promise<unknown>;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:redis-bulk-loader-import';

/**
 * The import pipeline in one process: the three Lambda handlers (the real ones, configured through their
 * environment schemas) and the real ASL file run by aws-local-stepfunctions, against a local Redis and S3.
 *
 * - {@link deliver} hands an S3 event to import-start, which starts executions through this stack;
 * - each execution runs `infra/import.asl.json` with its Task states bound to the handlers in-process;
 *   `$$.State.RetryCount`, which aws-local-stepfunctions does not provide, is counted here per chunk;
 * - import-finish waits for chunk invocations still running after a Map failed (as their Lambdas would
 *   finish on AWS), so the report sees every completion marker.
 *
 * @example
 * const stack = await LocalImportStack.create({ redisUrls: [redis.url], s3Endpoint, reportBucket: 'data' });
 * const [outcome] = await stack.deliver(s3Event);
 * await stack.execution(outcome.importId)!.result;
 * const report = await stack.report(outcome.importId);
 */
export class LocalImportStack {
  private readonly executions = new Map<string, LocalExecution>();
  private readonly attempts = new Map<string, number>();
  private readonly running = new Map<string, Set<Promise<unknown>>>();
  /** Imports whose Map has failed: Step Functions starts no further iterations of them. */
  private readonly failedMaps = new Set<string>();
  private readonly calls: Record<FunctionName, number> = {
    'import-start': 0,
    'import-chunk': 0,
    'import-finish': 0,
  };
  private readonly clients: Clients[] = [];
  private readonly endpoints: (LambdaEndpoint | SfnEndpoint)[] = [];
  private readonly outcomes = new Map<
    string,
    Pick<LocalExecutionInfo, 'status' | 'startDate' | 'stopDate'>
  >();
  private readonly startHandler: Handler;
  private readonly chunkHandler: Handler;
  private readonly finishHandler: Handler;

  private constructor(
    private readonly options: LocalStackOptions,
    private readonly machine: LocalStateMachine,
    private readonly tasks: Readonly<Record<string, FunctionName>>,
    s3: Readonly<Record<FunctionName, S3Client>>,
  ) {
    const base: Record<string, string> = {
      REDIS_URL: options.redisUrls.join(','),
      ...(options.redisPassword === undefined ? {} : { REDIS_PASSWORD: options.redisPassword }),
      REPORT_BUCKET: options.reportBucket,
      S3_ENDPOINT: options.s3Endpoint,
    };
    const startEnv = parseEnv(startEnvSchema, {
      ...base,
      STATE_MACHINE_ARN,
      ALLOWED_SOURCES: options.allowedSources ?? `${options.reportBucket}/`,
      MAX_CONCURRENCY: String(options.maxConcurrency ?? 4),
      ...(options.chunkBytes === undefined ? {} : { CHUNK_BYTES: String(options.chunkBytes) }),
      ...(options.maxObjectBytes === undefined ? {} : { MAX_OBJECT_BYTES: String(options.maxObjectBytes) }),
      ...(options.defaultSpec === undefined ? {} : { DEFAULT_SPEC: JSON.stringify(options.defaultSpec) }),
      ...options.env?.['import-start'],
    });
    const chunkEnv = parseEnv(chunkEnvSchema, { ...base, ...options.env?.['import-chunk'] });
    const finishEnv = parseEnv(finishEnvSchema, { ...base, ...options.env?.['import-finish'] });
    const starter: ExecutionStarter = {
      find: (name) => Promise.resolve(this.executions.has(name) ? this.arn(name) : undefined),
      start: (name, plan) => Promise.resolve(this.startExecution(name, plan)),
    };
    // Each function opens its clients on its first invocation, as a Lambda cold start does.
    const startRuntime = oncePerProcess(
      async () => ({
        env: startEnv,
        clients: await this.clientsFor(startEnv, s3['import-start']),
        starter,
      }),
      keepSettled,
    );
    const chunkRuntime = oncePerProcess(
      async () => ({
        env: chunkEnv,
        clients: await this.clientsFor(chunkEnv, s3['import-chunk']),
      }),
      keepSettled,
    );
    const finishRuntime = oncePerProcess(
      async () => ({
        env: finishEnv,
        clients: await this.clientsFor(finishEnv, s3['import-finish']),
      }),
      keepSettled,
    );
    this.startHandler = createStartHandler(startRuntime) as Handler;
    this.chunkHandler = createChunkHandler(chunkRuntime) as Handler;
    this.finishHandler = createFinishHandler(finishRuntime) as Handler;
  }

  /** Loads the ASL file, binds its tasks and configures the handlers. */
  static async create(options: LocalStackOptions): Promise<LocalImportStack> {
    installWithResolvers();
    let StateMachine: typeof LocalStateMachine;
    try {
      ({ StateMachine } = await import('aws-local-stepfunctions'));
    } catch (err) {
      throw new ConfigError('aws-local-stepfunctions is not installed: run `npm ci` in a checkout', {
        cause: err,
      });
    }
    const { definition, tasks } = bindTasks(await readImportDefinition());
    if (options.chunkTaskTimeoutSeconds !== undefined) {
      setTaskTimeout(definition, tasks, 'import-chunk', options.chunkTaskTimeoutSeconds);
    }
    const machine = new StateMachine(definition as never);
    // One S3 client per function, as each Lambda function runs in its own process.
    const s3 = () => createS3Client({ endpoint: options.s3Endpoint, credentials: LOCAL_S3_CREDENTIALS });
    return new LocalImportStack(options, machine, tasks, {
      'import-start': await s3(),
      'import-chunk': await s3(),
      'import-finish': await s3(),
    });
  }

  /** Hands an S3 event to import-start, as the bucket notification would. */
  async deliver(event: unknown): Promise<StartOutcome[]> {
    const reply = (await this.startHandler(event, lambdaContext('import-start', 900_000))) as {
      outcomes: StartOutcome[];
    };
    return reply.outcomes;
  }

  /**
   * Runs one function in-process with a fresh Lambda context, as a Lambda `Invoke` would (not as a state
   * machine task: no retry count is kept). import-chunk calls are counted and told to `onChunk` too.
   */
  async handle(fn: FunctionName, event: unknown): Promise<unknown> {
    this.calls[fn]++;
    if (fn === 'import-start') return this.startHandler(event, lambdaContext(fn, 900_000));
    if (fn === 'import-finish') return this.finishHandler(event, lambdaContext(fn, 300_000));
    const next = (await this.chunkHandler(
      event,
      lambdaContext(fn, this.options.chunkTimeoutMs ?? 900_000),
    )) as ChunkState;
    await this.options.onChunk?.(next);
    return next;
  }

  /**
   * Serves the three functions over the Lambda `Invoke` API (see {@link startLambdaEndpoint}), under their
   * deployed names (`<service>-<stage>-<function>`, serverless.yml's naming) and their short names, so the
   * CLI's `trigger` and `redrive` run against this stack with `--lambda-endpoint <url>`. Stopped by close().
   */
  async serveLambda(naming: { service: string; stage: string }): Promise<LambdaEndpoint> {
    const functions: Record<string, LocalFunction> = {};
    for (const fn of ['import-start', 'import-chunk', 'import-finish'] as const) {
      const run: LocalFunction = (event) => this.handle(fn, event);
      functions[fn] = run;
      functions[`${naming.service}-${naming.stage}-${fn}`] = run;
    }
    const endpoint = await startLambdaEndpoint({ functions });
    this.endpoints.push(endpoint);
    return endpoint;
  }

  /** The ARN of the state machine this stack runs (import-start's `STATE_MACHINE_ARN`). */
  get stateMachineArn(): string {
    return STATE_MACHINE_ARN;
  }

  /**
   * Serves `DescribeExecution` and `RedriveExecution` for this stack's executions over the Step Functions API
   * (see {@link startSfnEndpoint}): executions say they cannot be redriven, as aws-local-stepfunctions cannot.
   * Stopped by close().
   */
  async serveStepFunctions(): Promise<SfnEndpoint> {
    const endpoint = await startSfnEndpoint({
      stateMachineArn: STATE_MACHINE_ARN,
      execution: (name) => {
        const execution = this.executions.get(name);
        const outcome = this.outcomes.get(name);
        return execution && outcome ? { name, input: execution.plan, ...outcome } : undefined;
      },
    });
    this.endpoints.push(endpoint);
    return endpoint;
  }

  /** The execution of an import, once import-start has started it. */
  execution(importId: string): LocalExecution | undefined {
    return this.executions.get(importId);
  }

  /** Every execution started so far. */
  get started(): readonly LocalExecution[] {
    return [...this.executions.values()];
  }

  /** How many times each function was invoked by the state machine (retries included). */
  get invocations(): Readonly<Record<FunctionName, number>> {
    return { ...this.calls };
  }

  /** Reads `reports/<importId>.json` from the report bucket. */
  async report(importId: string, prefix = 'reports/'): Promise<ImportReport> {
    const s3 = this.clients[0]!.s3;
    const reply = await s3.send(
      new GetObjectCommand({ Bucket: this.options.reportBucket, Key: `${prefix}${importId}.json` }),
    );
    return JSON.parse((await reply.Body?.transformToString('utf8')) ?? 'null') as ImportReport;
  }

  /** The HTML report import-finish wrote beside the JSON one (`reports/<importId>.html`). */
  async reportHtml(importId: string, prefix = 'reports/'): Promise<string> {
    const s3 = this.clients[0]!.s3;
    const reply = await s3.send(
      new GetObjectCommand({ Bucket: this.options.reportBucket, Key: `${prefix}${importId}.html` }),
    );
    return (await reply.Body?.transformToString('utf8')) ?? '';
  }

  /** Waits for running executions and chunk invocations, and closes every client. */
  async close(): Promise<void> {
    await Promise.allSettled(this.endpoints.splice(0).map((e) => e.stop()));
    await Promise.allSettled([...this.executions.values()].map((e) => e.result));
    await Promise.allSettled([...this.running.values()].flatMap((set) => [...set]));
    await Promise.allSettled(this.clients.flatMap((c) => c.targets.map((t) => t.close())));
    for (const c of this.clients) c.s3.destroy();
  }

  private arn(name: string): string {
    return `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  private async clientsFor(env: ClientSettings, s3: S3Client): Promise<Clients> {
    const clients = await createClients(env, s3);
    this.clients.push(clients);
    return clients;
  }

  private startExecution(name: string, plan: ImportPlan): { started: boolean; executionArn: string } {
    if (this.executions.has(name)) return { started: false, executionArn: this.arn(name) };
    type Json = Parameters<typeof this.machine.run>[0];
    const handlers: Record<string, (input: Json) => Promise<Json>> = {};
    for (const [state, fn] of Object.entries(this.tasks)) {
      handlers[state] = async (input) => (await this.invoke(fn, input)) as Json;
    }
    const run = this.machine.run(plan as unknown as Json, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        ...(this.options.retryDelayMs === undefined
          ? {}
          : {
              retryIntervalOverrides: Object.fromEntries(
                Object.keys(this.tasks).map((s) => [s, this.options.retryDelayMs!]),
              ),
            }),
      },
      // The ASL passes $$.State.RetryCount to import-chunk; invoke() puts the real count in.
      context: { State: { RetryCount: 0 } },
    });
    this.executions.set(name, { name, plan, result: run.result });
    const startDate = new Date();
    this.outcomes.set(name, { status: 'RUNNING', startDate });
    run.result.then(
      () => this.outcomes.set(name, { status: 'SUCCEEDED', startDate, stopDate: new Date() }),
      () => this.outcomes.set(name, { status: 'FAILED', startDate, stopDate: new Date() }),
    );
    return { started: true, executionArn: this.arn(name) };
  }

  private async invoke(fn: FunctionName, input: unknown): Promise<unknown> {
    if (fn === 'import-chunk') {
      const task = input as ChunkTask;
      const { state } = task;
      if (this.failedMaps.has(state.importId)) {
        // aws-local-stepfunctions keeps starting queued Map items after one failed; Step Functions does not.
        throw Object.assign(new Error('the Map state failed: no further iterations start'), {
          name: 'States.Runtime',
        });
      }
      const key = `${state.importId}#${state.chunk.index}#${state.progress?.resume?.offset ?? state.chunk.start}`;
      this.calls[fn]++;
      const attempt = this.attempts.get(key) ?? 0;
      this.attempts.set(key, attempt + 1);
      const running = this.running.get(state.importId) ?? new Set();
      this.running.set(state.importId, running);
      const call = this.chunkHandler(
        { ...task, attempt },
        lambdaContext('import-chunk', this.options.chunkTimeoutMs ?? 900_000),
      );
      running.add(call);
      try {
        const next = (await call) as ChunkState;
        if (next.progress?.status === 'failed') this.failedMaps.add(state.importId);
        await this.options.onChunk?.(next);
        return next;
      } catch (err) {
        if ((err as { retryable?: unknown }).retryable !== true) this.failedMaps.add(state.importId);
        throw err;
      } finally {
        running.delete(call);
      }
    }
    if (fn === 'import-finish') {
      const importId = (input as { importId: string }).importId;
      // Chunk invocations outlive a failed Map (on AWS their Lambdas run to the end): wait for them.
      await Promise.allSettled([...(this.running.get(importId) ?? [])]);
      this.calls[fn]++;
      return this.finishHandler(input, lambdaContext('import-finish', 300_000));
    }
    this.calls[fn]++;
    return this.startHandler(input, lambdaContext(fn, 900_000));
  }
}

/** Sets `TimeoutSeconds` on every Task state bound to `fn`, at any depth of the definition. */
function setTaskTimeout(
  definition: Record<string, unknown>,
  tasks: Readonly<Record<string, FunctionName>>,
  fn: FunctionName,
  seconds: number,
): void {
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const states = (node as { States?: Record<string, Record<string, unknown>> }).States;
    for (const [name, state] of Object.entries(states ?? {})) {
      if (state.Type === 'Task' && tasks[name] === fn) state.TimeoutSeconds = seconds;
      visit(state.ItemProcessor);
      visit(state.Iterator);
    }
  };
  visit(definition);
}
