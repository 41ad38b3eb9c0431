import { ConfigError, classifyReplyError, FatalError, type RetryPolicy } from '../errors/index.js';
import { parseInfo } from './info.js';
import { TOO_LARGE, UpstashHttp } from './upstash-http.js';
import {
  decodePipelineResponse,
  planBodies,
  requestBody,
  type RestRequest,
  restArgs,
  tooLargeReply,
} from './upstash-protocol.js';
import {
  type Command,
  type ExecOptions,
  type RedisInfo,
  type Reply,
  ReplyError,
  type ServerIdentity,
  type Target,
} from './types.js';
import { parseRestUrl, type RestEndpoint } from './url.js';

/** Options of {@link UpstashTarget}; unknown keys are rejected. */
export interface UpstashTargetOptions {
  /** The REST token (`UPSTASH_REDIS_REST_TOKEN`); sent as `Authorization: Bearer`, never logged. */
  token: string;
  /**
   * Largest request body: a command larger alone gets a too-large reply unsent. Upstash refuses larger bodies
   * (HTTP 413); this target splits before sending, and after a 413 for a smaller body (a plan with a lower
   * limit) it groups commands under half that body's size from then on.
   * @default 10485760 (10 MiB)
   */
  maxRequestBytes?: number;
  /**
   * Most commands per request. Requests go out one at a time (see {@link UpstashTarget}), so their size sets
   * the pace: against the test endpoint, 100 000 `SET`s cost the client about 4.6 µs each in requests of
   * 1,000 commands, 3.4 µs at 2,000, 1.7 µs at 5,000 and 1.5 µs at 10,000, with throughput highest at 5,000;
   * larger requests gain nothing and grow what a retry sends again. @default 5000
   */
  maxCommandsPerRequest?: number;
  /** Longest wait for one HTTP response (send and body) before it counts as lost and is retried. @default 60000 */
  requestTimeoutMs?: number;
  /**
   * Retries of one request after HTTP 429, 5xx, a network error or a timeout: exponential backoff with full
   * jitter, never shorter than the server's `Retry-After` (capped at 60 s). `false`: none.
   * @default { retries: 4, baseMs: 100, maxMs: 2000 }
   */
  retry?: RetryPolicy;
}

const DEFAULTS = {
  maxRequestBytes: 10 * 1024 * 1024,
  maxCommandsPerRequest: 5000,
  requestTimeoutMs: 60_000,
  retry: { retries: 4, baseMs: 100, maxMs: 2000 },
} as const;
const OPTION_KEYS = new Set([
  'token',
  'maxRequestBytes',
  'maxCommandsPerRequest',
  'requestTimeoutMs',
  'retry',
]);
const PIPELINE_PATH = '/pipeline';
/** The lowest a 413 can push the request limit: a server that refuses even this is misconfigured, not small. */
const MIN_REQUEST_BYTES = 1024;

