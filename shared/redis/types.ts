/**
 * A Redis command as plain data: `args[0]` is the command name, the rest its arguments.
 * `key` is the key the command touches (routing and error messages use it); commands without a key omit it.
 *
 * @example
 * const set: Command = { key: 'user:1', args: ['SET', 'user:1', '42', 'EX', '3600'] };
 */
export interface Command {
  readonly args: readonly (string | Buffer)[];
  readonly key?: string;
  /**
   * The same command already encoded as one RESP array, when its producer built it as bytes (grouped bucket
   * writes encode `HSET`s straight from their spill): `encodeCommands` copies it as it is. `args` must still
   * describe the very same command, for drivers that do not speak RESP.
   */
  readonly encoded?: Uint8Array;
}

/** A server error reply for one command of a pipeline. It is a value in the reply array, never thrown. */
export class ReplyError {
  /** The error text after `-`, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`. */
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
  /** The first word of the message (`WRONGTYPE`, `OOM`, `LOADING`, `ERR`, …). */
  get prefix(): string {
    const space = this.message.indexOf(' ');
    return space === -1 ? this.message : this.message.slice(0, space);
  }
}

/**
 * One decoded RESP2 reply. Bulk strings are decoded as UTF-8 strings, or kept as bytes (`Buffer`) for a pipeline
 * sent with `{ buffers: true }`; nil is `null`.
 */
export type Reply = string | number | null | ReplyError | Buffer | Reply[];

/** Options of one `exec`. */
export interface ExecOptions {
  /** Return bulk-string replies as `Buffer`s (binary-safe) instead of UTF-8 strings. @default false */
  readonly buffers?: boolean;
}

/**
 * Who a server is: `run_id` changes when the process restarts, `master_replid` when it is promoted, demoted or
 * resynced from another primary. Either change means writes it confirmed before may be gone.
 */
export interface ServerIdentity {
  readonly runId: string;
  readonly replId?: string;
  readonly uptimeSeconds?: number;
}

/** `INFO` output: section name (lower case) -> field -> raw string value. */
export type RedisInfo = Record<string, Record<string, string>>;

/**
 * Where commands go: one Redis endpoint (a shard). Connections are created lazily on first use and reused.
 *
 * - `exec` sends `cmds` as one pipeline and resolves with exactly one reply per command, in order; a server error
 *   reply for a command is a {@link ReplyError} in its slot. It rejects only when the pipeline as a whole failed
 *   (connection lost or refused, timeout, authentication), with an error from `shared/errors`.
 * - `info` runs `INFO` for the given sections (all when omitted) and parses it.
 * - `close` ends the connection; a later `exec` connects again.
 */
export interface Target {
  /** The endpoint with any password redacted, safe for logs: `redis://user:***@10.0.0.5:6379/0`. */
  readonly name: string;
  exec(cmds: readonly Command[], options?: ExecOptions): Promise<Reply[]>;
  /**
   * Optional fast path of drivers that speak RESP: sends `count` commands already encoded with
   * `encodeCommands`, with the same contract as `exec`.
   */
  execEncoded?(payload: Buffer, count: number): Promise<Reply[]>;
  info(sections?: readonly string[]): Promise<RedisInfo>;
  /**
   * The identity of the server behind the current (or last) connection, `undefined` before the first connection
   * or when the server refuses `INFO`. A driver that sees the identity change on a reconnect fails the pipelines
   * sent on the new connection with a `ServerResetError` (once), so a load never counts writes a restarted
   * server may have lost.
   */
  identity?(): ServerIdentity | undefined;
  /**
   * Present on a Redis Cluster: the hash slot of a key. The keys of one multi-key command (a watermarked
   * script) must share a slot, so callers that build such commands group keys by it.
   */
  keySlot?(key: string): number;
  /**
   * True when a pipeline's `WATCH … MULTI … EXEC` reaches one server on one connection, in order (a standalone
   * server over TCP): the Kafka engine then applies idempotent writes in transactions instead of scripts.
   * Absent on a Redis Cluster (a transaction's keys would span slots) and on Upstash REST.
   */
  readonly transactions?: boolean;
  /** Present on a Redis Cluster: the `MOVED` and `ASK` redirects it followed since it was made. */
  readonly redirects?: { readonly moved: number; readonly ask: number };
  /** Present on a Redis Cluster: its masters, one target each, for what is asked of every server. */
  members?(): Promise<readonly Target[]>;
  close(): Promise<void>;
}
