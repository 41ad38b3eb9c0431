/**
 * What the engine can record during an import, beyond the JSON report, for the HTML report's charts. Every part
 * is optional: the report renders from the JSON report alone, and each section says what was not recorded.
 *
 * Times are milliseconds since the import started (the report's `startedAt`, or `requestedAt` without it), so
 * samples taken by different Lambda invocations line up: `atMs = Date.now() - Date.parse(plan.startedAt)`.
 */

/** Import-wide cumulative counters at one moment (sampled at a bounded interval, e.g. every second). */
export interface ThroughputSample {
  readonly atMs: number;
  /** Records Redis confirmed so far, over the whole import. */
  readonly written: number;
  /** Records rejected so far. */
  readonly rejected: number;
  /** Source bytes consumed so far. */
  readonly bytesRead: number;
}

/** One shard's `INFO memory` at one moment. */
export interface MemorySample {
  readonly atMs: number;
  readonly shard: string;
  /** `used_memory`, bytes. */
  readonly usedMemory: number;
  /** `maxmemory`, bytes; 0 means no limit. */
  readonly maxMemory: number;
}

/** What the memory pre-flight projected for one shard. */
export interface MemoryProjection {
  readonly shard: string;
  /** Projected `used_memory` at the end of the load (used before + growth + transient), bytes. */
  readonly projectedBytes: number;
  /** `maxmemory` when projected, bytes; 0 means no limit. */
  readonly maxMemory: number;
}

/** How a chunk ended, as the timeline knows it. */
export type ChunkSpanStatus = 'completed' | 'failed' | 'running' | 'not completed';

/** When one chunk ran: from its first invocation's start to its last invocation's end. */
export interface ChunkSpan {
  readonly index: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Retries of any kind (pipeline retries inside the chunk and Step Functions task retries). */
  readonly retries: number;
  /** Invocations after the first (the chunk continued after nearing the Lambda timeout). */
  readonly continuations: number;
  readonly status: ChunkSpanStatus;
}

/** One rejected record shown as an example. */
export interface RejectExample {
  /** 1-based line where the record starts, when known. */
  readonly line?: number;
  /** Byte offset of the record in the source. */
  readonly offset: number;
  /** The record's text (user data: the renderer escapes it and cuts it short). */
  readonly raw: string;
}

/** Rejects grouped by reason, with up to 3 examples each. */
export interface RejectReason {
  readonly reason: string;
  readonly count: number;
  readonly examples: readonly RejectExample[];
}

/** MOVED and ASK redirects a Redis Cluster load followed. */
export interface Redirects {
  readonly moved: number;
  readonly ask: number;
}

/** Everything the HTML report can show beyond the JSON report. */
export interface ReportTimeline {
  /** Import-wide cumulative counters; the keys/s chart is drawn from their differences. */
  readonly samples?: readonly ThroughputSample[];
  /** Per-shard memory samples, any order, shards interleaved. */
  readonly memory?: readonly MemorySample[];
  /** The pre-flight's projection per shard. */
  readonly projection?: readonly MemoryProjection[];
  /** One span per chunk. */
  readonly chunks?: readonly ChunkSpan[];
  /** Rejects by reason, with examples. */
  readonly rejectsByReason?: readonly RejectReason[];
  /** Redis commands sent per 100 records written (100 = one command per key; bucketed writes go lower). */
  readonly commandsPer100Keys?: number;
  readonly redirects?: Redirects;
}
