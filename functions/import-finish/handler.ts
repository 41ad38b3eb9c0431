import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type FinishEnv, finishEnvSchema, parseEnv } from '../../shared/config/index.js';
import {
  billPrice,
  type Clients,
  closeClients,
  createClients,
  type FinishInput,
  type FinishOutput,
  type ImportReport,
  finishImport,
  finishInputSchema,
  loaderErrors,
  finishOutput,
  keepSettled,
  secretsRuntime,
  validateEvent,
} from '../../shared/import/index.js';
import { renderReportHtml, type ReportTimeline } from '../../shared/report/index.js';
import { createLogger, createMetrics } from '../../shared/telemetry/index.js';

const logger = createLogger('import-finish');
const metrics = createMetrics();

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
  return middy(async (input: FinishInput, context: Context): Promise<FinishOutput> => {
    const { env, clients } = await runtime();
    logger.appendKeys({ importId: input.importId });
    const result = await finishImport(input, {
      s3: clients.s3,
      targets: clients.targets,
      reports: { bucket: env.REPORT_BUCKET, prefix: env.REPORT_PREFIX },
      markerPrefix: env.MARKER_PREFIX,
      log: (line) => logger.info(line),
      html: (report) => renderReportHtml(report, reportTimeline(report)),
      remainingMs: () => context.getRemainingTimeInMillis(),
      ...priceOf(env),
    });
    if (result.next === undefined) {
      const { report } = result;
      const metric = {
        SUCCEEDED: 'ImportsSucceeded',
        PARTIAL: 'ImportsPartial',
        FAILED: 'ImportsFailed',
      } as const;
      metrics.addMetric(metric[report.status], MetricUnit.Count, 1);
      metrics.addMetric('ImportRowsPerSecond', MetricUnit.CountPerSecond, report.rowsPerSecond);
    }
    return finishOutput(input.importId, result);
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(validateEvent(finishInputSchema, 'import-finish input'))
    .use(loaderErrors('import-finish', logger, metrics));
}

/** The price the report's bill uses, if any (`PRICE_PER_100K`, or Upstash's list price for an HTTP URL). */
function priceOf(env: FinishEnv): { pricePer100k?: number } {
  const price = billPrice(env.REDIS_URL, env.PRICE_PER_100K);
  return price === undefined ? {} : { pricePer100k: price };
}

/** What the JSON report already holds for the HTML one's timeline (per-chunk timing is drawn from `perChunk`). */
function reportTimeline(report: ImportReport): ReportTimeline {
  return {
    redirects: report.redirects,
    ...(report.commandsPer100Keys === null ? {} : { commandsPer100Keys: report.commandsPer100Keys }),
  };
}

/** End of every import: report to S3 (JSON and HTML), one-line summary to the log. */
export const handler = createFinishHandler();
