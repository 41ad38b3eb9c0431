import type net from 'node:net';
import tls from 'node:tls';
import {
  ConfigError,
  classifyError,
  classifyReplyError,
  FatalError,
  InputError,
  type LoaderError,
  RetryableError,
} from '../errors/index.js';
import { encodeCommands, ReplyParser } from './resp.js';
import { type Command, type Reply, ReplyError, type ServerIdentity } from './types.js';

/** How long `close()` waits for the server to hang up after `QUIT` before destroying the socket. */
const QUIT_WAIT_MS = 1_000;
/** TCP keepalive probes start after this much idle time, so a peer that vanished (NAT, failover) is noticed. */
const KEEPALIVE_MS = 15_000;

/** One `exec`: its encoded bytes, how many replies it waits for, and how to settle it. */
export interface Pipeline {
  readonly count: number;
  readonly payload: Buffer;
  readonly replies: Reply[];
  readonly resolve: (replies: Reply[]) => void;
  readonly reject: (err: LoaderError) => void;
  /** Bulk-string replies as Buffers (binary-safe) rather than UTF-8 strings. */
  buffers: boolean;
  sentAt: number;
}

/** Encodes `cmds` into a {@link Pipeline} settled through `resolve`/`reject`. */
export function pipeline(
  cmds: readonly Command[],
  resolve: (replies: Reply[]) => void,
  reject: (err: LoaderError) => void,
): Pipeline {
  return encodedPipeline(encodeCommands(cmds), cmds.length, resolve, reject);
}

