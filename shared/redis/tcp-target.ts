import net from 'node:net';
import tls from 'node:tls';
import {
  AuthError,
  ConfigError,
  classifyError,
  classifyReplyError,
  FatalError,
  ServerResetError,
  truncate,
} from '../errors/index.js';
import { Connection, encodedPipeline, type Pipeline, plainTextPort } from './connection.js';
import { encodeCommands } from './resp.js';
import { parseInfo } from './info.js';
import {
  type Command,
  type ExecOptions,
  type RedisInfo,
  type Reply,
  ReplyError,
  type ServerIdentity,
  type Target,
} from './types.js';
import { parseRedisUrl, type RedisEndpoint } from './url.js';

/** Options of {@link TcpTarget}; unknown keys are rejected. */
export interface TcpTargetOptions {
  /** Time allowed for TCP (and TLS) connect plus the AUTH/SELECT handshake. @default 10000 */
  connectTimeoutMs?: number;
  /** Longest wait for the oldest pipeline in flight before the connection is dropped. @default 60000 */
  commandTimeoutMs?: number;
  /** Extra `tls.connect` options for `rediss://` (CA, client certificate, …). */
  tls?: tls.ConnectionOptions;
  /** Sent with `CLIENT SETNAME`, visible in `CLIENT LIST`. @default 'redis-bulk-loader' */
  clientName?: string;
}

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 60_000,
  clientName: 'redis-bulk-loader',
} as const;
const OPTION_KEYS = new Set(['connectTimeoutMs', 'commandTimeoutMs', 'tls', 'clientName']);
/**
 * A TLS server answers the ClientHello within a round trip; a plain-text Redis never does (it waits for a
 * newline that the binary ClientHello lacks). After this long without an answer a second, plain connection
 * asks the port `PING`: a RESP reply means the port speaks plain text.
 */
const TLS_SILENCE_MS = 1_000;

/**
 * Whether `host:port` answers an inline `PING` with RESP (`+PONG`, or `-NOAUTH`…): a plain-text Redis. Anything
 * else — TLS alert bytes, a hang-up, silence until `timeoutMs` — is not. `cancel` ends the probe early.
 */
function answersPlainText(
  host: string,
  port: number,
  timeoutMs: number,
): { result: Promise<boolean>; cancel(): void } {
  const socket = net.connect({ host, port });
  let settle: (plain: boolean) => void = () => {};
  const result = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => settle(false), timeoutMs);
    timer.unref();
    settle = (plain) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(plain);
    };
  });
  socket.once('connect', () => socket.write('PING\r\n'));
  socket.once('data', (chunk: Buffer) => settle(chunk[0] === 0x2b || chunk[0] === 0x2d));
  socket.once('error', () => settle(false));
  socket.once('close', () => settle(false));
  return { result, cancel: () => settle(false) };
}

function checkOptions(options: TcpTargetOptions): void {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new ConfigError(`TcpTarget: unknown option '${key}'`);
  }
  for (const key of ['connectTimeoutMs', 'commandTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new ConfigError(`TcpTarget: ${key} must be a positive number of milliseconds, got ${value}`);
    }
  }
}

/**
 * A {@link Target} speaking RESP2 over one `node:net` (or `node:tls` for `rediss://`) socket, without a client
 * library: each `exec` is encoded into one Buffer and written with one `socket.write`, and any number of
 * pipelines may be in flight at once. It connects on first use (`AUTH`, `SELECT`, `CLIENT SETNAME`), never
 * retries by itself, and after a connection failure the next `exec` connects again.
 *
 * Errors: connection refused, lost or timed out → {@link RetryableError} (a timeout names the phase that got no
 * answer: TCP connect, TLS handshake, or `no reply within N ms` to AUTH/SELECT/CLIENT SETNAME); wrong
 * credentials at connect → {@link AuthError}; a bad db, a certificate the CA does not vouch for, or a
 * `rediss://` URL reaching a plain-text port (`… did not answer the TLS handshake: is this a plain-text port?
 * use redis://`) → {@link ConfigError}, which no retry can fix. Server error replies to commands are {@link ReplyError}
 * values in the reply array.
 *
 * @example
 * const target = new TcpTarget('redis://:secret@10.0.0.5:6379/0');
 * const replies = await target.exec([{ key: 'user:1', args: ['SET', 'user:1', '42'] }]); // ['OK']
 * await target.close();
 */
export class TcpTarget implements Target {
  /**
   * One connection, pipelines in order: `WATCH … EXEC` in one pipeline is one transaction. Not offered for an
   * Upstash host (`*.upstash.io`), which bills every command: a watermarked unit as one script is one
   * command there, as a transaction one per record and six more.
   */
  readonly transactions: boolean;
  private readonly endpoint: RedisEndpoint;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly tlsOptions: tls.ConnectionOptions;
  private readonly clientName: string;
  private conn: Connection | undefined;
  private connecting: Promise<void> | undefined;
  private waiting: Pipeline[] = [];
  private closing: Promise<void> | undefined;
  /** The identity of the server at the last connection; a reconnect to another one is a reset. */
  private seen: ServerIdentity | undefined;
  private resetCount = 0;

