import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../records/index.js';
import { isProvisional, openTargets, parseRedisUrl, type Target } from '../redis/index.js';

/** The settings every import function reads to reach Redis and S3. */
export interface ClientSettings {
  readonly REDIS_URL: readonly string[];
  /** @default 'auto': a Redis Cluster is detected from the server */
  readonly REDIS_CLUSTER?: boolean | 'auto' | undefined;
  readonly REDIS_USERNAME?: string | undefined;
  readonly REDIS_PASSWORD?: string | undefined;
  readonly S3_ENDPOINT?: string | undefined;
  /** @default 5000 in the functions' environment */
  readonly REDIS_CONNECT_TIMEOUT_MS?: number | undefined;
  /** @default 10000 in the functions' environment */
  readonly REDIS_COMMAND_TIMEOUT_MS?: number | undefined;
}

/** A user name and password for Redis URLs that carry none (`REDIS_USERNAME` / `REDIS_PASSWORD`). */
export interface RedisCredentials {
  /** ACL user; without one the password is for the `default` user. */
  readonly username?: string | undefined;
  /** Never logged: URLs are shown through their redacted `name`. */
  readonly password?: string | undefined;
}

/**
 * The URL with `credentials` filled in, when it carries no password of its own (a password in the URL wins).
 * Without a password in `credentials` the URL is returned as it is. The URL is checked first
 * (`parseRedisUrl`), so a malformed one is a `ConfigError` whose message shows it redacted; the
 * password given here appears in no message either.
 *
 * @example
 * withCredentials('redis://cache:6379', { username: 'loader', password: 'p@ss' });
 * // 'redis://loader:p%40ss@cache:6379'
 */
export function withCredentials(url: string, credentials?: RedisCredentials): string {
  const password = credentials?.password;
  // An empty password is no password (an unset variable in some deployment tools).
  if (password === undefined || password === '') return url;
  if (parseRedisUrl(url).password !== undefined) return url;
  // Only reached for a URL parseRedisUrl accepted: `new URL` cannot throw (and echo the URL) here.
  const u = new URL(url);
  u.username = encodeURIComponent(credentials?.username ?? '');
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** Clients of one function process, created on first use and reused by every warm invocation. */
export interface Clients {
  readonly s3: S3Client;
  readonly targets: readonly Target[];
  /**
   * False when a Redis URL could not be asked whether it is a cluster node (down, or wrong credentials): the
   * function reports that error as usual, and its next invocation opens the clients again.
   */
  readonly settled?: boolean;
}

/**
 * Creates the clients for `settings`: the S3 client given (the local stack's), or one made (the S3 SDK is
 * loaded on first use), and each Redis URL asked once whether it is a cluster node ({@link createTargets}).
 * Connections survive between invocations.
 *
 * @example
 * const { s3, targets } = await createClients({ REDIS_URL: ['redis://localhost:6379'] });
 */
export async function createClients(settings: ClientSettings, s3?: S3Client): Promise<Clients> {
  const targets = await createTargets(settings, { lenient: true });
  return {
    s3:
      s3 ??
      (await createS3Client(settings.S3_ENDPOINT === undefined ? {} : { endpoint: settings.S3_ENDPOINT })),
    targets,
    settled: !targets.some(isProvisional),
  };
}

/**
 * Checks every `REDIS_URL` entry with the credentials of `settings`, without connecting: a malformed URL is a
 * `ConfigError` that shows it redacted. For cold starts that open Redis later.
 */
export function checkRedisUrls(settings: ClientSettings): void {
  const credentials = { username: settings.REDIS_USERNAME, password: settings.REDIS_PASSWORD };
  for (const url of settings.REDIS_URL) parseRedisUrl(withCredentials(url, credentials));
}

/**
 * One target per `REDIS_URL` entry, with the credentials and timeouts of `settings`: a standalone server, or
 * a Redis Cluster found from its node (`REDIS_CLUSTER`, auto-detected by default with one `INFO cluster`).
 * An unreachable server fails this call with a `RetryableError`.
 */
export async function createTargets(
  settings: ClientSettings,
  options: { lenient?: boolean } = {},
): Promise<Target[]> {
  const credentials = { username: settings.REDIS_USERNAME, password: settings.REDIS_PASSWORD };
  const timeouts = {
    ...(settings.REDIS_CONNECT_TIMEOUT_MS === undefined
      ? {}
      : { connectTimeoutMs: settings.REDIS_CONNECT_TIMEOUT_MS }),
    ...(settings.REDIS_COMMAND_TIMEOUT_MS === undefined
      ? {}
      : { commandTimeoutMs: settings.REDIS_COMMAND_TIMEOUT_MS }),
  };
  return openTargets(
    settings.REDIS_URL.map((url) => withCredentials(url, credentials)),
    { ...timeouts, cluster: settings.REDIS_CLUSTER ?? 'auto', ...(options.lenient ? { lenient: true } : {}) },
  );
}

/**
 * Runs `create` on the first call and hands its promise to every later call (concurrent ones included), so a
 * function process builds its configuration and clients once and reuses them while warm. A rejection is not
 * kept: the next invocation tries again, as a fresh cold start would; nor is a value `keep` declines (clients
 * opened while Redis could not be reached: see {@link Clients.settled}).
 *
 * @example
 * const lambdaRuntime = oncePerProcess(async () => {
 *   const env = parseEnv(chunkEnvSchema, process.env);
 *   return { env, clients: await createClients(env) };
 * });
 */
export function oncePerProcess<T>(
  create: () => Promise<T>,
  keep: (value: T) => boolean = () => true,
): () => Promise<T> {
  let created: Promise<T> | undefined;
  return () => {
    created ??= create().then(
      (value) => {
        // Used by this invocation, but built again by the next one (clients opened while Redis was down).
        if (!keep(value)) created = undefined;
        return value;
      },
      (err: unknown) => {
        created = undefined;
        throw err;
      },
    );
    return created;
  };
}

/** The `keep` of {@link oncePerProcess} for a function runtime: its clients are kept once settled. */
export const keepSettled = (runtime: { readonly clients: Clients }): boolean =>
  runtime.clients.settled !== false;
