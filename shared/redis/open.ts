import { ConfigError } from '../errors/index.js';
import { ClusterTarget, type ClusterTargetOptions } from './cluster-target.js';
import { TcpTarget, type TcpTargetOptions } from './tcp-target.js';
import { ReplyError, type Target } from './types.js';
import { UpstashTarget, type UpstashTargetOptions } from './upstash-target.js';
import { isRestUrl, parseRestUrl } from './url.js';

/** Options of {@link openTarget}. */
export interface OpenTargetOptions extends TcpTargetOptions {
  /**
   * `true`: the URL is a seed node of a Redis Cluster; `false`: a standalone server; `'auto'` asks the server
   * (`INFO cluster` → `cluster_enabled:1`). @default 'auto'
   */
  cluster?: boolean | 'auto';
  /** See {@link ClusterTargetOptions.maxRedirects}. */
  maxRedirects?: number;
  /**
   * The token of an Upstash REST URL (`https://…`), from `UPSTASH_REDIS_REST_TOKEN`.
   * Required for such a URL, ignored for `redis://` ones.
   */
  restToken?: string;
  /** Further options of an {@link UpstashTarget}; `commandTimeoutMs` is its `requestTimeoutMs` unless set here. */
  rest?: Omit<UpstashTargetOptions, 'token'>;
}

/** The {@link UpstashTarget} for an `http(s)://` URL, or a {@link ConfigError} that says what is missing. */
function openRest(url: string, options: OpenTargetOptions): UpstashTarget {
  const { name } = parseRestUrl(url);
  if (options.cluster === true) {
    throw new ConfigError(
      `${name} is an Upstash REST endpoint, not a Redis Cluster node: drop --cluster (REDIS_CLUSTER)`,
    );
  }
  const token = options.restToken?.trim();
  if (!token) {
    throw new ConfigError(`${name} is an Upstash REST URL and needs its token: set UPSTASH_REDIS_REST_TOKEN`);
  }
  const timeout = options.commandTimeoutMs;
  return new UpstashTarget(url, {
    ...(timeout === undefined ? {} : { requestTimeoutMs: timeout }),
    ...options.rest,
    token,
  });
}

/**
 * The {@link Target} for one `--redis`/`REDIS_URL` entry: a {@link TcpTarget}, or a {@link ClusterTarget}
 * seeded by it when the server is a cluster node. Auto-detection costs one `INFO cluster` on the connection
 * the standalone target then keeps using. A server that refuses `INFO` (renamed by its operator) is taken as
 * standalone; one that cannot be reached is an error (a {@link RetryableError}), as the first write would be.
 * An `https://` (or `http://`) URL is an Upstash REST endpoint: an {@link UpstashTarget} with
 * `options.restToken`, made without any request.
 *
 * @example
 * const target = await openTarget('redis://10.0.0.5:6379'); // a ClusterTarget if 10.0.0.5 is a cluster node
 * const upstash = await openTarget('https://eu1-cat-1.upstash.io', { restToken: process.env.UPSTASH_REDIS_REST_TOKEN });
 */
export async function openTarget(url: string, options: OpenTargetOptions = {}): Promise<Target> {
  if (isRestUrl(url)) return openRest(url, options);
  const { cluster = 'auto', maxRedirects, restToken: _token, rest: _rest, ...tcp } = options;
  const clusterOptions: ClusterTargetOptions = {
    ...tcp,
    ...(maxRedirects === undefined ? {} : { maxRedirects }),
  };
  if (cluster === true) return new ClusterTarget(url, clusterOptions);
  const single = new TcpTarget(url, tcp);
  if (cluster === false) return single;
  const [reply] = await single.exec([{ args: ['INFO', 'cluster'] }]);
  if (reply instanceof ReplyError || typeof reply !== 'string') return single;
  if (!/^cluster_enabled:1\r?$/m.test(reply)) return single;
  await single.close();
  return new ClusterTarget(url, clusterOptions);
}

const provisional = new WeakSet<Target>();

/**
 * Whether `target` is a stand-in from a lenient {@link openTargets}: its server could not be asked whether it
 * is a cluster node, so a long-lived process should open it again later rather than keep it.
 */
export function isProvisional(target: Target): boolean {
  return provisional.has(target);
}

/**
 * {@link openTarget} for every URL, in parallel. With `lenient`, a server that cannot be reached (or refuses
 * the credentials) is returned as a standalone {@link TcpTarget}, marked {@link isProvisional}, instead of
 * failing the call: its first command meets the same error, where the caller reports it (a probe: down; an
 * import: a FAILED report). An Upstash REST URL that cannot be opened (no token) fails the call even then: that
 * is a setup error, found without sending anything.
 */
export async function openTargets(
  urls: readonly string[],
  options: OpenTargetOptions & { lenient?: boolean } = {},
): Promise<Target[]> {
  const { lenient, ...open } = options;
  const opened = await Promise.allSettled(urls.map((url) => openTarget(url, open)));
  // Opening a REST target sends nothing, so its failure is a setup error that no stand-in may hide.
  const failed = opened.find((o, i) => o.status === 'rejected' && (!lenient || isRestUrl(urls[i]!)));
  if (failed) {
    await Promise.all(opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value.close()] : [])));
    throw (failed as PromiseRejectedResult).reason;
  }
  const { cluster: _cluster, maxRedirects: _max, restToken: _token, rest: _rest, ...tcp } = open;
  return opened.map((o, i) => {
    if (o.status === 'fulfilled') return o.value;
    const standIn = new TcpTarget(urls[i]!, tcp);
    provisional.add(standIn);
    return standIn;
  });
}

/**
 * The servers behind `targets`: a cluster's masters in place of the cluster, others as they are. What is
 * asked of each server (memory pre-flight, probe, `CONFIG GET`) goes to these.
 */
export async function serversOf(targets: readonly Target[]): Promise<Target[]> {
  const out: Target[] = [];
  for (const t of targets) {
    if (t.members) out.push(...(await t.members()));
    else out.push(t);
  }
  return out;
}

/** Whether `targets` is one Redis Cluster (the only way a cluster is used: one seed, one target). */
export function clusterOf(targets: readonly Target[]): Target | undefined {
  const cluster = targets.find((t) => t.keySlot !== undefined);
  if (cluster === undefined) return undefined;
  if (targets.length > 1)
    throw new ConfigError(
      `${cluster.name} is a Redis Cluster: give one of its nodes as the only --redis/REDIS_URL (the loader finds the others), not a list of shards`,
    );
  return cluster;
}
