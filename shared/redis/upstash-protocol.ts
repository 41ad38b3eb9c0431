import { isUtf8 } from 'node:buffer';
import { FatalError, truncate } from '../errors/index.js';
import { type Command, type Reply, ReplyError } from './types.js';

/**
 * The pure half of the Upstash REST driver: commands to JSON request bodies, bodies split under the request
 * limits, `/pipeline` responses back to {@link Reply} values. No I/O, so unit tests check it without a server.
 *
 * Protocol (Upstash's REST API): `POST /pipeline` with a JSON array of commands, each a JSON array of strings;
 * the answer is a JSON array with one `{ "result": … }` or `{ "error": "…" }` per command, in order. With the
 * request header `Upstash-Encoding: base64` every string in a result is base64 (binary-safe), except the
 * status reply `"OK"`; numbers and `null` are plain JSON, errors are never encoded.
 *
 * @module
 */

/** Limits of one HTTP request. */
export interface RequestLimits {
  /** Largest request body in bytes that commands are grouped into. */
  readonly maxRequestBytes: number;
  /**
   * A command whose body alone passes `maxRequestBytes` but not this still goes, in a request of its own;
   * only a larger one is refused unsent. @default maxRequestBytes
   */
  readonly hardMaxBytes?: number;
  /** Most commands in one request. */
  readonly maxCommands: number;
}

/** The reply-error text that `classifyReplyError` treats as a record-level `InputError`. */
const TOO_LARGE = 'ERR string exceeds maximum allowed size';

/**
 * A command's arguments as the strings a JSON request carries. A `Buffer` argument goes as text when it is
 * valid UTF-8; other bytes cannot travel in a JSON request, so the command gets a {@link ReplyError} instead
 * (not one of the record-level errors: a source of binary values needs a TCP Redis, and the load says so and
 * stops).
 *
 * @example
 * restArgs({ args: ['SET', 'k', Buffer.from('v')] }); // ['SET', 'k', 'v']
 */
export function restArgs(cmd: Command): readonly string[] | ReplyError {
  const args = cmd.args;
  let strings: (string | Buffer)[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (typeof arg === 'string') continue;
    if (!isUtf8(arg)) {
      return new ReplyError(
        `ERR Upstash REST carries text only: argument ${i + 1} of ${String(args[0]).toUpperCase()} is binary (not UTF-8); load binary values into Redis over TCP`,
      );
    }
    strings ??= args.slice();
    strings[i] = arg.toString('utf8');
  }
  return (strings ?? args) as readonly string[];
}

/**
 * The reply in the slot of a command that no request can carry: its JSON alone is larger than
 * `maxRequestBytes`. The text starts like Redis's own `proto-max-bulk-len` refusal, so the writer rejects the
 * record (an `InputError`) instead of stopping or retrying the load.
 */
export function tooLargeReply(bytes: number, maxRequestBytes?: number): ReplyError {
  const limit =
    maxRequestBytes === undefined
      ? 'the server refused it as too large (HTTP 413)'
      : `one Upstash REST request carries at most ${maxRequestBytes}`;
  return new ReplyError(`${TOO_LARGE} (the command is ${bytes} bytes of JSON; ${limit})`);
}

/**
 * Splits commands (given by their JSON sizes in bytes) into requests, greedily and in order: each group of
 * indexes stays within both limits, its body being `[` + the commands joined by `,` + `]`. A command whose
 * body alone would pass `maxRequestBytes` forms a group of its own when it stays within `hardMaxBytes`, and is
 * otherwise listed in `oversized` and sent in no group.
 *
 * @example
 * planRequests([10, 10, 10], { maxRequestBytes: 100, maxCommands: 2 }); // { groups: [[0, 1], [2]], oversized: [] }
 */
export function planRequests(
  sizes: readonly number[],
  limits: RequestLimits,
): { groups: number[][]; oversized: number[] } {
  const { maxRequestBytes, maxCommands } = limits;
  const hardMaxBytes = Math.max(maxRequestBytes, limits.hardMaxBytes ?? maxRequestBytes);
  const groups: number[][] = [];
  const oversized: number[] = [];
  let group: number[] = [];
  let bytes = 2;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (size + 2 > maxRequestBytes) {
      if (size + 2 > hardMaxBytes) {
        oversized.push(i);
        continue;
      }
      if (group.length > 0) groups.push(group);
      groups.push([i]);
      group = [];
      bytes = 2;
      continue;
    }
    if (group.length > 0 && (group.length >= maxCommands || bytes + 1 + size > maxRequestBytes)) {
      groups.push(group);
      group = [];
      bytes = 2;
    }
    bytes += group.length === 0 ? size : size + 1;
    group.push(i);
  }
  if (group.length > 0) groups.push(group);
  return { groups, oversized };
}

/** One HTTP request of an `exec`: the positions of its commands there, and its JSON body. */
export interface RestRequest {
  readonly indexes: readonly number[];
  readonly body: string;
  /** The body's length in UTF-8 bytes. */
  readonly bytes: number;
}