function checkOptions(options: UpstashTargetOptions): void {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new ConfigError(`UpstashTarget: unknown option '${key}'`);
  }
  if (typeof options.token !== 'string' || options.token.trim() === '') {
    throw new ConfigError(
      'Upstash REST needs a token: set UPSTASH_REDIS_REST_TOKEN (or --upstash-token) to the database’s REST token',
    );
  }
  for (const key of ['maxRequestBytes', 'maxCommandsPerRequest', 'requestTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new ConfigError(`UpstashTarget: ${key} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * A {@link Target} speaking Upstash's documented REST protocol with Node's `fetch`: every `exec` goes to
 * `POST /pipeline` as JSON, with `Upstash-Encoding: base64` so values come back binary-safe, and each reply
 * lands in its command's slot — a server error as a {@link ReplyError}, never thrown.
 *
 * - **Splitting.** One `exec` becomes as many requests as the limits need (`maxRequestBytes`,
 *   `maxCommandsPerRequest`), sent one after another. A command too large for any request gets a
 *   `ERR string exceeds maximum allowed size (…)` reply in its slot, which rejects its record. An HTTP 413
 *   (the server's limit is lower than ours) makes the target group commands under half that body's size from
 *   then on and send the request's commands again that way; a 413 for one command alone is that reply.
 * - **Order.** Requests go out strictly in `exec` call order, one at a time, as pipelines on one TCP
 *   connection are applied: HTTP requests in flight together could be applied in any order (an `EXPIRE`
 *   before its `HSET`, an older value over a newer one). An `exec` queued behind one that failed fails with the
 *   same error without being sent, so a caller's in-order replay never lets a later write overtake.
 * - **Retries.** HTTP 429, 5xx, network errors and timeouts are retried with exponential backoff and full
 *   jitter, honouring `Retry-After`; when the attempts are spent the `exec` rejects with a
 *   {@link RetryableError}. A 429 or 413 ran nothing; a 5xx or a lost response may come after the server
 *   applied part or all of the request, so sending it again is only safe because the loader's writes are
 *   idempotent (`SET`/`HSET`/`EXPIRE` with deterministic values; counters behind a Kafka watermark script).
 *   HTTP 401/403 is an {@link AuthError} at once, after one request.
 *
 * @example
 * const target = new UpstashTarget('https://eu1-cat-1.upstash.io', { token: process.env.UPSTASH_REDIS_REST_TOKEN! });
 * const replies = await target.exec([{ key: 'user:1', args: ['SET', 'user:1', '42'] }]); // ['OK']
 */
export class UpstashTarget implements Target {
  private readonly endpoint: RestEndpoint;
  private readonly http: UpstashHttp;
  /** The option: a command whose JSON passes it is refused unsent. */
  private readonly maxRequestBytes: number;
  /** What commands are grouped under: the option, lowered by each HTTP 413 for a smaller body. */
  private plannedBytes: number;
  private readonly maxCommands: number;
  /** Settles when every `exec` issued so far has; the next one starts after it. */
  private tail: Promise<void> = Promise.resolve();
  private failures = 0;
  private lastFailure: unknown;
  private seen: ServerIdentity | undefined;

  /**
   * Parses the URL and options only; nothing is sent before the first `exec`.
   * @throws {ConfigError} for an invalid URL or option, or a missing token.
   */
  constructor(url: string, options: UpstashTargetOptions) {
    checkOptions(options);
    this.endpoint = parseRestUrl(url);
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULTS.maxRequestBytes;
    this.plannedBytes = this.maxRequestBytes;
    this.maxCommands = options.maxCommandsPerRequest ?? DEFAULTS.maxCommandsPerRequest;
    this.http = new UpstashHttp(this.endpoint, {
      token: options.token.trim(),
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      retry: options.retry ?? DEFAULTS.retry,
    });
  }

  /** The REST endpoint, `https://<host>`; it never holds the token. */
  get name(): string {
    return this.endpoint.name;
  }

  /** HTTP requests sent since this target was made, retries and 413 splits included. */
  get requests(): number {
    return this.http.requests;
  }

  /** The server seen by the last `INFO` that reported a `run_id`; see {@link Target.identity}. */
  identity(): ServerIdentity | undefined {
    return this.seen;
  }

  /** Sends `cmds` (in as many requests as the limits need); resolves with one reply per command, in order. */
  exec(cmds: readonly Command[], options?: ExecOptions): Promise<Reply[]> {
    if (cmds.length === 0) return Promise.resolve([]);
    const ticket = this.failures;
    const run = this.tail.then(() => {
      if (this.failures !== ticket) throw this.lastFailure;
      return this.run(cmds, options?.buffers === true);
    });
    this.tail = run.then(
      () => undefined,
      (err: unknown) => {
        this.failures++;
        this.lastFailure = err;
      },
    );
    return run;
  }

  /** Runs `INFO` for `sections` (all when omitted) and parses it; an INFO with `run_id` updates {@link identity}. */
  async info(sections: readonly string[] = []): Promise<RedisInfo> {
    const [reply] = await this.exec([{ args: ['INFO', ...sections] }]);
    if (reply instanceof ReplyError)
      throw classifyReplyError(reply.message, { shard: this.name, command: 'INFO' });
    if (typeof reply !== 'string') throw new FatalError(`INFO on ${this.name} did not return text`);
    const info = parseInfo(reply);
    const runId = info.server?.run_id;
    if (runId !== undefined) {
      const replId = info.replication?.master_replid;
      const uptime = Number(info.server?.uptime_in_seconds);
      this.seen = {
        runId,
        ...(replId === undefined ? {} : { replId }),
        ...(Number.isFinite(uptime) ? { uptimeSeconds: uptime } : {}),
      };
    }
    return info;
  }

  /**
   * Aborts the requests in flight and the retry waits (their `exec`s reject with a {@link RetryableError}).
   * There is no connection to end: a later `exec` simply sends again.
   */
  close(): Promise<void> {
    this.http.abort();
    return Promise.resolve();
  }

  private async run(cmds: readonly Command[], buffers: boolean): Promise<Reply[]> {
    const replies = new Array<Reply>(cmds.length);
    const args = new Array<readonly string[] | undefined>(cmds.length);
    for (let i = 0; i < cmds.length; i++) {
      const a = restArgs(cmds[i]!);
      if (a instanceof ReplyError) replies[i] = a;
      else args[i] = a;
    }
    await this.sendAll(args, replies, buffers);
    return replies;
  }

  /** Sends the commands (those at `only`, or all) in requests within the limits, in order. */
  private async sendAll(
    args: readonly (readonly string[] | undefined)[],
    replies: Reply[],
    buffers: boolean,
    only?: readonly number[],
  ): Promise<void> {
    const limits = {
      maxRequestBytes: this.plannedBytes,
      hardMaxBytes: this.maxRequestBytes,
      maxCommands: this.maxCommands,
    };
    const oversized = (i: number, bytes: number) => {
      replies[i] = tooLargeReply(bytes, this.maxRequestBytes);
    };
    for (const request of planBodies(args, limits, oversized, only)) {
      await this.send(request, args, replies, buffers);
    }
  }

  /**
   * Sends one request and stores its replies. On HTTP 413 the planned request size drops to half this body's
   * and its commands are planned again under it (halved should it be at its floor); a command larger than that
   * still goes alone, and only a 413 for it alone gives the too-large reply.
   */
  private async send(
    request: RestRequest,
    args: readonly (readonly string[] | undefined)[],
    replies: Reply[],
    buffers: boolean,
  ): Promise<void> {
    const { indexes, body, bytes } = request;
    // Planned before a 413 lowered the size: plan again rather than bounce once more.
    if (indexes.length > 1 && bytes > this.plannedBytes) {
      await this.sendAll(args, replies, buffers, indexes);
      return;
    }
    const outcome = await this.http.post(PIPELINE_PATH, body);
    if (outcome !== TOO_LARGE) {
      const decoded = decodePipelineResponse(outcome, indexes.length, true, buffers);
      for (let k = 0; k < indexes.length; k++) replies[indexes[k]!] = decoded[k]!;
      return;
    }
    if (indexes.length === 1) {
      // All this says about the server's limit is that it lies below this body.
      this.plannedBytes = Math.max(MIN_REQUEST_BYTES, Math.min(this.plannedBytes, bytes - 1));
      replies[indexes[0]!] = tooLargeReply(bytes - 2);
      return;
    }
    // Halving finds a far lower server limit in a few bounces, where shaving off one command at a time would
    // bounce once per command.
    this.plannedBytes = Math.max(MIN_REQUEST_BYTES, Math.min(this.plannedBytes, Math.floor(bytes / 2)));
    if (this.plannedBytes < bytes) {
      await this.sendAll(args, replies, buffers, indexes);
      return;
    }
    const half = Math.ceil(indexes.length / 2);
    for (const part of [indexes.slice(0, half), indexes.slice(half)]) {
      const partBody = requestBody(args, part);
      await this.send(
        { indexes: part, body: partBody, bytes: Buffer.byteLength(partBody, 'utf8') },
        args,
        replies,
        buffers,
      );
    }
  }
}
