import type { Context } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type ChunkEnv, chunkEnvSchema, parseEnv } from '../../shared/config/index.js';
import {
  type ChunkState,
  type ChunkTask,
  chunkTaskSchema,
  type Clients,
  closeClients,
  createClients,
  loadChunk,
  loaderErrors,
  keepSettled,
  secretsRuntime,
  validateEvent,
} from '../../shared/import/index.js';
import { createLogger, createMetrics } from '../../shared/telemetry/index.js';

const logger = createLogger('import-chunk');
const metrics = createMetrics();

/** Configuration and clients of one import-chunk process. */
export interface ChunkRuntime {
  readonly env: ChunkEnv;
  readonly clients: Clients;
}

const lambdaRuntime = secretsRuntime(
  async (source): Promise<ChunkRuntime> => {
    const env = parseEnv(chunkEnvSchema, source);
    return { env, clients: await createClients(env) };
  },
  { keep: keepSettled, dispose: (r) => closeClients(r.clients) },
);

/** The import-chunk handler over a runtime (the local runner passes its own). */
export function createChunkHandler(runtime: () => ChunkRuntime | Promise<ChunkRuntime> = lambdaRuntime) {
  return middy(async (task: ChunkTask, context: Context): Promise<ChunkState> => {
    const { env, clients } = await runtime();
    logger.appendKeys({
      importId: task.state.importId,
      chunk: task.state.chunk.index,
      attempt: task.attempt,
    });
    const state = await loadChunk(task, {
      s3: clients.s3,
      targets: clients.targets,
      rejects: {
        bucket: env.REPORT_BUCKET,
        prefix: env.REJECTS_PREFIX,
        bufferBytes: env.REJECTS_BUFFER_BYTES,
      },
      markerPrefix: env.MARKER_PREFIX,
      markerTtlSeconds: env.MARKER_TTL_SECONDS,
      remainingMs: () => context.getRemainingTimeInMillis(),
      marginMs: env.TIMEOUT_MARGIN_MS,
      temp: { ...(env.TEMP_DIR === undefined ? {} : { dir: env.TEMP_DIR }), exclusive: env.EXCLUSIVE_TEMP },
    });
    const progress = state.progress;
    if (progress) {
      const s = progress.stats;
      logger.info(`chunk ${s.index} ${progress.status}`, {
        status: progress.status,
        read: s.read,
        written: s.written,
        rejected: s.rejected,
        retries: s.retries,
        invocations: s.invocations,
        ...(progress.resume ? { resume: progress.resume } : {}),
      });
      metrics.addMetric('ChunkInvocations', MetricUnit.Count, 1);
      if (progress.status !== 'continue') {
        metrics.addMetric('RecordsWritten', MetricUnit.Count, s.written);
        metrics.addMetric('RecordsRejected', MetricUnit.Count, s.rejected);
        metrics.addMetric('PipelineRetries', MetricUnit.Count, s.retries);
      }
    }
    return state;
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(validateEvent(chunkTaskSchema, 'import-chunk task'))
    .use(loaderErrors('import-chunk', logger, metrics));
}

/** One chunk of an import: ranged GET pinned to the ETag → Redis; returns the Map item's next state. */
export const handler = createChunkHandler();
