import { FatalError } from '../errors/index.js';
import { type Command, type Reply, ReplyError } from './types.js';

const CR = 13;
const LF = 10;
const DOLLAR = 36;
const STAR = 42;
const PLUS = 43;
const MINUS = 45;
const COLON = 58;
const ZERO = 48;

/** Strings shorter than this are copied byte by byte when ASCII: cheaper than a native call per argument. */
const SHORT_STRING = 64;
const INITIAL_SCRATCH = 64 * 1024;
/** A scratch buffer grown past this by one huge pipeline is dropped afterwards instead of being kept forever. */
const MAX_KEPT_SCRATCH = 16 * 1024 * 1024;

let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);

function grow(used: number, extra: number): void {
  let size = scratch.length * 2;
  while (size < used + extra) size *= 2;
  const next = Buffer.allocUnsafe(size);
  scratch.copy(next, 0, 0, used);
  scratch = next;
}

/** Writes a non-negative integer in decimal; small values (every header of a typical command) skip `String()`. */
function writeUint(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = ZERO + n;
    return off + 1;
  }
  if (n < 100) {
    buf[off] = ZERO + ((n / 10) | 0);
    buf[off + 1] = ZERO + (n % 10);
    return off + 2;
  }
  const text = String(n);
  for (let i = 0; i < text.length; i++) buf[off + i] = text.charCodeAt(i);
  return off + text.length;
}

/** `$<n>\r\n` at `off`; returns the offset after it. */
function writeBulkHeader(buf: Buffer, off: number, n: number): number {
  buf[off] = DOLLAR;
  off = writeUint(buf, off + 1, n);
  buf[off] = CR;
  buf[off + 1] = LF;
  return off + 2;
}

/**
 * Writes `arg` as a bulk string at `off` (the scratch buffer has room for the worst case); returns the new offset.
 * Short ASCII strings are copied in JS straight after their header: their byte length is their length, so the
 * header size is known before the bytes are scanned. Anything else takes `Buffer.byteLength` + `write`.
 */
function writeStringArg(buf: Buffer, off: number, arg: string): number {
  const len = arg.length;
  if (len < SHORT_STRING) {
    const start = off + (len < 10 ? 4 : 5);
    let i = 0;
    for (; i < len; i++) {
      const code = arg.charCodeAt(i);
      if (code >= 0x80) break;
      buf[start + i] = code;
    }
    if (i === len) {
      off = writeBulkHeader(buf, off, len) + len;
      buf[off] = CR;
      buf[off + 1] = LF;
      return off + 2;
    }
  }
  off = writeBulkHeader(buf, off, Buffer.byteLength(arg, 'utf8'));
  off += buf.write(arg, off, 'utf8');
  buf[off] = CR;
  buf[off + 1] = LF;
  return off + 2;
}

/**
 * Encodes commands as one RESP2 pipeline: each command an array of bulk strings (`*N\r\n$len\r\narg\r\n…`).
 * String arguments are sent as UTF-8, Buffers as they are; a command that carries its `encoded` bytes is copied
 * as it is. The bytes are built in a reused scratch buffer and
 * copied out once, so the result is exactly sized and owned by the caller (safe to hand to `socket.write`).
 *
 * @example
 * socket.write(encodeCommands([{ key: 'user:1', args: ['SET', 'user:1', '42'] }]));
 * // *3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$2\r\n42\r\n
 */