/** A {@link Pipeline} of `count` commands already encoded as RESP in `payload`. */
export function encodedPipeline(
  payload: Buffer,
  count: number,
  resolve: (replies: Reply[]) => void,
  reject: (err: LoaderError) => void,
): Pipeline {
  return { count, payload, replies: [], resolve, reject, buffers: false, sentAt: 0 };
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One socket with its parser and its FIFO of pipelines in flight. Once failed it is never used again. */
export class Connection {
  /** Resolves when the socket has connected (after the TLS handshake for `rediss://`). */
  readonly connected: Promise<void>;
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  /** Why the connection failed; set once, after which every send rejects with it. */
  failure: LoaderError | undefined;
  /** Who the server is, read during the handshake. */
  identity: ServerIdentity | undefined;
  /** The TCP connection is up (for `rediss://`, the TLS handshake may still be under way). */
  private tcpConnected = false;
  private isConnected = false;
  private quitting = false;
  private readonly queue: Pipeline[] = [];
  /** Payloads waiting for the socket to drain: written once `socket.write` asked us to wait, in order. */
  private readonly unwritten: Buffer[] = [];
  private unwrittenBytes = 0;
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly parser = new ReplyParser((reply) => this.onReply(reply));
  private rejectConnected: (err: LoaderError) => void = () => {};

  constructor(
    private readonly socket: net.Socket,
    private readonly name: string,
    private readonly commandTimeoutMs: number,
    private readonly onDown: (conn: Connection) => void,
  ) {
    socket.once('connect', () => {
      this.tcpConnected = true;
    });
    this.connected = new Promise((resolve, reject) => {
      this.rejectConnected = reject;
      socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
        this.isConnected = true;
        socket.setNoDelay(true);
        socket.setKeepAlive(true, KEEPALIVE_MS);
        resolve();
      });
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (err) {
        this.fail(classifyError(err));
      }
    });
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => this.fail(this.socketError(err)));
    socket.on('close', () => this.fail(this.socketError(new Error('connection closed'))));
  }

  /** Queues a pipeline and writes it with a single `socket.write`. */
  send(p: Pipeline): void {
    if (this.failure) {
      p.reject(this.failure);
      return;
    }
    p.sentAt = Date.now();
    this.queue.push(p);
    if (this.queue.length === 1) {
      // Only work in flight keeps the process alive; an idle pooled connection must not.
      this.socket.ref();
      this.parser.buffers = p.buffers;
      this.timer ??= this.armTimer(this.commandTimeoutMs);
    }
    // Honour backpressure: once the socket asks us to wait, later payloads wait here until it drains rather
    // than piling up in the socket's own buffer behind a server that stopped reading.
    if (this.draining) {
      this.unwritten.push(p.payload);
      this.unwrittenBytes += p.payload.length;
    } else if (!this.socket.write(p.payload)) this.draining = true;
  }

  /** Bytes handed to this connection but not yet passed to the kernel (ours plus the socket's buffer). */
  get bufferedBytes(): number {
    return this.unwrittenBytes + this.socket.writableLength;
  }

  /** Pipelines awaiting replies. */
  get pending(): number {
    return this.queue.length;
  }

  private onDrain(): void {
    this.draining = false;
    while (this.unwritten.length > 0 && !this.draining) {
      const payload = this.unwritten.shift()!;
      this.unwrittenBytes -= payload.length;
      if (!this.socket.write(payload)) this.draining = true;
    }
  }

  /** True while the TCP connection is up but the TLS handshake has not finished (`rediss://` only). */
  get inTlsHandshake(): boolean {
    return this.tcpConnected && !this.isConnected && this.socket instanceof tls.TLSSocket;
  }

  /**
   * The error for a connection not ready within `ms`, naming the phase that got no answer: the TCP connect,
   * the TLS handshake, or the AUTH/SELECT/CLIENT SETNAME handshake (a port that accepts but never replies).
   */
  timeoutError(ms: number): RetryableError {
    const phase = !this.tcpConnected
      ? `connect timeout after ${ms} ms`
      : this.isConnected
        ? `connected, but no reply within ${ms} ms to the handshake (AUTH/SELECT/CLIENT SETNAME): is it a Redis server?`
        : `connected, but no reply within ${ms} ms to the TLS handshake`;
    return new RetryableError(`cannot connect to ${this.name}: ${phase}`);
  }

  /** Sends `cmds` as one pipeline and resolves with their replies. */
  request(cmds: readonly Command[]): Promise<Reply[]> {
    return new Promise((resolve, reject) => this.send(pipeline(cmds, resolve, reject)));
  }

  /** Drops the socket; every pipeline in flight rejects with `err`. Only the first failure counts. */
  fail(err: LoaderError): void {
    if (this.failure) return;
    this.failure = err;
    clearTimeout(this.timer);
    this.socket.destroy();
    this.unwritten.length = 0;
    this.unwrittenBytes = 0;
    this.rejectConnected(err);
    for (const p of this.queue.splice(0)) p.reject(this.lastWord(p) ?? err);
    this.onDown(this);
  }

  /**
   * A server that refuses a client says why and hangs up (`-ERR max number of clients reached`): that reason,
   * not the broken pipe that follows, is the pipeline's error, so it is not retried as a lost connection.
   */
  private lastWord(p: Pipeline): LoaderError | undefined {
    const said = p.replies.find((r): r is ReplyError => r instanceof ReplyError);
    if (said === undefined) return undefined;
    const error = classifyReplyError(said.message, { shard: this.name });
    return error.retryable || error instanceof InputError ? undefined : error;
  }

  /** Ends politely with `QUIT` when idle, else destroys (pipelines in flight reject); resolves once closed. */
  async quit(): Promise<void> {
    if (this.failure || this.queue.length > 0 || !this.isConnected) {
      this.fail(new RetryableError(`connection to ${this.name} closed by close() with commands in flight`));
      await this.closed;
      return;
    }
    this.quitting = true;
    this.socket.ref();
    this.send(pipeline([{ args: ['QUIT'] }], noop, noop));
    this.socket.end();
    // The server hangs up after QUIT; a server that does not is cut off. The guard stays referenced so the
    // process waits for the hang-up (at most QUIT_WAIT_MS) instead of exiting with close() unsettled.
    const guard = setTimeout(() => this.socket.destroy(), QUIT_WAIT_MS);
    await this.closed;
    clearTimeout(guard);
  }

  private onReply(reply: Reply): void {
    const p = this.queue[0];
    if (p === undefined) {
      // After QUIT its +OK may still arrive; anything else means the stream is out of step.
      if (!this.quitting) this.fail(new FatalError(`protocol error: ${this.name} sent an unexpected reply`));
      return;
    }
    p.replies.push(reply);
    if (p.replies.length < p.count) return;
    this.queue.shift();
    const next = this.queue[0];
    if (next !== undefined) this.parser.buffers = next.buffers;
    // Idle connections must not keep the process alive — but one that is quitting must stay referenced
    // until the server hangs up, or the process could exit while close() is still awaited.
    if (this.queue.length === 0 && !this.quitting) this.socket.unref();
    p.resolve(p.replies);
  }

  /**
   * One timer for the whole queue: when it fires it checks only the oldest pipeline and re-arms for the time
   * that one has left, so sending never touches timers while work is in flight.
   */
  private armTimer(delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timer = undefined;
      const oldest = this.queue[0];
      if (oldest === undefined) return;
      const waited = Date.now() - oldest.sentAt;
      if (waited < this.commandTimeoutMs) {
        this.timer = this.armTimer(this.commandTimeoutMs - waited);
        return;
      }
      this.fail(
        new RetryableError(
          `connection to ${this.name} lost: command timeout, no reply within ${this.commandTimeoutMs} ms`,
        ),
      );
    }, delayMs);
    timer.unref();
    return timer;
  }

  private socketError(err: Error): LoaderError {
    const code = errorCode(err);
    const what = code ?? err.message;
    // A certificate the client rejects will be rejected again: retrying cannot help.
    if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_/.test(code)) {
      const message = `TLS connection to ${this.name} failed: ${what}; check the CA and the tls options`;
      return new ConfigError(message, { cause: err });
    }
    // Bytes that are not TLS in answer to the ClientHello: a plain-text server. It will answer so again.
    if (this.inTlsHandshake && code !== undefined && /^ERR_SSL_|^EPROTO$/.test(code)) {
      return plainTextPort(this.name, { cause: err });
    }
    const message = this.isConnected
      ? `connection to ${this.name} lost: ${what}`
      : `cannot connect to ${this.name}: ${what}`;
    return new RetryableError(message, { cause: err });
  }
}

/** The error for a `rediss://` URL that reached a plain-text port: a configuration mistake, never retried. */
export function plainTextPort(name: string, options: { cause?: unknown } = {}): ConfigError {
  return new ConfigError(
    `${name} did not answer the TLS handshake: is this a plain-text port? use redis://`,
    options,
  );
}

function noop(): void {}
