import type { GetObjectCommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { classifyError, type RetryPolicy, SourceChangedError, truncate, withRetry } from '../errors/index.js';
import { s3Sdk } from './s3-sdk.js';
import type { ByteSource } from './types.js';

/** Options of an {@link S3Source}. */
export interface S3SourceOptions {
  /** The ETag the load is pinned to; every GET sends `If-Match` and checks the reply. @default the first HEAD's */
  readonly etag?: string;
  /** The object's size when already known (skips the HEAD). */
  readonly size?: number;
  /** Bytes per ranged GET. @default 8 MiB */
  readonly windowBytes?: number;
  /** Bytes per chunk yielded (small network reads are joined). @default 1 MiB */
  readonly yieldBytes?: number;
  /** Retries of one ranged GET on throttling, 5xx or a dropped connection. @default 4 retries, 200 ms → 5 s */
  readonly retry?: RetryPolicy;
}

/** What a HEAD says about an object. */
export interface S3ObjectInfo {
  readonly size: number;
  /** With its quotes, as S3 sends it. */
  readonly etag: string;
  readonly contentType: string | undefined;
}

const MiB = 1024 * 1024;
const DEFAULT_RETRY: Exclude<RetryPolicy, false> = { retries: 4, baseMs: 200, maxMs: 5000 };

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

/** Compares ETags with or without their quotes (some S3 implementations drop them). */
function sameEtag(a: string | undefined, b: string | undefined): boolean {
  const bare = (e: string | undefined) => e?.replace(/^W\//, '').replace(/"/g, '');
  return bare(a) === bare(b);
}

/**
 * An S3 object as a {@link ByteSource}: consecutive ranged GETs (`windowBytes` each), every one pinned to the
 * object's ETag with `If-Match`, so a load never mixes two versions of an object. A changed or deleted object
 * (HTTP 412, 404, 416, or a reply whose ETag or total size differs) is a {@link SourceChangedError} (a 404 says
 * `s3://bucket/key not found`); throttling
 * and lost connections are retried per window, resuming at the byte reached.
 *
 * @example
 * const source = new S3Source(await createS3Client(), 'my-bucket', 'incoming/users.csv', { etag: '"9b2cf5…"' });
 * for await (const batch of readRecords(source, { format, start, end })) handle(batch);
 */
export class S3Source implements ByteSource {
  readonly name: string;
  private etag: string | undefined;
  private knownSize: number | undefined;
  private readonly windowBytes: number;
  private readonly yieldBytes: number;
  private readonly retry: RetryPolicy;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly key: string,
    options: S3SourceOptions = {},
  ) {
    this.name = `s3://${bucket}/${key}`;
    this.etag = options.etag;
    this.knownSize = options.size;
    this.windowBytes = options.windowBytes ?? 8 * MiB;
    this.yieldBytes = options.yieldBytes ?? MiB;
    this.retry = options.retry ?? DEFAULT_RETRY;
    for (const [name, value] of [
      ['windowBytes', this.windowBytes],
      ['yieldBytes', this.yieldBytes],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
      }
    }
  }

  /** HEADs the object (with retries); a pinned ETag that no longer matches is a {@link SourceChangedError}. */
  async head(): Promise<S3ObjectInfo> {
    const { HeadObjectCommand } = await s3Sdk();
    const reply = await withRetry(async () => {
      try {
        return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key }));
      } catch (err) {
        throw this.classify(err);
      }
    }, this.retry);
    const etag = reply.ETag ?? '';
    if (this.etag !== undefined && !sameEtag(this.etag, etag)) throw this.changed(`its ETag is now ${etag}`);
    this.etag ??= etag;
    const size = reply.ContentLength ?? 0;
    if (this.knownSize !== undefined && size !== this.knownSize) {
      throw this.changed(`its size is now ${size}, was ${this.knownSize}`);
    }
    this.knownSize = size;
    return { size, etag, contentType: reply.ContentType };
  }

  async size(): Promise<number> {
    return this.knownSize ?? (await this.head()).size;
  }

  /** The object's ETag (pinned at the first HEAD). */
  async version(): Promise<string> {
    return this.etag ?? (await this.head()).etag;
  }

  /** Yields `[start, end)` in order, one ranged GET per window, resuming after a dropped connection. */
  async *stream(start: number, end?: number): AsyncGenerator<Buffer, void> {
    const size = await this.size();
    const stop = Math.min(end ?? size, size);
    let pos = start;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let drops = 0;
    while (pos < stop) {
      const windowEnd = Math.min(stop, pos + this.windowBytes);
      const from = pos;
      const body = await withRetry(() => this.get(from, windowEnd), this.retry);
      try {
        for await (const piece of body) {
          const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
          pos += buf.length;
          pending.push(buf);
          pendingBytes += buf.length;
          if (pendingBytes >= this.yieldBytes) {
            const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
            pending = [];
            pendingBytes = 0;
            yield out;
          }
        }
      } catch (err) {
        // A connection dropped mid-body: the next window starts at the byte reached (bounded by the retry
        // policy of the next GET). Anything else is not ours to hide.
        const error = this.classify(err);
        const budget = this.retry === false ? 0 : this.retry.retries;
        if (!error.retryable || ++drops > budget) throw error;
        continue;
      }
      if (pos < windowEnd) throw this.changed(`a ranged GET ended at byte ${pos}, expected ${windowEnd}`);
    }
    if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
  }

  private async get(from: number, to: number): Promise<AsyncIterable<unknown>> {
    const { GetObjectCommand } = await s3Sdk();
    let reply: GetObjectCommandOutput;
    try {
      reply = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Range: `bytes=${from}-${to - 1}`,
          ...(this.etag === undefined ? {} : { IfMatch: this.etag }),
        }),
      );
    } catch (err) {
      throw this.classify(err);
    }
    const body = reply.Body as (AsyncIterable<unknown> & { destroy?: () => void }) | undefined;
    // Servers that ignore If-Match (some emulators) still send the current ETag: check it here too.
    if (this.etag !== undefined && !sameEtag(reply.ETag, this.etag)) {
      body?.destroy?.();
      throw this.changed(`its ETag is now ${reply.ETag ?? '(none)'}`);
    }
    const total = /\/(\d+)$/.exec(reply.ContentRange ?? '')?.[1];
    if (total !== undefined && this.knownSize !== undefined && Number(total) !== this.knownSize) {
      body?.destroy?.();
      throw this.changed(`its size is now ${total}, was ${this.knownSize}`);
    }
    if (!body) throw this.changed('a GET returned no body');
    return body;
  }

  private changed(detail: string, cause?: unknown): SourceChangedError {
    return new SourceChangedError(
      `${this.name} changed while it was being loaded (${detail}); the import is pinned to ETag ${this.etag ?? '(unknown)'}`,
      cause === undefined ? {} : { cause },
    );
  }

  private classify(err: unknown) {
    const code = status(err);
    const name = errorName(err);
    if (code === 412 || name === 'PreconditionFailed') return this.changed('If-Match failed', err);
    if (code === 404 || name === 'NoSuchKey' || name === 'NotFound') {
      // Not "changed": nothing was read yet when an unpinned HEAD finds no object (deleted after its event,
      // or a wrong key); the ETag is named only when a load had pinned one.
      const pinned = this.etag === undefined ? '' : ` (deleted after the import pinned ETag ${this.etag})`;
      return new SourceChangedError(`${this.name} not found${pinned}`, { cause: err });
    }
    if (code === 416 || name === 'InvalidRange') return this.changed('the range is past its end', err);
    const error = classifyError(err);
    return error.message.startsWith(this.name)
      ? error
      : Object.assign(error, { message: `${this.name}: ${truncate(error.message)}` });
  }
}

/** Options of {@link createS3Client}. */
export interface S3ClientOptions {
  /** A custom endpoint (s3rver, MinIO, LocalStack): path-style addressing is used with it. */
  readonly endpoint?: string;
  /** @default AWS_REGION, or 'us-east-1' with a custom endpoint */
  readonly region?: string;
  /** Static credentials (a local emulator); default: the SDK's provider chain. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * An S3 client for sources, reports and rejects. With a custom endpoint it uses path-style URLs and computes
 * checksums only when an API requires them (emulators reject the SDK's default streaming checksums). The SDK
 * is loaded by the first call (see {@link s3Sdk}), so a process that never reaches S3 never pays for it.
 */
export async function createS3Client(options: S3ClientOptions = {}): Promise<S3Client> {
  const sdk = await s3Sdk();
  const config: S3ClientConfig = {};
  if (options.endpoint !== undefined) {
    config.endpoint = options.endpoint;
    config.forcePathStyle = true;
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
    config.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  } else if (options.region !== undefined) {
    config.region = options.region;
  }
  if (options.credentials) config.credentials = options.credentials;
  return new sdk.S3Client(config);
}