export function encodeCommands(cmds: readonly Command[]): Buffer {
  let off = 0;
  for (let c = 0; c < cmds.length; c++) {
    const encoded = cmds[c]!.encoded;
    if (encoded !== undefined) {
      if (off + encoded.length > scratch.length) grow(off, encoded.length);
      scratch.set(encoded, off);
      off += encoded.length;
      continue;
    }
    const args = cmds[c]!.args;
    if (off + 16 > scratch.length) grow(off, 16);
    scratch[off] = STAR;
    off = writeUint(scratch, off + 1, args.length);
    scratch[off] = CR;
    scratch[off + 1] = LF;
    off += 2;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'string') {
        // UTF-8 takes at most 3 bytes per UTF-16 code unit; 16 covers header and trailer.
        const worst = arg.length * 3 + 16;
        if (off + worst > scratch.length) grow(off, worst);
        off = writeStringArg(scratch, off, arg);
      } else if (arg instanceof Uint8Array) {
        const worst = arg.length + 16;
        if (off + worst > scratch.length) grow(off, worst);
        off = writeBulkHeader(scratch, off, arg.length);
        scratch.set(arg, off);
        off += arg.length;
        scratch[off] = CR;
        scratch[off + 1] = LF;
        off += 2;
      } else {
        throw new TypeError(`command ${c} argument ${i} is ${typeof arg}, not a string or Buffer`);
      }
    }
  }
  const out = Buffer.allocUnsafe(off);
  scratch.copy(out, 0, 0, off);
  if (scratch.length > MAX_KEPT_SCRATCH) scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);
  return out;
}

/** Waiting for a line end, not for a byte count. */
const NEED_LINE = -1;

/** Whether `+QUEUED\r\n` starts at `pos` (the caller checked that its 9 bytes are there). */
function isQueued(buf: Buffer, pos: number): boolean {
  return (
    buf[pos + 1] === 81 /* Q */ &&
    buf[pos + 2] === 85 /* U */ &&
    buf[pos + 3] === 69 /* E */ &&
    buf[pos + 4] === 85 /* U */ &&
    buf[pos + 5] === 69 /* E */ &&
    buf[pos + 6] === 68 /* D */ &&
    buf[pos + 7] === CR &&
    buf[pos + 8] === LF
  );
}

interface OpenArray {
  readonly items: Reply[];
  remaining: number;
}

function protocolError(what: string): FatalError {
  return new FatalError(`RESP protocol error: ${what}`);
}

/** Parses the decimal integer in `buf[start, end)`; RESP integers and lengths are at most 64-bit. */
function parseInteger(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buf[i] === MINUS) {
    negative = true;
    i++;
  }
  if (i === end) throw protocolError('empty integer');
  let n = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - ZERO;
    if (digit < 0 || digit > 9)
      throw protocolError(`bad integer ${JSON.stringify(buf.toString('latin1', start, end))}`);
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/**
 * Incremental RESP2 reply parser. Feed it socket chunks split anywhere with {@link ReplyParser.push}; it calls
 * `onReply` once per complete top-level reply, in order: `+` → string, `-` → {@link ReplyError}, `:` → number,
 * `$` → UTF-8 string (`null` for `$-1`), `*` → array (`null` for `*-1`), nested arrays included.
 *
 * An incomplete reply waits in a list of chunks that is joined once, when enough bytes have arrived, so a large
 * bulk reply arriving in many small chunks costs linear time. Malformed input throws a {@link FatalError}; the
 * parser is unusable afterwards (the connection it reads from should be dropped).
 *
 * @example
 * const parser = new ReplyParser((reply) => replies.push(reply));
 * parser.push(Buffer.from('+OK\r\n:4'));
 * parser.push(Buffer.from('2\r\n')); // replies: ['OK', 42]
 */
export class ReplyParser {
  private readonly onReply: (reply: Reply) => void;
  /** Unparsed bytes held back: the start of an incomplete reply element, then every chunk pushed since. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the pending element needs in total, or {@link NEED_LINE}. */
  private need = 0;
  /** Arrays still being filled, outermost first. */
  private readonly open: OpenArray[] = [];
  /**
   * Deliver bulk strings as `Buffer` copies (binary-safe) instead of UTF-8 strings. The owner may flip it from
   * `onReply`, between top-level replies (a connection sets it per pipeline).
   */
  buffers = false;

  /** @param onReply called synchronously for each complete top-level reply; it must not throw. */
  constructor(onReply: (reply: Reply) => void) {
    this.onReply = onReply;
  }

