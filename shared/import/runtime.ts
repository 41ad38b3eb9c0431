import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../records/index.js';
import { parseRedisUrl, TcpTarget } from '../redis/index.js';

/** The settings every import function reads to reach Redis and S3. */
export interface ClientSettings {
  readonly REDIS_URL: readonly string[];
  readonly REDIS_USERNAME?: string | undefined;
  readonly REDIS_PASSWORD?: string | undefined;
  readonly S3_ENDPOINT?: string | undefined;
}

/** A URL with `REDIS_USERNAME`/`REDIS_PASSWORD` filled in when it carries no password of its own. */
export function withPassword(url: string, username?: string, password?: string): string {
  if (password === undefined) return url;
  const parsed = parseRedisUrl(url);
  if (parsed.password !== undefined) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(username ?? parsed.username ?? '');
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** Clients of one function process, created on first use and reused by every warm invocation. */
export interface Clients {
  readonly s3: S3Client;
  readonly targets: readonly TcpTarget[];
}

/**
 * Creates the clients for `settings` (asynchronous because the S3 SDK is loaded on first use). Connections
 * open lazily on first use (a {@link TcpTarget} connects on its first command) and survive between
 * invocations.
 *
 * @example
 * const { s3, targets } = await createClients({ REDIS_URL: ['redis://localhost:6379'] });
 */
export async function createClients(settings: ClientSettings): Promise<Clients> {
  return {
    s3: await createS3Client(settings.S3_ENDPOINT === undefined ? {} : { endpoint: settings.S3_ENDPOINT }),
    targets: settings.REDIS_URL.map(
      (url) => new TcpTarget(withPassword(url, settings.REDIS_USERNAME, settings.REDIS_PASSWORD)),
    ),
  };
}

/**
 * Runs `create` on the first call and hands its promise to every later call (concurrent ones included), so a
 * function process builds its configuration and clients once and reuses them while warm. A rejection is not
 * kept: the next invocation tries again, as a fresh cold start would.
 *
 * @example
 * const lambdaRuntime = oncePerProcess(async () => {
 *   const env = parseEnv(chunkEnvSchema, process.env);
 *   return { env, clients: await createClients(env) };
 * });
 */
export function oncePerProcess<T>(create: () => Promise<T>): () => Promise<T> {
  let created: Promise<T> | undefined;
  return () => {
    created ??= create().catch((err: unknown) => {
      created = undefined;
      throw err;
    });
    return created;
  };
}