/** The `/pipeline` body for the commands at `indexes`. */
export function requestBody(
  args: readonly (readonly string[] | undefined)[],
  indexes: readonly number[],
): string {
  return JSON.stringify(indexes.map((i) => args[i]!));
}

/**
 * The requests that carry the commands of one `exec` (or those at the positions `only`), in order (`args[i]`
 * undefined: command `i` is not sent).
 * The common case costs one `JSON.stringify` per `maxCommands` commands; only a run of commands that together
 * pass `maxRequestBytes` is measured command by command and split with {@link planRequests}. Commands too
 * large for any request are reported to `onOversized` with their JSON size.
 */
export function* planBodies(
  args: readonly (readonly string[] | undefined)[],
  limits: RequestLimits,
  onOversized: (index: number, bytes: number) => void,
  only?: readonly number[],
): Generator<RestRequest> {
  const { maxRequestBytes, maxCommands } = limits;
  const total = only === undefined ? args.length : only.length;
  let next = 0;
  while (next < total) {
    const run: number[] = [];
    for (; next < total && run.length < maxCommands; next++) {
      const i = only === undefined ? next : only[next]!;
      if (args[i]) run.push(i);
    }
    if (run.length === 0) break;
    const body = requestBody(args, run);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes <= maxRequestBytes) {
      yield { indexes: run, body, bytes };
      continue;
    }
    const sizes = run.map((i) => Buffer.byteLength(JSON.stringify(args[i]), 'utf8'));
    const { groups, oversized } = planRequests(sizes, limits);
    for (const k of oversized) onOversized(run[k]!, sizes[k]!);
    for (const group of groups) {
      const indexes = group.map((k) => run[k]!);
      const total = group.reduce((n, k) => n + sizes[k]!, 1 + group.length);
      yield { indexes, body: requestBody(args, indexes), bytes: total };
    }
  }
}

function protocolError(what: string): FatalError {
  return new FatalError(`Upstash REST protocol: ${what}`);
}

/**
 * One `result` as a {@link Reply}, in the shapes {@link TcpTarget} gives: strings (or `Buffer`s with
 * `buffers`), numbers, `null`, arrays. With `base64` (the header `Upstash-Encoding: base64` was sent) strings
 * are decoded from base64, except a top-level `"OK"`, which Upstash sends as it is.
 */
export function decodeResult(raw: unknown, base64: boolean, buffers: boolean, top = true): Reply {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    if (base64 && !(top && raw === 'OK')) {
      const bytes = Buffer.from(raw, 'base64');
      return buffers ? bytes : bytes.toString('utf8');
    }
    return buffers ? Buffer.from(raw, 'utf8') : raw;
  }
  if (Array.isArray(raw)) return raw.map((v: unknown) => decodeResult(v, base64, buffers, false));
  throw protocolError(`unexpected ${typeof raw} in a result`);
}

/**
 * A `/pipeline` (or `/multi-exec`) response body as one reply per command: `{ result }` decoded with
 * {@link decodeResult}, `{ error }` as a {@link ReplyError} in its slot. Anything but an array of `count`
 * such objects is a {@link FatalError} (not an Upstash endpoint, or a proxy in between that rewrites bodies).
 */
export function decodePipelineResponse(
  body: unknown,
  count: number,
  base64: boolean,
  buffers: boolean,
): Reply[] {
  if (!Array.isArray(body)) throw protocolError('the response is not a JSON array');
  if (body.length !== count) {
    throw protocolError(`${body.length} results for ${count} commands`);
  }
  const replies = new Array<Reply>(count);
  for (let i = 0; i < count; i++) {
    const item: unknown = body[i];
    if (item === null || typeof item !== 'object') throw protocolError(`result ${i + 1} is not an object`);
    const { result, error } = item as { result?: unknown; error?: unknown };
    if (error !== undefined && error !== null) {
      replies[i] = new ReplyError(typeof error === 'string' ? error : JSON.stringify(error));
    } else {
      replies[i] = decodeResult(result, base64, buffers);
    }
  }
  return replies;
}

/**
 * `Retry-After` in milliseconds: delay-seconds or an HTTP date; `undefined` when absent or unreadable.
 *
 * @example
 * retryAfterMs('2'); // 2000
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * What an error response says, for a message: Upstash's `{ "error": "…" }` text or the raw body, on one line,
 * cut to 200 characters, with `secret` (the token) scrubbed should a proxy ever echo it.
 */
export function responseText(body: string, secret: string): string {
  let text = body;
  try {
    const parsed: unknown = JSON.parse(body);
    const error = (parsed as { error?: unknown } | null)?.error;
    if (typeof error === 'string') text = error;
  } catch {
    // Not JSON (a proxy's HTML page): the raw text, cut short below.
  }
  if (secret !== '') text = text.split(secret).join('***');
  return truncate(text.replace(/\s+/g, ' ').trim());
}