  /**
   * Parses the URL and options only; the connection is made by the first `exec`.
   * @throws {ConfigError} for an invalid URL or option.
   */
  constructor(url: string, options: TcpTargetOptions = {}) {
    checkOptions(options);
    this.endpoint = parseRedisUrl(url);
    this.transactions = !/(^|\.)upstash\.io$/i.test(this.endpoint.host);
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs;
    this.tlsOptions = options.tls ?? {};
    this.clientName = options.clientName ?? DEFAULTS.clientName;
  }

  /** The endpoint with the password redacted: `redis://user:***@host:6379/0`. */
  get name(): string {
    return this.endpoint.name;
  }

  /** Sends `cmds` as one pipeline; resolves with one reply per command, in order. `[]` needs no I/O. */
  exec(cmds: readonly Command[], options?: ExecOptions): Promise<Reply[]> {
    if (cmds.length === 0) return Promise.resolve([]);
    return this.execEncoded(encodeCommands(cmds), cmds.length, options);
  }

  /** The server behind the current (or last) connection; see {@link Target.identity}. */
  identity(): ServerIdentity | undefined {
    return this.seen;
  }

  /** How often a reconnect found another server (a restart or failover) since this target was made. */
  get resets(): number {
    return this.resetCount;
  }

  /** Pipelines awaiting replies and bytes not yet handed to the kernel, for backpressure checks. */
  get stats(): { pending: number; bufferedBytes: number } {
    return {
      pending: (this.conn?.pending ?? 0) + this.waiting.length,
      bufferedBytes: this.conn?.bufferedBytes ?? 0,
    };
  }

  /**
   * Sends `count` commands already encoded as RESP (see `encodeCommands`). The bulk writer encodes each
   * pipeline once and keeps only these bytes for a replay, so the command objects die young.
   */
  execEncoded(payload: Buffer, count: number, options?: ExecOptions): Promise<Reply[]> {
    if (count === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const p = encodedPipeline(payload, count, resolve, reject);
      if (options?.buffers) p.buffers = true;
      if (this.conn) {
        this.conn.send(p);
        return;
      }
      // Queued in call order and flushed together once connected, so concurrent execs keep their order.
      this.waiting.push(p);
      this.connecting ??= this.connect();
    });
  }

  /** Runs `INFO` for `sections` (all when omitted) and parses it. */
  async info(sections: readonly string[] = []): Promise<RedisInfo> {
    const [reply] = await this.exec([{ args: ['INFO', ...sections] }]);
    if (reply instanceof ReplyError) throw classifyReplyError(reply.message);
    if (typeof reply !== 'string') throw new FatalError(`INFO on ${this.name} did not return text`);
    return parseInfo(reply);
  }

  /** Closes the connection (`QUIT` when idle; pipelines in flight reject). Idempotent; a later `exec` reconnects. */
  close(): Promise<void> {
    this.closing ??= this.shutdown().finally(() => {
      this.closing = undefined;
    });
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.connecting) await this.connecting;
    const conn = this.conn;
    this.conn = undefined;
    await conn?.quit();
  }

  /** Opens a connection and hands it the waiting pipelines; never rejects (failures go to the waiting pipelines). */
  private async connect(): Promise<void> {
    let conn: Connection | undefined;
    try {
      conn = await this.open();
    } catch (err) {
      const error = classifyError(err);
      for (const p of this.waiting.splice(0)) p.reject(error);
      return;
    } finally {
      this.connecting = undefined;
    }
    if (!conn.failure) this.conn = conn;
    const reset = this.checkIdentity(conn.identity);
    for (const p of this.waiting.splice(0)) {
      if (reset) p.reject(reset);
      else conn.send(p);
    }
  }

  /**
   * Compares the identity of a new connection's server with the last one seen. A change is a reset: the
   * pipelines waiting for this connection fail with it (once), and the new identity is the one compared next.
   */
  private checkIdentity(now: ServerIdentity | undefined): ServerResetError | undefined {
    const before = this.seen;
    if (now === undefined) return undefined;
    this.seen = now;
    if (before === undefined) return undefined;
    const reset = serverReset(this.name, before, now);
    if (reset) this.resetCount++;
    return reset;
  }

  private async open(): Promise<Connection> {
    const { host, port } = this.endpoint;
    const socket = this.endpoint.tls
      ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined, ...this.tlsOptions })
      : net.connect({ host, port });
    const conn = new Connection(socket, this.name, this.commandTimeoutMs, (down) => {
      if (this.conn === down) this.conn = undefined;
    });
    const started = Date.now();
    const timer = setTimeout(
      () => conn.fail(conn.timeoutError(this.connectTimeoutMs)),
      this.connectTimeoutMs,
    );
    timer.unref();
    let probe: { cancel(): void } | undefined;
    let silence: NodeJS.Timeout | undefined;
    if (this.endpoint.tls) {
      // Silence after the TCP connect is the sign of a plain-text port: ask it in plain text.
      socket.once('connect', () => {
        silence = setTimeout(
          () => {
            if (!conn.inTlsHandshake) return;
            const plain = answersPlainText(host, port, this.connectTimeoutMs - (Date.now() - started));
            probe = plain;
            void plain.result.then((yes) => {
              if (yes) conn.fail(plainTextPort(this.name));
            });
          },
          Math.min(TLS_SILENCE_MS, this.connectTimeoutMs / 2),
        );
        silence.unref();
      });
    }
    try {
      await conn.connected;
      await this.handshake(conn);
      return conn;
    } catch (err) {
      conn.fail(classifyError(err));
      throw err;
    } finally {
      clearTimeout(timer);
      clearTimeout(silence);
      probe?.cancel();
    }
  }

  private async handshake(conn: Connection): Promise<void> {
    const { username, password, db } = this.endpoint;
    const cmds: Command[] = [];
    if (password !== undefined) {
      cmds.push({ args: username === undefined ? ['AUTH', password] : ['AUTH', username, password] });
    }
    if (db !== 0) cmds.push({ args: ['SELECT', String(db)] });
    cmds.push({ args: ['CLIENT', 'SETNAME', this.clientName] });
    // Who the server is, so a reconnect can tell a restarted (or failed-over) server from the same one.
    cmds.push({ args: ['INFO', 'server'] }, { args: ['INFO', 'replication'] });
    const replies = await conn.request(cmds);
    conn.identity = identityOf(replies[replies.length - 2], replies[replies.length - 1]);
    if (password !== undefined) {
      const auth = replies[0];
      if (auth instanceof ReplyError) throw this.authError(auth);
    }
    if (db !== 0) {
      const select = replies[password === undefined ? 0 : 1];
      if (select instanceof ReplyError) {
        if (classifyReplyError(select.message) instanceof AuthError) throw this.authError(select);
        throw new ConfigError(`SELECT ${db} on ${this.name} failed: ${this.serverText(select)}`);
      }
    }
    // CLIENT SETNAME is cosmetic: an error reply (old server, odd name) is ignored. So is a refused INFO
    // (renamed on some managed services): reset detection is then unavailable for this shard.
  }

  private authError(reply: ReplyError): AuthError {
    return new AuthError(
      `authentication to ${this.name} failed: check the user and password in the URL (redis: ${this.serverText(reply)})`,
    );
  }

  /** The server's error text, cut short and with the password scrubbed should the server ever echo it. */
  private serverText(reply: ReplyError): string {
    const { password } = this.endpoint;
    const text = password ? reply.message.split(password).join('***') : reply.message;
    return truncate(text);
  }
}

