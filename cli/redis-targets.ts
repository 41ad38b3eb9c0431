import type tls from 'node:tls';
import type { Command } from 'commander';
import { AuthError, classifyError, ConfigError, FatalError } from '../shared/errors/index.js';
import { type RedisCredentials, withCredentials } from '../shared/import/index.js';
import { openTargets, type Target } from '../shared/redis/index.js';

/** The flag of the commands that connect to Redis: `--cluster` / `--no-cluster` (absent: detected). */
export interface ClusterFlags {
  cluster?: boolean;
}

/** Help text shared by the commands that take `--cluster`. */
export const CLUSTER_HELP = `
Redis Cluster: give any one node as --redis; the loader asks it (INFO cluster), reads the slot map
(CLUSTER SHARDS) and sends each key to the master that owns its slot, following MOVED and ASK while slots
move. --cluster skips the question, --no-cluster treats the URL as a standalone server (env REDIS_CLUSTER:
auto, true or false).`;

/** Adds `--cluster` and `--no-cluster` to a command. */
export function addClusterOption(command: Command): Command {
  return command
    .option('--cluster', 'the --redis URL is a node of a Redis Cluster (default: asked of the server)')
    .option('--no-cluster', 'the --redis URL is a standalone server, even if it says it is a cluster node');
}

/** `--cluster`/`--no-cluster`, else `REDIS_CLUSTER` (auto, true, false), else auto. */
export function clusterMode(flags: ClusterFlags, env: NodeJS.ProcessEnv = process.env): boolean | 'auto' {
  if (flags.cluster !== undefined) return flags.cluster;
  const value = env.REDIS_CLUSTER?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigError(`REDIS_CLUSTER must be auto, true or false, got '${env.REDIS_CLUSTER}'`);
}

/** Options of {@link openCliTargets}. */
export interface CliTargetOptions {
  readonly credentials?: RedisCredentials;
  readonly tls?: tls.ConnectionOptions | undefined;
  readonly cluster?: boolean | 'auto';
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** A server that cannot be reached is still returned (the probe reports it), instead of an error. */
  readonly lenient?: boolean;
  /** The largest HTTP request to an Upstash REST URL (`--max-request-bytes`). @default 10 MiB */
  readonly maxRequestBytes?: number;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Opens the `--redis` URLs (standalone servers, or a cluster found from one node), failing in one line that
 * says what to check: the credentials for an auth error, `--redis` for a server that cannot be reached.
 */
export async function openCliTargets(
  urls: readonly string[],
  options: CliTargetOptions = {},
): Promise<Target[]> {
  try {
    return await openTargets(
      urls.map((url) => withCredentials(url, options.credentials)),
      {
        cluster: options.cluster ?? 'auto',
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
        ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }),
        ...(options.lenient ? { lenient: true } : {}),
        ...restOptions(options),
      },
    );
  } catch (err) {
    throw explainRedisError(err);
  }
}

/** The Upstash token (only ever from the environment: a flag would show it in `ps`) and request limit. */
function restOptions(options: CliTargetOptions): { restToken?: string; rest?: { maxRequestBytes: number } } {
  const token = (options.env ?? process.env).UPSTASH_REDIS_REST_TOKEN;
  return {
    ...(token ? { restToken: token } : {}),
    ...(options.maxRequestBytes === undefined ? {} : { rest: { maxRequestBytes: options.maxRequestBytes } }),
  };
}

/** The default of `--redis`: `REDIS_URL`, else Upstash's `UPSTASH_REDIS_REST_URL`, else the local server. */
export function defaultRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL || env.UPSTASH_REDIS_REST_URL || 'redis://127.0.0.1:6379';
}

/** Help text of `--redis` for the commands that write or read. */
export const REDIS_URL_HELP =
  'comma-separated redis:// or rediss:// URLs, one per shard, or one Upstash REST https:// URL with its token in UPSTASH_REDIS_REST_TOKEN (env REDIS_URL or UPSTASH_REDIS_REST_URL)';

/** The CLI's hint on a connection problem: which setting to check. */
export function explainRedisError(err: unknown): Error {
  const e = classifyError(err);
  if (e instanceof AuthError && /upstash|REST/i.test(e.message)) return e;
  if (e instanceof AuthError) {
    return new AuthError(
      `${e.message} (give the password in the URL, redis://user:PASSWORD@host:port, or in REDIS_PASSWORD)`,
      { cause: e },
    );
  }
  if (e.retryable)
    return new FatalError(`${e.message} (is Redis running there? check --redis)`, { cause: e });
  return e;
}
