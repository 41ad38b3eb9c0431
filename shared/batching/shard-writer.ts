import {
  backoffDelay,
  classifyError,
  classifyReplyError,
  InputError,
  type LoaderError,
  type RetryPolicy,
} from '../errors/index.js';
import type { LoadCommand } from '../mapping/index.js';
import type { SourceRecord } from '../records/index.js';
import {
  commandNameAt,
  encodeCommands,
  type Reply,
  ReplyError,
  type ServerIdentity,
  serverReset,
  type Target,
} from '../redis/index.js';

/** Limits of one shard's pipeline. */
export interface WriterOptions {
  /** Commands per pipeline. */
  maxCommands: number;
  /** Approximate payload bytes per pipeline. */
  maxBytes: number;
  /** Pipelines awaiting replies at once. */
  inFlight: number;
  retry: RetryPolicy;
  /**
   * Aborting cuts a retry short: the backoff wait ends at once and the writer stops with the retryable error
   * that was being retried (the records not confirmed stay unconfirmed). Pipelines in flight still settle.
   */
  signal?: AbortSignal;
}

/** What the writer reports as pipelines settle (in the order they were sent). */
export interface WriterHooks {
  /** `records` were confirmed written by the server. */
  onWritten(records: number): void;
  /** The server refused one command's data (e.g. `WRONGTYPE`): its records are rejected. */
  onRejected(record: SourceRecord, reason: string): void;
  /** An auxiliary command (an `EXPIRE`) failed; its records stay written. */
  onCommandError?(reason: string): void;
  /** A retryable failure; the pipelines from the failed one on are sent again after `delayMs`. */
  onRetry?(event: { shard: string; attempt: number; delayMs: number; error: LoaderError }): void;
}

type Outcome =
  | { kind: 'ok'; replies: Reply[] }
  | { kind: 'retry'; error: LoaderError; replies?: Reply[] }
  | { kind: 'fatal'; error: LoaderError; replies?: Reply[] };

/**
 * A pipeline in flight. It keeps only what a replay and the accounting need: the encoded bytes (off the JS
 * heap) and the records each command carries, flattened (`records` of command i are `recs[ends[i-1]..ends[i])`).
 * The command objects themselves die young, which keeps the garbage collector's survivors small.
 */
interface Pipeline {
  /** Set when the target takes pre-encoded pipelines; otherwise the commands are kept to send again. */
  readonly payload: Buffer | undefined;
  readonly cmds: readonly LoadCommand[] | undefined;
  readonly count: number;
  readonly recs: readonly SourceRecord[];
  readonly ends: Uint32Array;
  /** The highest mark (see {@link ShardWriter.mark}) whose commands all sit in this pipeline or earlier ones. */
  mark: number;
}

interface Batch extends Pipeline {
  outcome: Promise<Outcome>;
}

const ARG_OVERHEAD = 8; // "$<len>\r\n…\r\n" framing, roughly

function approxBytes(cmd: LoadCommand): number {
  if (cmd.encoded !== undefined) return cmd.encoded.length;
  let n = 0;
  for (const a of cmd.args) n += a.length + ARG_OVERHEAD;
  return n;
}

/**
 * Batches commands for one shard and keeps up to `inFlight` pipelines awaiting replies, checking every reply.
 *
 * Ordering and exactly-once accounting: pipelines settle strictly in the order they were sent. When one fails
 * with a retryable error, the writer waits for the whole window to settle, backs off (full jitter), and sends
 * again that pipeline and every later one, in order — so a key that appears twice in the source still ends with
 * its last value — and counts each pipeline's results once, when it settles in order. Writes are idempotent
 * (`SET`, `HSET`, `EXPIRE`), so the replay is harmless. A fatal error (OOM, authentication, retries spent) stops
 * the writer; results the server did confirm are still counted so `written` matches what Redis holds.
 *
 * @example
 * const w = new ShardWriter(target, { maxCommands: 2000, maxBytes: 2 << 20, inFlight: 4, retry: DEFAULT_RETRY }, hooks);
 * for (const cmd of commands) { const wait = w.add(cmd); if (wait) await wait; }
 * await w.drain();
 */
export class ShardWriter {
  private current: LoadCommand[] = [];
  private currentBytes = 0;
  /** Records (or commands without records) queued in `current`: the unit pipelines are bounded by. */
  private currentUnits = 0;
  private readonly inflight: Batch[] = [];
  private settling: Promise<void> | undefined;
  private fatal: LoaderError | undefined;
  private slotWaiters: (() => void)[] = [];
  /** The mark of the commands queued in `current`, for the pipeline they will go out in. */
  private currentMark = NO_MARK;
  private confirmedMark = NO_MARK;
  /** The server that confirmed this writer's first pipeline: every later one must be confirmed by it too. */
  private confirmedBy: ServerIdentity | undefined;
  private sentCommands = 0;