/** The identity in `INFO server` and `INFO replication` replies; undefined when the server refused them. */
function identityOf(server: Reply | undefined, replication: Reply | undefined): ServerIdentity | undefined {
  if (typeof server !== 'string') return undefined;
  const info = parseInfo(server).server;
  const runId = info?.run_id;
  if (runId === undefined) return undefined;
  const replId =
    typeof replication === 'string' ? parseInfo(replication).replication?.master_replid : undefined;
  const uptime = Number(info?.uptime_in_seconds);
  return {
    runId,
    ...(replId === undefined ? {} : { replId }),
    ...(Number.isFinite(uptime) ? { uptimeSeconds: uptime } : {}),
  };
}

/**
 * The {@link ServerResetError} for a shard that was `before` and is `now` another server (another `run_id`, or
 * another `master_replid`), or undefined when it is the same one.
 *
 * @example
 * serverReset('redis://10.0.0.5:6379/0', { runId: 'a' }, { runId: 'b' })?.message; // '… restarted (run_id a → b): …'
 */
export function serverReset(
  shard: string,
  before: ServerIdentity,
  now: ServerIdentity,
): ServerResetError | undefined {
  const restarted = now.runId !== before.runId;
  const replaced = before.replId !== undefined && now.replId !== undefined && now.replId !== before.replId;
  if (!restarted && !replaced) return undefined;
  const short = (id: string | undefined) => (id === undefined ? '?' : id.slice(0, 12));
  const what = restarted
    ? `restarted (run_id ${short(before.runId)} → ${short(now.runId)}` +
      `${now.uptimeSeconds === undefined ? '' : `, up ${now.uptimeSeconds} s`})`
    : `changed replication history (master_replid ${short(before.replId)} → ${short(now.replId)}: failover or resync)`;
  return new ServerResetError(`${shard} ${what}: writes it confirmed before may be lost`, {
    shard,
    before: { runId: before.runId, ...(before.replId === undefined ? {} : { replId: before.replId }) },
    after: {
      runId: now.runId,
      ...(now.replId === undefined ? {} : { replId: now.replId }),
      ...(now.uptimeSeconds === undefined ? {} : { uptimeSeconds: now.uptimeSeconds }),
    },
  });
}
