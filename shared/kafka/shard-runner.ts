import { setTimeout as sleep } from 'node:timers/promises';
import {
  backoffDelay,
  classifyError,
  classifyReplyError,
  FatalError,
  InputError,
  type LoaderError,
  RetryableError,
  type RetryPolicy,
  ServerResetError,
} from '../errors/index.js';
import { type Command, type Reply, ReplyError, type Target } from '../redis/index.js';
import { type Op, redisDeadLetter, type Stream, stopStream } from './stream.js';
import type { DeadLetter, DeadLetterSink } from './types.js';
import {
  CLEAR_PENDING_SCRIPT,
  parseTransactionReplies,
  parseUnitReply,
  transactable,
  transactionUnit,
  unitCommand,
} from './watermark.js';

/** What a shard runner needs besides its streams. */
export interface ShardRunContext {
  readonly target: Target;
  readonly shard: number;
  /** Watermarked (atomic scripts) or plain pipelined writes. */
  readonly watermarks: boolean;
  /** Send units of idempotent writes as transactions when the target can (`Target.transactions`). */
  readonly transactions: boolean;
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly retry: RetryPolicy;
  readonly deadLetters: DeadLetterSink;
  /** The batch's stable id, for dead-letter writes (computed on first use). */
  readonly batchId: () => string;
  /** False once the invocation must stop retrying (its deadline is near). */
  readonly mayWait: (delayMs: number) => boolean;
  /** Called with a shard's identity change; throws when confirmed writes were lost. */
  readonly onReset: (error: ServerResetError, streams: readonly Stream[]) => Promise<void>;
  /** Told the highest offset confirmed on a watermark (for {@link ShardRunContext.onReset}). */
  readonly confirmed: (watermark: string, offset: number) => void;
  /**
   * Told the data commands of each pipeline as it goes out (a watermarked unit is one `EVAL`), retries included:
   * what the server runs and a per-command service bills.
   */
  readonly onSent: (commands: number) => void;
}

/** A unit already sent, with its reply settled (never an unhandled rejection). */
export interface SentUnit {
  readonly stream: Stream;
  readonly outcome: Promise<PromiseSettledResult<Reply[]>>;
  /** A {@link transactionUnit} of the stream's ops `[start, start + count)`; absent for a script. */
  readonly transaction?: { readonly start: number; readonly count: number };
}

/**
 * Where a stream's send-ahead stands: ops `[0, next)` went out in units, the last one up to `guard`. `mode` is
 * fixed by its first unit: transactions or scripts. A script after a transaction would clear the stream's
 * pending mark before its transactions were reviewed, so a unit that cannot be a transaction `held`s the rest
 * of a transactional stream for the next round (sent once the transactions are reviewed).
 */
export interface AheadState {
  next: number;
  guard: number | undefined;
  bytes: number;
  mode?: 'transactions' | 'scripts';
  held?: boolean;
}

/** A Redis Cluster checks a script's declared keys against its slot; a standalone server needs none. */
const isCluster = (target: Target): boolean => target.keySlot !== undefined;

const sendUnit = (ctx: Pick<ShardRunContext, 'target' | 'onSent'>, command: Command): SentUnit['outcome'] => {
  ctx.onSent(1);
  return settled(ctx.target.exec([command]));
};

/** What {@link sendAhead} needs of a shard's context. */
export type AheadContext = Pick<
  ShardRunContext,
  'target' | 'maxRecords' | 'maxBytes' | 'onSent' | 'transactions'
>;

/**
 * Sends the unit of a stream's ops from `ahead.next` while its partition is still being mapped, once they
 * fill a unit (`maxRecords` records or `maxBytes`), or whatever is left when `final`. Redis then works on a
 * partition's first records while the mapper reads its last ones, and a batch waits only for its last unit,
 * not its last partition (bench/RESULTS.md, kafka-lambda). The units chain by guard exactly as a round's
 * units do; {@link runShard} settles them as its first round. Only a stream whose ops so far are all
 * unsettled and unsent past `ahead.next` may send ahead (the consumer stops at a partition's first reject).
 */