  constructor(
    private readonly target: Target,
    private readonly options: WriterOptions,
    private readonly hooks: WriterHooks,
  ) {}

  /** The error that stopped this writer, if any. */
  get error(): LoaderError | undefined {
    return this.fatal;
  }

  /**
   * Commands handed to the target so far, counted per pipeline as it goes out: what the server processes and a
   * per-command service (Upstash) bills. A pipeline sent again after a lost connection or a retryable reply
   * counts again, in full: the server may have run any part of it before the connection dropped, and runs all
   * of it on the replay. Whatever the driver adds on its own (the handshake, `ASKING`, a command re-sent after
   * a cluster `MOVED`) is not counted here.
   */
  get commandsSent(): number {
    return this.sentCommands;
  }

  /**
   * The highest mark whose commands (and all commands added before them) have settled: confirmed by the
   * server, or refused for their data (rejected). Never past a command still in flight, retried or lost.
   * -1 before the first mark settles.
   */
  get confirmed(): number {
    return this.confirmedMark;
  }

  /**
   * Marks the end of a unit of work (the loader: a reader batch, numbered in increasing order). Once every
   * command added before this call has settled, {@link confirmed} reaches `seq`.
   */
  mark(seq: number): void {
    if (this.current.length > 0) this.currentMark = seq;
    else if (this.inflight.length > 0) this.inflight[this.inflight.length - 1]!.mark = seq;
    else if (!this.fatal) this.confirmedMark = seq;
  }

  /** Queues a command. Returns a promise only when the caller must wait (window full); it rejects once stopped. */
  add(cmd: LoadCommand): Promise<void> | undefined {
    if (this.fatal) return Promise.reject(this.fatal);
    this.current.push(cmd);
    this.currentBytes += approxBytes(cmd);
    // A multi-field HSET costs Redis about one command per field: count records, not commands.
    this.currentUnits += cmd.records.length || 1;
    if (this.currentUnits >= this.options.maxCommands || this.currentBytes >= this.options.maxBytes) {
      return this.flush();
    }
    return undefined;
  }

