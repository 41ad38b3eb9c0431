import middy from '@middy/core';
import { type FinishEnv, finishEnvSchema, parseEnv } from '../../shared/config/index.js';
import {
  billPrice,
  type Clients,
  createClients,
  type FinishInput,
  type FinishOutput,
  finishImport,
  finishInputSchema,
  loaderErrors,
  finishOutput,
  keepSettled,
  oncePerProcess,
  validateEvent,
} from '../../shared/import/index.js';

/** Configuration and clients of one import-finish process. */
export interface FinishRuntime {
  readonly env: FinishEnv;
  readonly clients: Clients;
}

const lambdaRuntime = oncePerProcess(async (): Promise<FinishRuntime> => {
  const env = parseEnv(finishEnvSchema, process.env);
  return { env, clients: await createClients(env) };
}, keepSettled);

/** The import-finish handler over a runtime (the local runner passes its own). */
export function createFinishHandler(runtime: () => FinishRuntime | Promise<FinishRuntime> = lambdaRuntime) {
  return middy(async (input: FinishInput): Promise<FinishOutput> => {
    const { env, clients } = await runtime();
    const result = await finishImport(input, {
      s3: clients.s3,
      targets: clients.targets,
      reports: { bucket: env.REPORT_BUCKET, prefix: env.REPORT_PREFIX },
      markerPrefix: env.MARKER_PREFIX,
      ...priceOf(env),
    });
    return finishOutput(input.importId, result);
  })
    .use(validateEvent(finishInputSchema, 'import-finish input'))
    .use(loaderErrors('import-finish'));
}

/** The price the report's bill uses, if any (`PRICE_PER_100K`, or Upstash's list price for an HTTP URL). */
function priceOf(env: FinishEnv): { pricePer100k?: number } {
  const price = billPrice(env.REDIS_URL, env.PRICE_PER_100K);
  return price === undefined ? {} : { pricePer100k: price };
}

/** End of every import: report to S3, one-line summary to the log. */
export const handler = createFinishHandler();
