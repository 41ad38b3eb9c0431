import type { Context } from 'aws-lambda';
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
    return loadChunk(task, {
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
    });
  })
    .use(validateEvent(chunkTaskSchema, 'import-chunk task'))
    .use(loaderErrors('import-chunk'));
}

/** One chunk of an import: ranged GET pinned to the ETag → Redis; returns the Map item's next state. */
export const handler = createChunkHandler();
