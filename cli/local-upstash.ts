import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Command, type Reply, ReplyError, TcpTarget } from '../shared/redis/index.js';

/**
 * An Upstash-REST-compatible endpoint on 127.0.0.1 that runs the commands on a real `redis-server`, for tests
 * of the Upstash driver and of `@upstash/redis` itself. It speaks what Upstash documents and its client sends:
 *
 * - `POST /` with one command as a JSON array (`["SET","k","v"]`) → `{ "result": … }`, or HTTP 400 with
 *   `{ "error": "…" }`;
 * - `POST /pipeline` with an array of commands → an array of `{ "result": … }` / `{ "error": "…" }`, one per
 *   command in order (run as one RESP pipeline, so an error stays in its slot);
 * - `POST /multi-exec` → the same inside `MULTI`/`EXEC`; a transaction Redis discards (`EXECABORT`) is HTTP 400;
 * - `Authorization: Bearer <token>` (or `?_token=`), else HTTP 401 `{ "error": "Unauthorized" }`;
 * - `Upstash-Encoding: base64`: every string of a result base64-encoded, except a top-level status `OK`;
 * - a body larger than `maxRequestBytes` → HTTP 413, nothing run.
 *
 * Faults for retry tests: {@link BridgeFault} answers some requests with 429 (and `Retry-After`), a 5xx, or a
 * cut connection, before or after running them. {@link UpstashBridgeStats} counts what arrived and ran.
 */

/** An injected failure, applied to the requests it selects (counted 1-based over requests that pass auth and size). */
export interface BridgeFault {
  /** HTTP status to answer, or `'reset'` to destroy the connection without an answer. @default 429 */
  readonly status?: number | 'reset';
  /** Selects requests 1..first. */
  readonly first?: number;
  /** Selects every `every`-th request. */
  readonly every?: number;
  /** Sent as `Retry-After` (seconds). */
  readonly retryAfterSeconds?: number;
  /** Run the commands first, then fail: a reply lost after the server applied the writes. @default false */
  readonly afterExecute?: boolean;
}

/** Options of {@link startUpstashBridge}. */
export interface UpstashBridgeOptions {
  /** The `redis://` URL of the server behind the bridge. */
  readonly redisUrl: string;
  /** The token clients must send. @default a random one */
  readonly token?: string;
  /** Largest request body; larger ones get HTTP 413. @default 10 MiB */
  readonly maxRequestBytes?: number;
  readonly fault?: BridgeFault;
}

/** What the bridge has seen; counters only grow. */
export interface UpstashBridgeStats {
  /** HTTP requests received, whatever their fate. */
  requests: number;
  unauthorized: number;
  tooLarge: number;
  /** Requests answered with the injected fault. */
  faults: number;
  /** Requests whose commands ran on Redis. */
  executed: number;
  /** Commands run on Redis (without the MULTI/EXEC around a transaction). */
  commands: number;
  /** Per request that ran: its body size and command count, in arrival order. */
  readonly ran: { path: string; bytes: number; commands: number }[];
  /** Request headers of the last request, lower-case names (for checks of what a client sends). */
  lastHeaders: http.IncomingHttpHeaders;
}