export function sendAhead(
  stream: Stream,
  ahead: AheadState,
  ctx: AheadContext,
  final: boolean,
): SentUnit | undefined {
  const count = stream.ops.length - ahead.next;
  if (ahead.held || count === 0 || (!final && count < ctx.maxRecords && ahead.bytes < ctx.maxBytes))
    return undefined;
  const records = stream.ops.slice(ahead.next);
  const cover = ahead.next === 0 ? stream.cover : undefined;
  const guard = ahead.next === 0 ? stream.guard : ahead.guard;
  const start = ahead.next;
  const transaction =
    ahead.mode !== 'scripts' &&
    ctx.transactions &&
    ctx.target.transactions === true &&
    cover === undefined &&
    transactable(records);
  if (ahead.mode === 'transactions' && !transaction) {
    ahead.held = true;
    return undefined;
  }
  ahead.mode ??= transaction ? 'transactions' : 'scripts';
  ahead.next = stream.ops.length;
  ahead.guard = records[records.length - 1]!.offset;
  ahead.bytes = 0;
  if (!transaction)
    return {
      stream,
      outcome: sendUnit(
        ctx,
        unitCommand(stream.watermark, stream.pending, records, guard, cover, isCluster(ctx.target)),
      ),
    };
  const commands = transactionUnit(stream.watermark, stream.pending, stream.token, records, guard);
  ctx.onSent(commands.length);
  return {
    stream,
    outcome: settled(ctx.target.exec(commands)),
    transaction: { start, count: records.length },
  };
}

/** A promise's outcome as a value (never an unhandled rejection). */
export function settled<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
  );
}

/**
 * Cuts the live streams' unsettled ops into units of at most `maxRecords` records and about `maxBytes` bytes
 * and sends them: one pipeline each, all at once on the one connection, so when it drops mid-round the units
 * answered before the cut are still settled (and confirmed), and only the true tail is delivered again.
 */
function unitsOf(live: readonly Stream[], ctx: ShardRunContext): SentUnit[] {
  const units: SentUnit[] = [];
  for (const stream of live) {
    let start = stream.pos;
    let guard = stream.guard;
    if (start === stream.ops.length) {
      // Nothing left but the cover: raised into the watermark (and past a pending mark) on its own.
      const command = unitCommand(stream.watermark, stream.pending, [], guard, stream.cover, false);
      units.push({ stream, outcome: sendUnit(ctx, command) });
      continue;
    }
    while (start < stream.ops.length) {
      let end = start;
      let bytes = 0;
      while (
        end < stream.ops.length &&
        end - start < ctx.maxRecords &&
        (end === start || bytes < ctx.maxBytes)
      ) {
        bytes += stream.ops[end]!.bytes;
        end++;
      }
      const records = stream.ops.slice(start, end);
      const cover = start === stream.pos ? stream.cover : undefined;
      units.push({
        stream,
        outcome: sendUnit(
          ctx,
          unitCommand(stream.watermark, stream.pending, records, guard, cover, isCluster(ctx.target)),
        ),
      });
      guard = records[records.length - 1]!.offset;
      start = end;
    }
  }
  return units;
}

/** Settles `count` ops of a stream from `pos` as duplicates then applied (the order the script met them). */
function settle(stream: Stream, duplicates: number, applied: number): void {
  for (let i = 0; i < duplicates; i++) stream.ops[stream.pos + i]!.entry.status = 'duplicate';
  for (let i = 0; i < applied; i++) stream.ops[stream.pos + duplicates + i]!.entry.status = 'applied';
  const n = duplicates + applied;
  if (n > 0) {
    stream.guard = stream.ops[stream.pos + n - 1]!.offset;
    stream.pos += n;
    stream.cover = undefined;
  }
}

/**
 * Applies the streams of one shard until each is settled or stopped: units go out in one pipeline, a unit
 * stopped by a data error (`WRONGTYPE`, …) dead-letters that record and goes on after it, a transient
 * failure is retried with backoff while the deadline allows, and a fatal error is thrown. A stream stops
 * (its tail pending) when its retries run out or its dead letter cannot be written.
 */