  /** Sends the commands queued so far as one pipeline (waiting for a free slot first). */
  flush(): Promise<void> | undefined {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.current.length === 0) return undefined;
    if (this.inflight.length >= this.options.inFlight) return this.waitForSlot().then(() => this.flush());
    const cmds = this.current;
    this.current = [];
    this.currentBytes = 0;
    this.currentUnits = 0;
    const ends = new Uint32Array(cmds.length);
    const recs: SourceRecord[] = [];
    for (let i = 0; i < cmds.length; i++) {
      const records = cmds[i]!.records;
      for (let j = 0; j < records.length; j++) recs.push(records[j]!);
      ends[i] = recs.length;
    }
    const encoded = this.target.execEncoded !== undefined;
    const pipeline: Pipeline = {
      payload: encoded ? encodeCommands(cmds) : undefined,
      cmds: encoded ? undefined : cmds,
      count: cmds.length,
      recs,
      ends,
      mark: this.currentMark,
    };
    this.currentMark = NO_MARK;
    this.inflight.push({ ...pipeline, outcome: this.send(pipeline) });
    this.settling ??= this.settle();
    return undefined;
  }

  /** Sends what is queued and waits until every pipeline has settled; throws the error that stopped the writer. */
  async drain(): Promise<void> {
    await this.flush();
    while (this.settling) await this.settling;
    if (this.fatal) throw this.fatal;
  }

  private waitForSlot(): Promise<void> {
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private wake(all = false): void {
    const waiters = all ? this.slotWaiters.splice(0) : this.slotWaiters.splice(0, 1);
    for (const w of waiters) w();
  }

  private send(batch: Pipeline): Promise<Outcome> {
    this.sentCommands += batch.count;
    const sent = batch.payload
      ? this.target.execEncoded!(batch.payload, batch.count)
      : this.target.exec(batch.cmds!);
    return sent.then(
      (replies) => judge(batch, replies, this.target.name),
      (err: unknown) => {
        const error = classifyError(err);
        return error.retryable ? { kind: 'retry', error } : { kind: 'fatal', error };
      },
    );
  }

  private settle(): Promise<void> {
    const loop: Promise<void> = this.settleInOrder().finally(() => {
      // A flush woken by the loop's last settle may already have started the next loop: leave that one be.
      if (this.settling === loop) this.settling = undefined;
    });
    return loop;
  }

  private async settleInOrder(): Promise<void> {
    let attempt = 0;
    while (this.inflight.length > 0) {
      const head = this.inflight[0]!;
      const outcome = await head.outcome;
      if (outcome.kind === 'retry') {
        const policy = this.options.retry;
        if (policy === false || attempt >= policy.retries) {
          await this.stop(outcome.error);
          break;
        }
        // Let the whole window settle so nothing of the old connection is still in flight, then replay in order.
        await Promise.all(this.inflight.map((b) => b.outcome));
        const delayMs = backoffDelay(attempt, policy);
        this.hooks.onRetry?.({
          shard: this.target.name,
          attempt: attempt + 1,
          delayMs,
          error: outcome.error,
        });
        attempt++;
        if (!(await pause(delayMs, this.options.signal))) {
          await this.stop(outcome.error);
          break;
        }
        for (const b of this.inflight) b.outcome = this.send(b);
        continue;
      }
      const reset = this.resetSince();
      if (reset) {
        // Confirmed by another server than the earlier pipelines: those may be gone, so this writer's count
        // means nothing any more. The loader replays the range (or stops) on this error.
        await this.stop(reset);
        break;
      }
      this.record(head, outcome.replies);
      if (outcome.kind === 'fatal') {
        this.inflight.shift();
        await this.stop(outcome.error);
        break;
      }
      this.inflight.shift();
      if (head.mark > this.confirmedMark) this.confirmedMark = head.mark;
      attempt = 0;
      this.wake();
    }
    // Cleared in the same synchronous step as the last check: a flush that the wake() above lets run (a
    // microtask later) sees no loop and starts one, instead of queueing behind a loop that has ended.
    this.settling = undefined;
  }

  /**
   * Whether the target's server is another one than the one that confirmed this writer's first pipeline. The
   * target reports a reset once, to whichever pipelines meet it; this check catches it for every writer that
   * shares the target (two loads on one process's connection), whenever it reconnected.
   */
  private resetSince(): LoaderError | undefined {
    const now = this.target.identity?.();
    if (now === undefined) return undefined;
    if (this.confirmedBy === undefined) {
      this.confirmedBy = now;
      return undefined;
    }
    if (now === this.confirmedBy) return undefined;
    const reset = serverReset(this.target.name, this.confirmedBy, now);
    if (reset === undefined) this.confirmedBy = now;
    return reset;
  }

  /** Stops the writer: counts what the server confirmed in the pipelines still in flight, then fails waiters. */
  private async stop(error: LoaderError): Promise<void> {
    this.fatal = error;
    const rest = this.inflight.splice(0);
    if (rest[0] && (await rest[0].outcome).kind === 'retry') rest.shift();
    for (const b of rest) this.record(b, (await b.outcome).replies);
    this.current = [];
    this.wake(true);
  }

  private record(batch: Pipeline, replies: Reply[] | undefined): void {
    if (!replies) return;
    const { recs, ends } = batch;
    let written = 0;
    let from = 0;
    for (let i = 0; i < batch.count; i++) {
      const to = ends[i]!;
      const reply = replies[i];
      if (!(reply instanceof ReplyError)) {
        written += to - from;
      } else {
        const error = classifyReplyError(reply.message);
        // Only data errors are the records' fault; OOM or retryable replies leave them unwritten, not rejected.
        if (error instanceof InputError) {
          if (to === from) this.hooks.onCommandError?.(error.message);
          for (let j = from; j < to; j++) this.hooks.onRejected(recs[j]!, error.message);
        }
      }
      from = to;
    }
    if (written > 0) this.hooks.onWritten(written);
  }
}

const NO_MARK = -1;

/** Waits `ms`, or less when `signal` aborts; resolves false when it was cut short. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles a pipeline's replies: ok (data errors included: they reject their records), retry, or fatal. A fatal
 * or retryable reply names the shard, the command and its 1-based place in the pipeline.
 */
function judge(batch: Pipeline, replies: Reply[], shard: string): Outcome {
  const count = batch.count;
  if (replies.length !== count) {
    return {
      kind: 'fatal',
      error: classifyError(
        new Error(`protocol: ${count} commands to ${shard} got ${replies.length} replies`),
      ),
    };
  }
  for (let i = 0; i < count; i++) {
    const reply = replies[i];
    if (!(reply instanceof ReplyError)) continue;
    const plain = classifyReplyError(reply.message);
    if (plain instanceof InputError) continue;
    const command = batch.payload ? commandNameAt(batch.payload, i) : String(batch.cmds?.[i]?.args[0] ?? '');
    const error = classifyReplyError(reply.message, { shard, index: i, ...(command ? { command } : {}) });
    return { kind: error.retryable ? 'retry' : 'fatal', error, replies };
  }
  return { kind: 'ok', replies };
}
