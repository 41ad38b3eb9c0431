import type { S3Client } from '@aws-sdk/client-s3';
import { classifyError, type RetryPolicy, withRetry } from '../errors/index.js';
import { s3Sdk } from '../records/index.js';
import { excerpt, type RejectEntry, type RejectSink } from './rejects.js';

/** Smallest part S3 accepts in a multipart upload (all but the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const S3_RETRY: RetryPolicy = { retries: 4, baseMs: 200, maxMs: 5000 };

/**
 * Writes rejects as JSON Lines to one S3 object, in bounded memory: lines are buffered up to `bufferBytes`;
 * a small result goes up with one PUT at `close()`, a larger one as a multipart upload whose parts are sent
 * as the buffer fills (`settle()` waits for the part in flight, so at most two buffers are held). Nothing is
 * written when there are no rejects.
 *
 * @example
 * const sink = new S3RejectSink(s3, 'reports-bucket', 'rejects/users-1a2b/chunk-0.jsonl');
 * await loadRange({ …, rejects: sink });
 * await sink.close(); // sink.count > 0 ⇒ the object exists
 */
export class S3RejectSink implements RejectSink {
  private lines: string[] = [];
  private bytes = 0;
  private written = 0;
  private uploadId: string | undefined;
  private readonly parts: { PartNumber: number; ETag: string }[] = [];
  private inFlight: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly key: string,
    private readonly bufferBytes = 8 * 1024 * 1024,
  ) {
    if (bufferBytes < MIN_PART_BYTES) throw new RangeError(`bufferBytes must be at least ${MIN_PART_BYTES}`);
  }

  get count(): number {
    return this.written;
  }

  write(entry: RejectEntry): void {
    this.written++;
    const line = `${JSON.stringify({ ...entry, raw: excerpt(entry.raw) })}\n`;
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line);
  }

  settle(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(classifyError(this.failure));
    if (this.bytes < this.bufferBytes) return undefined;
    const body = this.take();
    const previous = this.inFlight ?? Promise.resolve();
    // One part in flight at a time: wait for the previous part before buffering the next.
    this.inFlight = previous.then(() => this.uploadPart(body));
    this.inFlight.catch((err: unknown) => {
      this.failure ??= err;
    });
    return previous;
  }

  async close(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.failure !== undefined) {
      await this.abort();
      throw classifyError(this.failure);
    }
    if (this.uploadId === undefined) {
      if (this.written === 0) return;
      const { PutObjectCommand } = await s3Sdk();
      const body = this.take();
      await withRetry(
        () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: this.key,
              Body: body,
              ContentType: 'application/x-ndjson',
            }),
          ),
        S3_RETRY,
      );
      return;
    }
    try {
      if (this.bytes > 0) await this.uploadPart(this.take());
      const { CompleteMultipartUploadCommand } = await s3Sdk();
      const uploadId = this.uploadId;
      await withRetry(
        () =>
          this.client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.key,
              UploadId: uploadId,
              MultipartUpload: { Parts: this.parts },
            }),
          ),
        S3_RETRY,
      );
    } catch (err) {
      await this.abort();
      throw classifyError(err);
    }
  }

  private take(): Buffer {
    const body = Buffer.from(this.lines.join(''));
    this.lines = [];
    this.bytes = 0;
    return body;
  }

  private async uploadPart(body: Buffer): Promise<void> {
    const { CreateMultipartUploadCommand, UploadPartCommand } = await s3Sdk();
    if (this.uploadId === undefined) {
      const created = await withRetry(
        () =>
          this.client.send(
            new CreateMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.key,
              ContentType: 'application/x-ndjson',
            }),
          ),
        S3_RETRY,
      );
      this.uploadId = created.UploadId;
    }
    const partNumber = this.parts.length + 1;
    const uploadId = this.uploadId;
    const reply = await withRetry(
      () =>
        this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: this.key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
          }),
        ),
      S3_RETRY,
    );
    this.parts.push({ PartNumber: partNumber, ETag: reply.ETag ?? '' });
  }

  private async abort(): Promise<void> {
    if (this.uploadId === undefined) return;
    const { AbortMultipartUploadCommand } = await s3Sdk();
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId }))
      .catch(() => undefined);
  }
}
