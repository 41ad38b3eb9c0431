import { SFNClient } from '@aws-sdk/client-sfn';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { parseEnv, type StartEnv, startEnvSchema } from '../../shared/config/index.js';
import {
  type Clients,
  closeClients,
  createClients,
  type ExecutionStarter,
  loaderErrors,
  keepSettled,
  secretsRuntime,
  SfnExecutionStarter,
  type StartOutcome,
  startImport,
  validateEvent,
} from '../../shared/import/index.js';
import { createLogger, createMetrics } from '../../shared/telemetry/index.js';
import { requestsOf, type S3CreatedEvent, s3EventSchema } from './event.js';

const logger = createLogger('import-start');
const metrics = createMetrics();

/** Configuration and clients of one import-start process. */
export interface StartRuntime {
  readonly env: StartEnv;
  readonly clients: Clients;
  readonly starter: ExecutionStarter;
}

/** On Lambda: the environment parsed once per process, clients created once and reused while warm. */
const lambdaRuntime = secretsRuntime(
  async (source): Promise<StartRuntime> => {
    const env = parseEnv(startEnvSchema, source);
    return {
      env,
      clients: await createClients(env),
      starter: new SfnExecutionStarter(new SFNClient({}), env.STATE_MACHINE_ARN),
    };
  },
  { keep: keepSettled, dispose: (r) => closeClients(r.clients) },
);

/** The import-start handler over a runtime (the local runner passes its own). */
export function createStartHandler(runtime: () => StartRuntime | Promise<StartRuntime> = lambdaRuntime) {
  return middy(async (event: S3CreatedEvent): Promise<{ outcomes: StartOutcome[] }> => {
    const { env, clients, starter } = await runtime();
    const outcomes: StartOutcome[] = [];
    for (const request of requestsOf(event)) {
      const outcome = await startImport(request, {
        s3: clients.s3,
        targets: clients.targets,
        starter,
        settings: env,
        log: (line) => logger.info(line),
      });
      const metric = {
        started: 'ImportsStarted',
        duplicate: 'DuplicateEvents',
        refused: 'ImportsRefused',
        ignored: 'EventsIgnored',
      } as const;
      metrics.addMetric(metric[outcome.status], MetricUnit.Count, 1);
      outcomes.push(outcome);
    }
    return { outcomes };
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(validateEvent(s3EventSchema, 'S3 event'))
    .use(loaderErrors('import-start', logger, metrics));
}

/** S3 `ObjectCreated` (or EventBridge "Object Created") → plan → one state machine execution per object version. */
export const handler = createStartHandler();
