import type { Command } from '../redis/index.js';
import { traceIdOf } from './trace.js';
import type { DeadLetter, KafkaMessage } from './types.js';

/** Where a record stands while its batch is processed. */
export type EntryStatus = 'pending' | 'applied' | 'duplicate' | 'dead';

/**
 * One record of a batch and its fate so far. Its trace id is read from its headers only when something
 * reports about the record (a dead letter, a log line): most records never need it.
 */
export class Entry {
  status: EntryStatus = 'pending';
  /** Why a pending record was not confirmed (set when its stream stops). */
  reason?: string;
  #traceId: string | undefined | null = null;

  constructor(
    readonly message: KafkaMessage,
    private readonly traceHeader: string,
  ) {}

  get traceId(): string | undefined {
    if (this.#traceId === null) this.#traceId = traceIdOf(this.message, this.traceHeader);
    return this.#traceId;
  }
}

/** A record bound for one shard: its entry and the commands that apply it. */
export interface Op {
  readonly entry: Entry;
  readonly offset: number;
  readonly commands: readonly Command[];
  /** Approximate encoded size, for bounding units. */
  readonly bytes: number;
}

/**
 * The records of one partition bound for one shard, in offset order: the unit of ordering and of the
 * watermark. `pos` is the first op not yet settled; every op before it is applied, a duplicate or dead-lettered.
 */
export interface Stream {
  readonly shard: number;
  readonly topic: string;
  readonly partition: number;
  readonly watermark: string;
  /** The pending mark beside the watermark (see `transactionUnit`). */
  readonly pending: string;
  /** Random per delivery: marks the pending marks this stream's transactions set (see `transactionUnit`). */
  readonly token: string;
  readonly ops: Op[];
  pos: number;
  /** The offset the watermark must have reached before the op at `pos` may run (the last settled op's). */
  guard: number | undefined;
  /** A dead-lettered offset to raise the watermark to with the next unit. */
  cover: number | undefined;
  /** Set when the stream stops before its end; its remaining ops stay pending with this reason. */
  stopped: string | undefined;
}

/** The approximate RESP size of a command (for unit bounds; exactness does not matter). */
export function commandBytes(cmd: Command): number {
  let n = 16;
  for (const a of cmd.args) n += a.length + 8;
  return n;
}

/** Marks `ops[from..]` of a stream as stopped (pending) with `reason`. */
export function stopStream(stream: Stream, reason: string): void {
  stream.stopped ??= reason;
  for (let i = stream.pos; i < stream.ops.length; i++) stream.ops[i]!.entry.reason ??= reason;
}

/** A dead letter for an op Redis refused because of its data. */
export function redisDeadLetter(op: Op, errorClass: string, reason: string): DeadLetter {
  return { message: op.entry.message, errorClass, reason, traceId: op.entry.traceId };
}