/** A running bridge. */
export interface UpstashBridge {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly token: string;
  readonly stats: UpstashBridgeStats;
  /** Closes the HTTP server (and its connections) and the connection to Redis. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024;

type Json = string | number | null | Json[];

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function encodeValue(reply: Reply, base64: boolean, top: boolean): Json | { error: string } {
  if (reply instanceof ReplyError) return { error: reply.message };
  if (reply === null || typeof reply === 'number') return reply;
  // The TCP target runs with `buffers`: a Buffer is a bulk string, a string a status reply (`+OK`, `+PONG`).
  if (typeof reply === 'string') {
    if (!base64 || (top && reply === 'OK')) return reply;
    return Buffer.from(reply, 'utf8').toString('base64');
  }
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString('base64') : reply.toString('utf8');
  return reply.map((r) => {
    const v = encodeValue(r, base64, false);
    // Redis nests an error in an array only inside EXEC; Upstash shows it as its text.
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v.error : v;
  });
}

function entry(reply: Reply, base64: boolean): { result: Json } | { error: string } {
  const value = encodeValue(reply, base64, true);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  return { result: value };
}

function toCommand(raw: unknown): Command {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new HttpFailure(400, 'ERR a command must be a non-empty array');
  const args = raw.map((a: unknown) => {
    if (typeof a === 'string') return a;
    if (typeof a === 'number' || typeof a === 'boolean') return String(a);
    throw new HttpFailure(400, 'ERR command arguments must be strings or numbers');
  });
  return { args };
}

function toCommands(raw: unknown): Command[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new HttpFailure(400, 'ERR the body must be an array of commands');
  return raw.map(toCommand);
}

function selected(fault: BridgeFault | undefined, n: number): boolean {
  if (fault === undefined) return false;
  if (fault.first !== undefined && n <= fault.first) return true;
  return fault.every !== undefined && n % fault.every === 0;
}

/**
 * Starts the bridge on a free 127.0.0.1 port in front of `options.redisUrl`.
 *
 * @example
 * const redis = useRedis();
 * const bridge = await startUpstashBridge({ redisUrl: redis.server.url, fault: { first: 2, retryAfterSeconds: 0 } });
 * const target = new UpstashTarget(bridge.url, { token: bridge.token });
 * await bridge.stop();
 */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const token = options.token ?? randomBytes(16).toString('hex');
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const fault = options.fault;
  const redis = new TcpTarget(options.redisUrl);
  const stats: UpstashBridgeStats = {
    requests: 0,
    unauthorized: 0,
    tooLarge: 0,
    faults: 0,
    executed: 0,
    commands: 0,
    ran: [],
    lastHeaders: {},
  };
  let admitted = 0;

  const run = async (path: string, body: unknown, base64: boolean): Promise<[number, unknown]> => {
    if (path === '/') {
      const [reply] = await redis.exec([toCommand(body)], { buffers: true });
      stats.commands += 1;
      const out = entry(reply!, base64);
      return ['error' in out ? 400 : 200, out];
    }
    const cmds = toCommands(body);
    if (path === '/pipeline') {
      const replies = await redis.exec(cmds, { buffers: true });
      stats.commands += cmds.length;
      return [200, replies.map((r) => entry(r, base64))];
    }
    // One RESP pipeline on one connection: nothing of another request runs between MULTI and EXEC.
    const replies = await redis.exec([{ args: ['MULTI'] }, ...cmds, { args: ['EXEC'] }], { buffers: true });
    const exec = replies[replies.length - 1]!;
    if (exec instanceof ReplyError) return [400, { error: exec.message }];
    stats.commands += cmds.length;
    if (!Array.isArray(exec)) return [400, { error: 'EXECABORT Transaction discarded' }];
    return [200, exec.map((r) => entry(r, base64))];
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    stats.requests++;
    stats.lastHeaders = req.headers;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://bridge');
    // Read the whole body even when it will be refused: answering early would cut a client still sending.
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes <= maxRequestBytes) chunks.push(chunk);
    }
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${token}` && url.searchParams.get('_token') !== token) {
      stats.unauthorized++;
      send(401, { error: 'Unauthorized' });
      return;
    }
    if (req.method !== 'POST') {
      send(405, { error: 'ERR only POST is supported by this bridge' });
      return;
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path !== '/' && path !== '/pipeline' && path !== '/multi-exec') {
      send(404, { error: `ERR unknown endpoint ${path}` });
      return;
    }
    if (bytes > maxRequestBytes) {
      stats.tooLarge++;
      send(413, { error: `ERR max request size exceeded. Limit: ${maxRequestBytes} bytes` });
      return;
    }
    const n = ++admitted;
    const failing = selected(fault, n);
    const failNow = () => {
      stats.faults++;
      if (fault?.status === 'reset') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> =
        fault?.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      const status = fault?.status ?? 429;
      send(
        status,
        { error: status === 429 ? 'ERR max requests limit exceeded' : 'ERR service unavailable' },
        headers,
      );
    };
    if (failing && !fault?.afterExecute) {
      failNow();
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      send(400, { error: 'ERR failed to parse the request body as JSON' });
      return;
    }
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const [status, out] = await run(path, body, base64);
    stats.executed++;
    stats.ran.push({ path, bytes, commands: Array.isArray(body) && path !== '/' ? body.length : 1 });
    if (failing) failNow();
    else send(status, out);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpFailure ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: message }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stats,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await redis.close();
    },
  };
}
