import middy from '@middy/core';
import { type FinishEnv, finishEnvSchema, parseEnv } from '../../shared/config/index.js';
import {
  type Clients,
  closeClients,
  createClients,
  type FinishInput,
  type FinishOutput,
  finishImport,
  finishInputSchema,
  loaderErrors,
  finishOutput,
  keepSettled,
  secretsRuntime,
  validateEvent,
} from '../../shared/import/index.js';

/** Configuration and clients of one import-finish process. */
export interface FinishRuntime {
  readonly env: FinishEnv;
  readonly clients: Clients;
}

const lambdaRuntime = secretsRuntime(
  async (source): Promise<FinishRuntime> => {
    const env = parseEnv(finishEnvSchema, source);
    return { env, clients: await createClients(env) };
  },
  { keep: keepSettled, dispose: (r) => closeClients(r.clients) },
);

/** The import-finish handler over a runtime (the local runner passes its own). */
export function createFinishHandler(runtime: () => FinishRuntime | Promise<FinishRuntime> = lambdaRuntime) {
  return middy(async (input: FinishInput): Promise<FinishOutput> => {
    const { env, clients } = await runtime();
    const result = await finishImport(input, {
      s3: clients.s3,
      targets: clients.targets,
      reports: { bucket: env.REPORT_BUCKET, prefix: env.REPORT_PREFIX },
      markerPrefix: env.MARKER_PREFIX,
    });
    return finishOutput(input.importId, result);
  })
    .use(validateEvent(finishInputSchema, 'import-finish input'))
    .use(loaderErrors('import-finish'));
}

/** End of every import: report to S3, one-line summary to the log. */
export const handler = createFinishHandler();