export async function runShard(
  streams: readonly Stream[],
  ctx: ShardRunContext,
  sent: readonly SentUnit[] = [],
): Promise<void> {
  let attempt = 0;
  // Units sent ahead (see sendAhead) are the first round.
  let ahead: readonly SentUnit[] | undefined = sent.length > 0 ? sent : undefined;
  for (;;) {
    // A stream whose last op was dead-lettered still owes its watermark that offset (its cover).
    const live = streams.filter(
      (s) => s.stopped === undefined && (s.pos < s.ops.length || (ctx.watermarks && s.cover !== undefined)),
    );
    if (live.length === 0) return;
    let transient: LoaderError | undefined;
    const rejected: { stream: Stream; op: Op; letter: DeadLetter }[] = [];
    try {
      const first = ahead;
      ahead = undefined;
      if (ctx.watermarks) await watermarkedRound(first ?? unitsOf(live, ctx), ctx, rejected);
      else await plainRound(live, ctx, rejected);
    } catch (err) {
      const error = classifyError(err);
      if (error instanceof ServerResetError) {
        await ctx.onReset(error, streams);
        continue;
      }
      if (!error.retryable) throw error;
      transient = error;
    }
    if (rejected.length > 0) {
      try {
        await ctx.deadLetters.send(
          rejected.map((r) => r.letter),
          `${ctx.batchId()}-redis-${ctx.shard}-${attempt}-${rejected[0]!.op.offset}`,
        );
        for (const r of rejected) {
          r.op.entry.status = 'dead';
          if (ctx.watermarks && r.stream.ops[r.stream.pos] === r.op) {
            r.stream.pos++;
            r.stream.cover = r.op.offset;
          }
        }
      } catch (err) {
        const reason = `dead letter not written to ${ctx.deadLetters.name}: ${classifyError(err).message}`;
        for (const r of rejected) stopStream(r.stream, reason);
      }
    }
    if (!ctx.watermarks) for (const s of live) s.pos = firstPending(s);
    if (transient === undefined) {
      attempt = 0;
      continue;
    }
    const delay = ctx.retry === false ? 0 : backoffDelay(attempt, ctx.retry);
    if (ctx.retry === false || attempt >= ctx.retry.retries || !ctx.mayWait(delay)) {
      for (const s of live) stopStream(s, transient.message);
      return;
    }
    attempt++;
    await sleep(delay);
  }
}

/**
 * One pipeline of watermarked units; settles what Redis confirmed, queues data errors of scripts for dead
 * letters, and reviews each stream's transactions as their replies come in (see {@link reviewTransactions}).
 */
async function watermarkedRound(
  units: readonly SentUnit[],
  ctx: ShardRunContext,
  rejected: { stream: Stream; op: Op; letter: DeadLetter }[],
): Promise<void> {
  const transactions = new Map<Stream, SentUnit[]>();
  for (const u of units) {
    if (u.transaction === undefined) continue;
    let list = transactions.get(u.stream);
    if (list === undefined) transactions.set(u.stream, (list = []));
    list.push(u);
  }
  const reviews = [...transactions].map(([stream, list]) => reviewTransactions(stream, list, ctx));
  const outcomes = await Promise.all(units.map((u) => u.outcome));
  const halted = new Set<Stream>();
  let transient: LoaderError | undefined;
  let fatal: LoaderError | undefined;
  const fail = (error: LoaderError): void => {
    if (error instanceof ServerResetError || !error.retryable) fatal ??= error;
    else transient ??= error;
  };
  for (let i = 0; i < units.length; i++) {
    const unit = units[i]!;
    const stream = unit.stream;
    const outcome = outcomes[i]!;
    if (unit.transaction !== undefined || halted.has(stream)) continue;
    if (outcome.status === 'rejected') {
      halted.add(stream);
      fail(classifyError(outcome.reason));
      continue;
    }
    const reply = parseUnitReply(outcome.value[0]!);
    if (reply.status === 'done') {
      settle(stream, reply.duplicates, reply.applied);
      stream.cover = undefined;
      ctx.confirmed(stream.watermark, stream.ops[stream.pos - 1]!.offset);
      continue;
    }
    halted.add(stream);
    if (reply.status === 'blocked') {
      // A unit after a stopped one of the same stream (that one halted the stream already), or one whose guard
      // a pending mark of another delivery is at or below (its review has not moved the mark on yet).
      transient ??= new RetryableError(
        `watermark ${stream.watermark} (at ${reply.watermark}) or its pending mark is not past the unit's guard`,
      );
      continue;
    }
    if (reply.status === 'refused') {
      fail(classifyReplyError(reply.error, { shard: ctx.target.name, command: 'EVAL', index: i }));
      continue;
    }
    settle(stream, reply.duplicates, reply.applied);
    if (stream.pos > 0) ctx.confirmed(stream.watermark, stream.ops[stream.pos - 1]!.offset);
    const op = stream.ops[stream.pos]!;
    // An op is one write and maybe an EXPIRE: the write is what a data error is about.
    const error = classifyReplyError(reply.error, {
      shard: ctx.target.name,
      command: String(op.commands[0]?.args[0] ?? ''),
    });
    if (error instanceof InputError) {
      rejected.push({ stream, op, letter: redisDeadLetter(op, error.name, error.message) });
    } else {
      fail(error);
    }
  }
  for (const error of await Promise.all(reviews)) if (error) fail(error);
  // Everything answered is settled first: a reset check or a fatal stop then knows what was confirmed.
  if (fatal) throw fatal;
  if (transient) throw transient;
}

