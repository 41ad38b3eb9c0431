import { basename } from 'node:path';
import type { ImportSpec } from '../shared/config/index.js';
import {
  AuthError,
  classifyError,
  classifyReplyError,
  FatalError,
  withRetry,
} from '../shared/errors/index.js';
import {
  bytesPerKey,
  estimateRecords,
  FileRejectSink,
  type LoadCounts,
  type LoadRange,
  loadRange,
  memorySnapshot,
  resolveBucketParams,
  type ShardMemory,
} from '../shared/import/index.js';
import type { BucketParams } from '../shared/mapping/index.js';
import { FileSource } from '../shared/records/index.js';
import { parseRedisUrl, ReplyError, type Target, TcpTarget } from '../shared/redis/index.js';
import { createProgress, type ProgressView, silentProgress } from './progress.js';

/** Everything one CLI import needs. */
export interface ImportRunOptions {
  source: string;
  /** One redis:// or rediss:// URL per shard. */
  redis: readonly string[];
  spec: ImportSpec;
  /** Where rejected records go (created only when there are some). */
  rejectsPath: string;
  range?: LoadRange;
  /** Show a progress bar/lines on stderr. */
  progress: boolean;
  signal?: AbortSignal;
  /** Credentials for URLs that carry none (from REDIS_USERNAME / REDIS_PASSWORD). */
  credentials?: { username?: string; password?: string };
}

/** The outcome of an import, as printed by the CLI (and as `--json`). */
export interface ImportSummary {
  source: string;
  shards: string[];
  model: ImportSpec['model']['type'];
  status: 'completed' | 'interrupted' | 'failed';
  counts: LoadCounts;
  bytesRead: number;
  durationMs: number;
  keysPerSecond: number;
  memoryBefore: ShardMemory[];
  memoryAfter: ShardMemory[] | undefined;
  bytesPerKey: number | undefined;
  rejectsFile: string | undefined;
  nextOffset: number;
  nextLine: number | undefined;
  buckets: BucketParams | undefined;
  /** Peak resident memory of this process so far, in bytes. */
  peakRssBytes: number;
  error?: { name: string; message: string };
}

/** Puts credentials from the environment into a URL that has none. */
export function withCredentials(url: string, credentials: ImportRunOptions['credentials']): string {
  if (!credentials?.password) return url;
  const parsed = parseRedisUrl(url);
  if (parsed.password !== undefined) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(credentials.username ?? parsed.username ?? '');
  u.password = encodeURIComponent(credentials.password);
  return u.toString();
}

/** PINGs every shard (3 quick attempts) so an unreachable or misconfigured Redis fails before anything is read. */
export async function checkTargets(targets: readonly Target[]): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      try {
        await withRetry(
          async () => {
            const [reply] = await t.exec([{ args: ['PING'] }]);
            if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
          },
          { retries: 2, baseMs: 200, maxMs: 1000 },
        );
      } catch (err) {
        const e = classifyError(err);
        if (e instanceof AuthError) {
          throw new AuthError(
            `${t.name}: ${e.message} (give the password in the URL, redis://user:PASSWORD@host:port, or in REDIS_PASSWORD)`,
            { cause: e },
          );
        }
        throw new FatalError(
          `${t.name}: ${e.message}${e.retryable ? ' (is Redis running there? check --redis)' : ''}`,
          {
            cause: e,
          },
        );
      }
    }),
  );
}

/**
 * Runs one import from a local file: checks the shards, fixes bucket parameters, loads with progress, and
 * measures Redis memory before and after. Throws only for problems found before any write (config,
 * connection, credentials); problems during the load are in the summary's `status` and `error`.
 */
export async function runImport(options: ImportRunOptions): Promise<ImportSummary> {
  const source = new FileSource(options.source);
  const targets = options.redis.map((url) => new TcpTarget(withCredentials(url, options.credentials)));
  try {
    await source.size();
    await checkTargets(targets);
    const memoryBefore = await memorySnapshot(targets);
    let buckets: BucketParams | undefined;
    if (options.spec.model.type === 'bucketed') {
      const estimate = await estimateRecords(source, options.spec);
      buckets = await resolveBucketParams(options.spec, targets, estimate.records);
    }
    const size = await source.size();
    const start = options.range?.start ?? 0;
    const view: ProgressView = options.progress
      ? createProgress(basename(options.source), size - start)
      : silentProgress;
    const rejects = new FileRejectSink(options.rejectsPath);
    const result = await loadRange({
      source,
      spec: options.spec,
      targets,
      rejects,
      ...(buckets ? { buckets } : {}),
      ...(options.range ? { range: options.range } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => view.update(p),
    });
    view.stop();
    await rejects.close();
    const memoryAfter = await memorySnapshot(targets).catch(() => undefined);
    const keys = result.counts.written;
    return {
      source: options.source,
      shards: targets.map((t) => t.name),
      model: options.spec.model.type,
      status: result.status,
      counts: result.counts,
      bytesRead: result.nextOffset - start,
      durationMs: result.durationMs,
      keysPerSecond: keys / Math.max(0.001, result.durationMs / 1000),
      memoryBefore,
      memoryAfter,
      bytesPerKey: memoryAfter ? bytesPerKey(memoryBefore, memoryAfter, keys) : undefined,
      rejectsFile: rejects.count > 0 ? options.rejectsPath : undefined,
      nextOffset: result.nextOffset,
      nextLine: result.nextLine,
      buckets,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ...(result.error ? { error: { name: result.error.name, message: result.error.message } } : {}),
    };
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}
