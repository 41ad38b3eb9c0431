import type { S3Client } from '@aws-sdk/client-s3';
import { resolveSecrets, secretsVersion } from '../config/index.js';
import { createS3Client } from '../records/index.js';
import {
  isProvisional,
  isRestUrl,
  openTargets,
  parseRedisUrl,
  parseRestUrl,
  type Target,
} from '../redis/index.js';

/** The settings every import function reads to reach Redis and S3. */
export interface ClientSettings {
  readonly REDIS_URL: readonly string[];
  /** @default 'auto': a Redis Cluster is detected from the server */
  readonly REDIS_CLUSTER?: boolean | 'auto' | undefined;
  readonly REDIS_USERNAME?: string | undefined;
  readonly REDIS_PASSWORD?: string | undefined;
  /** The token of an Upstash REST URL (`https://…` in `REDIS_URL`). */
  readonly UPSTASH_REDIS_REST_TOKEN?: string | undefined;
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
  // An empty password is no password (an unset variable in some deployment tools). An Upstash REST URL
  // authenticates with its token instead.
  if (password === undefined || password === '' || isRestUrl(url)) return url;
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
  for (const url of settings.REDIS_URL) {
    if (isRestUrl(url)) parseRestUrl(url);
    else parseRedisUrl(withCredentials(url, credentials));
  }
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
    {
      ...timeouts,
      cluster: settings.REDIS_CLUSTER ?? 'auto',
      ...(settings.UPSTASH_REDIS_REST_TOKEN ? { restToken: settings.UPSTASH_REDIS_REST_TOKEN } : {}),
      ...(options.lenient ? { lenient: true } : {}),
    },
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

/** Environment variables as a function process sees them. */
export type ProcessEnv = Readonly<Record<string, string | undefined>>;

/** Options of {@link secretsRuntime}. */
export interface SecretsRuntimeOptions<T> {
  /** As in {@link oncePerProcess}: a value it declines is used once and built again next time. */
  readonly keep?: (value: T) => boolean;
  /** Closes a runtime replaced after a secret rotation (its Redis connections, producers). */
  readonly dispose?: (value: T) => Promise<void>;
  /** @default () => process.env */
  readonly env?: () => ProcessEnv;
}

/**
 * {@link oncePerProcess} for a function whose credentials may come from Secrets Manager or SSM
 * (`REDIS_SECRET_ARN`, `UPSTASH_TOKEN_SECRET_ARN`, `KAFKA_SASL_SECRET_ARN`): `create` gets the environment
 * with those secrets filled in (`resolveSecrets`), and when a secret read again after its TTL
 * (`SECRETS_TTL_SECONDS`, 300) has a new value, the runtime is disposed of and built again with it, so a
 * rotated password reaches new connections without a cold start. While the cached secrets are fresh, a warm
 * invocation pays nothing for this.
 *
 * @example
 * const lambdaRuntime = secretsRuntime(async (env) => {
 *   const parsed = parseEnv(chunkEnvSchema, env);
 *   return { env: parsed, clients: await createClients(parsed) };
 * }, { keep: keepSettled, dispose: (r) => closeClients(r.clients) });
 */
export function secretsRuntime<T>(
  create: (env: Record<string, string | undefined>) => Promise<T>,
  options: SecretsRuntimeOptions<T> = {},
): () => Promise<T> {
  const { keep = () => true, dispose, env = () => process.env } = options;
  let built: { readonly version: string; readonly value: Promise<T> } | undefined;
  return async () => {
    const source = env();
    const version = await secretsVersion(source);
    if (built !== undefined && built.version !== version) {
      const stale = built.value;
      built = undefined;
      // Lambda runs one invocation at a time per process: nothing else uses the stale clients now.
      if (dispose) await stale.then(dispose, () => undefined).catch(() => undefined);
    }
    if (built === undefined) {
      const entry = { version, value: resolveSecrets(source).then(create) };
      built = entry;
      entry.value.then(
        (value) => {
          if (!keep(value) && built === entry) built = undefined;
        },
        () => {
          if (built === entry) built = undefined;
        },
      );
    }
    return built.value;
  };
}

/** Closes every Redis target of `clients` (a runtime replaced by {@link secretsRuntime}). */
export async function closeClients(clients: Clients): Promise<void> {
  await Promise.allSettled(clients.targets.map((t) => t.close()));
}