/**
 * Reviews a stream's transactions of one round, in order, as their replies come in. For each one that ran:
 * the records whose write failed go to the dead letters, then the stream's pending mark is moved up to the
 * next transaction's first record (or cleared after the last), and only then are its records confirmed. Until
 * the mark has passed them, the scripts apply a transaction's records again instead of skipping them, so a
 * crash, a lost connection or a failed dead letter in between loses nothing: the records not confirmed are
 * applied again by the next round's scripts or by a redelivery. The marks go out as each reply arrives, so a
 * cut confirms every transaction reviewed before it. Returns the error that ended the review, if any.
 */
async function reviewTransactions(
  stream: Stream,
  units: readonly SentUnit[],
  ctx: ShardRunContext,
): Promise<LoaderError | undefined> {
  // Per transaction reviewed: how many of its ops (from the stream's `pos`) to settle once its mark moved.
  const moves: { count: number; dead: readonly Op[]; moved: Promise<boolean | LoaderError> }[] = [];
  let error: LoaderError | undefined;
  let stop: string | undefined;
  for (let i = 0; i < units.length; i++) {
    const tx = units[i]!.transaction!;
    const outcome = await units[i]!.outcome;
    if (outcome.status === 'rejected') {
      error = classifyError(outcome.reason);
      break;
    }
    const reply = parseTransactionReplies(outcome.value, tx.count);
    // Discarded: nothing ran; the next round applies the rest with scripts (duplicates, or the mark's range).
    if (reply.status === 'discarded') break;
    if (reply.status === 'refused') {
      error = reply.unchecked
        ? new FatalError(
            `transaction on ${ctx.target.name} ran although its check was refused (${reply.error}): ` +
              `${stream.topic}-${stream.partition} offsets ${stream.ops[tx.start]!.offset}-` +
              `${stream.ops[tx.start + tx.count - 1]!.offset} were written without their duplicate check; ` +
              `replay that partition from the first of them`,
          )
        : classifyReplyError(reply.error, { shard: ctx.target.name, command: 'EXEC' });
      break;
    }
    const letters: { op: Op; letter: DeadLetter }[] = [];
    for (const f of reply.failed) {
      const op = stream.ops[tx.start + f.index]!;
      const failure = classifyReplyError(f.error, {
        shard: ctx.target.name,
        command: String(op.commands[0]?.args[0] ?? ''),
      });
      if (!(failure instanceof InputError)) {
        error = failure;
        break;
      }
      letters.push({ op, letter: redisDeadLetter(op, failure.name, failure.message) });
    }
    if (error) break;
    if (letters.length > 0) {
      try {
        await ctx.deadLetters.send(
          letters.map((l) => l.letter),
          `${ctx.batchId()}-redis-${ctx.shard}-tx-${letters[0]!.op.offset}`,
        );
      } catch (err) {
        // The records before the first failed one are confirmed once the mark is moved up to it; from it on
        // the stream stops, so their redelivery applies them again (and the failed one fails again).
        const first = letters[0]!.op;
        stop = `dead letter not written to ${ctx.deadLetters.name}: ${classifyError(err).message}`;
        moves.push({
          count: reply.failed[0]!.index,
          dead: [],
          moved: settlePending(stream, String(first.offset), ctx),
        });
        break;
      }
    }
    const next = units[i + 1]?.transaction;
    const to = next === undefined ? '' : String(stream.ops[next.start]!.offset);
    moves.push({
      count: tx.count,
      dead: letters.map((l) => l.op),
      moved: settlePending(stream, to, ctx),
    });
  }
  for (const m of moves) {
    const moved = await m.moved;
    // Not the stream's own any more (a script of another delivery moved it): what follows is applied again.
    if (moved !== true) {
      if (moved !== false) error ??= moved;
      break;
    }
    settleApplied(stream, m.count, m.dead, ctx);
  }
  if (stop !== undefined) stopStream(stream, stop);
  return error;
}