  /** Feeds the next chunk of bytes from the server. */
  push(chunk: Buffer): void {
    if (this.pendingBytes === 0) {
      this.parse(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const ready = this.need === NEED_LINE ? chunk.includes(LF) : this.pendingBytes >= this.need;
    if (!ready) return;
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.parse(joined);
  }

  /** True when no partial reply is buffered (every byte pushed so far belonged to a delivered reply). */
  get idle(): boolean {
    return this.pendingBytes === 0 && this.open.length === 0;
  }

  private parse(buf: Buffer): void {
    const len = buf.length;
    let pos = 0;
    while (pos < len) {
      const start = pos;
      const type = buf[pos]!;
      let value: Reply;
      if (
        type === PLUS &&
        pos + 4 < len &&
        buf[pos + 1] === 79 /* O */ &&
        buf[pos + 2] === 75 /* K */ &&
        buf[pos + 3] === CR &&
        buf[pos + 4] === LF
      ) {
        value = 'OK';
        pos += 5;
      } else if (type === PLUS && pos + 8 < len && isQueued(buf, pos)) {
        // A transaction answers every command it queues so: one per record of a Kafka unit.
        value = 'QUEUED';
        pos += 9;
      } else {
        let cr = pos + 1;
        while (cr < len && buf[cr] !== CR) cr++;
        if (cr + 1 >= len) {
          this.holdBack(buf, start, NEED_LINE);
          return;
        }
        if (buf[cr + 1] !== LF) throw protocolError('CR not followed by LF');
        pos = cr + 2;
        if (type === PLUS) {
          value = buf.toString('utf8', start + 1, cr);
        } else if (type === COLON) {
          value = parseInteger(buf, start + 1, cr);
        } else if (type === DOLLAR) {
          const size = parseInteger(buf, start + 1, cr);
          if (size < 0) {
            value = null;
          } else {
            const end = pos + size;
            if (end + 2 > len) {
              this.holdBack(buf, start, end + 2 - start);
              return;
            }
            if (buf[end] !== CR || buf[end + 1] !== LF)
              throw protocolError('bulk string not followed by CRLF');
            value = this.buffers ? Buffer.from(buf.subarray(pos, end)) : buf.toString('utf8', pos, end);
            pos = end + 2;
          }
        } else if (type === MINUS) {
          value = new ReplyError(buf.toString('utf8', start + 1, cr));
        } else if (type === STAR) {
          const count = parseInteger(buf, start + 1, cr);
          if (count > 0) {
            this.open.push({ items: [], remaining: count });
            continue;
          }
          value = count === 0 ? [] : null;
        } else {
          throw protocolError(
            `unexpected byte 0x${type.toString(16).padStart(2, '0')} at the start of a reply`,
          );
        }
      }
      this.deliver(value);
    }
  }

  /** Adds a complete element to the innermost open array, closing arrays that become full, or emits it. */
  private deliver(value: Reply): void {
    for (;;) {
      const top = this.open[this.open.length - 1];
      if (top === undefined) {
        this.onReply(value);
        return;
      }
      top.items.push(value);
      if (--top.remaining > 0) return;
      this.open.pop();
      value = top.items;
    }
  }

  private holdBack(buf: Buffer, from: number, need: number): void {
    const rest = buf.subarray(from);
    this.pending = [rest];
    this.pendingBytes = rest.length;
    this.need = need;
  }
}

/**
 * The name (first argument) of command `index` in a RESP payload made by {@link encodeCommands}, for error
 * messages: scanning the bytes on the error path costs nothing while everything succeeds.
 * Returns undefined when the payload does not hold that many commands.
 *
 * @example
 * commandNameAt(encodeCommands([{ args: ['SET', 'k', 'v'] }, { args: ['EXPIRE', 'k', '9'] }]), 1); // 'EXPIRE'
 */
export function commandNameAt(payload: Buffer, index: number): string | undefined {
  let pos = 0;
  const line = (): number => {
    const cr = payload.indexOf(CR, pos);
    if (cr === -1 || payload[pos] === undefined) return -1;
    const n = Number(payload.toString('latin1', pos + 1, cr));
    pos = cr + 2;
    return n;
  };
  for (let i = 0; pos < payload.length; i++) {
    if (payload[pos] !== STAR) return undefined;
    const argc = line();
    for (let a = 0; a < argc; a++) {
      if (payload[pos] !== DOLLAR) return undefined;
      const len = line();
      if (i === index && a === 0) return payload.toString('utf8', pos, pos + len);
      pos += len + 2;
    }
  }
  return undefined;
}