/**
 * Runs {@link CLEAR_PENDING_SCRIPT} for a stream's mark: `true` when it was the stream's own (and is now gone,
 * or moved to `to`), `false` when it was not, or the error that kept the answer away.
 */
async function settlePending(
  stream: Stream,
  to: string,
  ctx: ShardRunContext,
): Promise<boolean | LoaderError> {
  try {
    ctx.onSent(1);
    const [reply] = await ctx.target.exec([
      { key: stream.pending, args: ['EVAL', CLEAR_PENDING_SCRIPT, '1', stream.pending, stream.token, to] },
    ]);
    if (reply instanceof ReplyError)
      return classifyReplyError(reply.message, { shard: ctx.target.name, command: 'EVAL' });
    return reply === 1;
  } catch (err) {
    return classifyError(err);
  }
}

/** Settles `count` ops of a stream from its `pos` as applied, or dead-lettered when in `dead`, and confirms them. */
function settleApplied(stream: Stream, count: number, dead: readonly Op[], ctx: ShardRunContext): void {
  if (count <= 0) return;
  settle(stream, 0, count);
  for (const op of dead) op.entry.status = 'dead';
  ctx.confirmed(stream.watermark, stream.guard!);
}

/** One pipeline of plain commands (no watermarks: at-least-once); every op still pending is sent. */
async function plainRound(
  live: readonly Stream[],
  ctx: ShardRunContext,
  rejected: { stream: Stream; op: Op; letter: DeadLetter }[],
): Promise<void> {
  const cmds: Command[] = [];
  // Per command, the index of its op in `sentOps` (no object per command: this runs for every record).
  const opOf: number[] = [];
  const sentOps: Op[] = [];
  const streamOf: Stream[] = [];
  for (const s of live) {
    for (let i = s.pos; i < s.ops.length; i++) {
      const op = s.ops[i]!;
      if (op.entry.status !== 'pending') continue;
      const at = sentOps.length;
      sentOps.push(op);
      streamOf.push(s);
      for (const c of op.commands) {
        cmds.push(c);
        opOf.push(at);
      }
    }
  }
  ctx.onSent(cmds.length);
  const replies = await ctx.target.exec(cmds);
  const failed = new Set<number>();
  let transient: LoaderError | undefined;
  for (let i = 0; i < replies.length; i++) {
    const reply = replies[i];
    if (!(reply instanceof ReplyError)) continue;
    const at = opOf[i]!;
    if (failed.has(at)) continue;
    failed.add(at);
    const op = sentOps[at]!;
    const error = classifyReplyError(reply.message, {
      shard: ctx.target.name,
      command: String(cmds[i]!.args[0]),
      index: i,
    });
    if (error instanceof InputError)
      rejected.push({ stream: streamOf[at]!, op, letter: redisDeadLetter(op, error.name, error.message) });
    else if (error.retryable) transient ??= error;
    else throw error;
  }
  for (let at = 0; at < sentOps.length; at++) if (!failed.has(at)) sentOps[at]!.entry.status = 'applied';
  if (transient) throw transient;
}

/** The first op of a stream still pending (plain mode moves `pos` over everything settled). */
export function firstPending(stream: Stream): number {
  let i = stream.pos;
  while (i < stream.ops.length && stream.ops[i]!.entry.status !== 'pending') i++;
  return i;
}
