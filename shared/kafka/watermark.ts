import { type Command, type Reply, ReplyError, slotTag } from '../redis/index.js';

/**
 * Both scripts' start: the globals the per-record loop calls as locals (a global is a table lookup per call),
 * then read the watermark and the pending mark (see {@link transactionUnit}): `pf`, the first offset of a
 * range `[pf, wm]` that a transaction applied and nobody has reviewed yet. A record in that range is applied
 * again, in order, instead of skipped: the writes a transaction may hold are idempotent, and one of them may
 * have failed unseen. Then refuse on the guard (status 1): the watermark is below it, or the mark is at or
 * below it (the unit before stopped inside the range, which the watermark alone cannot show). Then raise the
 * watermark to the cover. `pending(reached)` moves the mark past the records the unit went through (up to
 * `reached`), deleting it once past the watermark; a script never writes the owner's value back, so a moved
 * mark is no longer its owner's to clear.
 */
const GUARD_AND_COVER = `local rpcall, unpack, type, tonumber = redis.pcall, unpack, type, tonumber
local wm = tonumber(redis.call('GET', KEYS[1]) or '-1')
local pv = redis.call('GET', KEYS[2])
local pf = pv and (tonumber(string.match(pv, '^%d+')) or 0)
if ARGV[1] ~= '' and (wm < tonumber(ARGV[1]) or (pf and pf <= tonumber(ARGV[1]))) then
  return {1, 0, 0, -1, tostring(wm)}
end
local pmoved = false
if ARGV[2] ~= '' then
  local c = tonumber(ARGV[2])
  if c > wm then
    wm = c
    redis.call('SET', KEYS[1], ARGV[2])
  end
  if pf and pf <= c then pf, pmoved = c + 1, true end
end
local function pending(reached)
  if not pf then return end
  if reached >= pf then pf, pmoved = reached + 1, true end
  if pf > wm then redis.call('DEL', KEYS[2]) elseif pmoved then redis.call('SET', KEYS[2], tostring(pf)) end
end
`;

/**
 * Applies one unit (the records of one partition bound for one shard, in offset order) atomically with its
 * watermark. Redis runs a script without interleaving other clients, so the check "offset > watermark", the
 * writes and the watermark's advance are one step: a redelivered or concurrently delivered record is skipped.
 *
 * KEYS[1] is the watermark, KEYS[2] the pending mark; the other KEYS are the keys the unit writes (declared
 * for cluster routing). ARGV[1] guard: apply only if the watermark is at least this (the previous unit of
 * the same stream got through), '' for none. ARGV[2] cover: an offset settled elsewhere (a dead-lettered
 * record), raised into the watermark first, '' for none. Then per record: offset, command count, and per
 * command: arg count, args.
 *
 * Returns {status, applied, duplicates, index, text}: status 0 done; 1 blocked by the guard (nothing ran);
 * 2 stopped at record `index` (0-based) whose command failed with `text`, the watermark covering exactly
 * the records before it (or, inside a pending range, the pending mark moved up to it: left as it is when it
 * was there already). A command error is
 * caught (`redis.pcall`) so the records before it keep their watermark; Redis refuses an out-of-memory
 * write only before a script's first write, so the watermark `SET` after writes cannot fail that way.
 */
export const APPLY_SCRIPT = `${GUARD_AND_COVER}local i, n = 3, #ARGV
local applied, dups, rec = 0, 0, 0
local last = nil
local reached = -1
while i <= n do
  local offset = ARGV[i]
  local o = tonumber(offset)
  local cmds = tonumber(ARGV[i + 1])
  i = i + 2
  if o <= wm and not (pf and o >= pf) then
    dups = dups + 1
    for c = 1, cmds do i = i + 1 + tonumber(ARGV[i]) end
  else
    for c = 1, cmds do
      local argc = tonumber(ARGV[i])
      local reply = rpcall(unpack(ARGV, i + 1, i + argc))
      i = i + 1 + argc
      if type(reply) == 'table' and reply.err then
        if last and tonumber(last) > wm then redis.call('SET', KEYS[1], last) end
        pending(o - 1)
        return {2, applied, dups, rec, reply.err}
      end
    end
    applied = applied + 1
    last = offset
  end
  reached = o
  rec = rec + 1
end
if last and tonumber(last) > wm then redis.call('SET', KEYS[1], last) end
pending(reached)
return {0, applied, dups, -1, ''}`;

/**
 * {@link APPLY_SCRIPT} for a unit whose records all have the same shape (the same number of commands with the
 * same argument counts: one `HSET` of the spec's fields, `INCRBY` + `EXPIRE`, …), which most units are. The
 * shape is sent once instead of per record, and so is every argument that is the same in all the unit's
 * records (the command names, a hash model's field names, a fixed TTL): Lua makes a string of each argument
 * it receives, so an argument sent once instead of per record is Redis' time saved as well as the wire's
 * (bench/RESULTS.md, kafka-lambda). Since a unit's offsets increase, its duplicates are a prefix found by
 * comparing offsets until one is above the watermark (or inside the pending range).
 *
 * KEYS as in APPLY_SCRIPT. ARGV[1] guard and ARGV[2] cover as in APPLY_SCRIPT; ARGV[3] the record count n;
 * ARGV[4] the commands per record m; then per command: its argument count, the count of its constant
 * arguments, and per constant argument its position (1-based) and value; then the n offsets; then per record,
 * per command, the arguments that are not constant, in order. The reply is APPLY_SCRIPT's.
 */
export const APPLY_UNIFORM_SCRIPT = `${GUARD_AND_COVER}local n = tonumber(ARGV[3])
local m = tonumber(ARGV[4])
local tab, argc, vars, nvar = {}, {}, {}, {}
local p = 5
for c = 1, m do
  argc[c] = tonumber(ARGV[p])
  local consts = tonumber(ARGV[p + 1])
  p = p + 2
  local t, fixed = {}, {}
  for j = 1, consts do
    local at = tonumber(ARGV[p])
    t[at] = ARGV[p + 1]
    fixed[at] = true
    p = p + 2
  end
  local v = {}
  for at = 1, argc[c] do if not fixed[at] then v[#v + 1] = at end end
  tab[c], vars[c], nvar[c] = t, v, #v
end
local first = p
local k = 0
while k < n do
  local o = tonumber(ARGV[first + k])
  if o > wm or (pf and o >= pf) then break end
  k = k + 1
end
local dups = k
local per = 0
for c = 1, m do per = per + nvar[c] end
p = first + n + k * per
while k < n do
  for c = 1, m do
    local t, v = tab[c], vars[c]
    for j = 1, nvar[c] do
      t[v[j]] = ARGV[p]
      p = p + 1
    end
    local reply = rpcall(unpack(t, 1, argc[c]))
    if type(reply) == 'table' and reply.err then
      if k > dups and tonumber(ARGV[first + k - 1]) > wm then redis.call('SET', KEYS[1], ARGV[first + k - 1]) end
      pending(tonumber(ARGV[first + k]) - 1)
      return {2, k - dups, dups, k, reply.err}
    end
  end
  k = k + 1
end
local last = ARGV[first + n - 1]
if n > dups and tonumber(last) > wm then redis.call('SET', KEYS[1], last) end
pending(tonumber(last))
return {0, n - dups, dups, -1, ''}`;

/**
 * Run before a {@link transactionUnit}'s `MULTI`, with the watermark and the pending mark `WATCH`ed: returns 1
 * when the transaction may apply the unit as it is (the guard holds, no record is at or below the watermark,
 * and no pending mark is there but the stream's own), else 0 after touching a watched key, so that the
 * `EXEC` that follows is discarded (Redis aborts a transaction whose watched key was written, by any client).
 *
 * KEYS[1] watermark, KEYS[2] pending mark; ARGV[1] guard ('' for none), ARGV[2] the unit's first offset,
 * ARGV[3] the stream's token (a mark is the stream's own when it ends with `:<token>`).
 */
export const TRANSACTION_CHECK_SCRIPT = `local w = redis.call('GET', KEYS[1])
local p = redis.call('GET', KEYS[2])
local wm = tonumber(w or '-1')
local mine = p and string.sub(p, -(#ARGV[3] + 1)) == ':' .. ARGV[3]
if wm < tonumber(ARGV[2]) and (ARGV[1] == '' or wm >= tonumber(ARGV[1])) and (not p or mine) then
  return 1
end
if p then
  redis.call('SET', KEYS[2], p)
elseif w then
  redis.call('SET', KEYS[1], w)
else
  redis.call('SET', KEYS[1], '-1')
  redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Moves a stream's pending mark once a transaction of the stream was reviewed (KEYS[1] the mark, ARGV[1] the
 * stream's token): up to the next transaction's first offset (ARGV[2]), never down (a later transaction of
 * the stream may have set it higher after a script of another delivery cleared it), or deletes it after the
 * stream's last transaction (ARGV[2] ''). Returns 1 when the mark was the stream's own, 0 when a script moved
 * or cleared it (then nothing is changed).
 */
export const CLEAR_PENDING_SCRIPT = `local p = redis.call('GET', KEYS[1])
if not p or string.sub(p, -(#ARGV[1] + 1)) ~= ':' .. ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[2]) > (tonumber(string.match(p, '^%d+')) or -1) then
  redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[1])
end
return 1`;

/**
 * The keys of a stream's watermark and pending mark: `<prefix><topic>:<partition>:<group>` and
 * `<prefix><topic>:pending:<partition>:<group>`, with `{<slot tag>}` after the prefix on a Redis Cluster (the
 * slot's hash tag puts both in `slot`, beside the data they cover, so a script never spans two slots). Topic
 * names cannot hold `:`, so a key is unambiguous whatever the group id holds, and a watermark key has the
 * partition number where a mark has `pending`.
 *
 * @example
 * streamKeys('rbl:wm:', 'profiles', 'orders', 3) // { watermark: 'rbl:wm:orders:3:profiles', pending: 'rbl:wm:orders:pending:3:profiles' }
 */
export function streamKeys(
  prefix: string,
  group: string,
  topic: string,
  partition: number,
  slot?: number,
): { readonly watermark: string; readonly pending: string } {
  const head = slot === undefined ? `${prefix}${topic}:` : `${prefix}{${slotTag(slot)}}${topic}:`;
  return { watermark: `${head}${partition}:${group}`, pending: `${head}pending:${partition}:${group}` };
}

/**
 * The watermark key of (group, topic, partition) (see {@link streamKeys}).
 *
 * @example
 * watermarkKey('rbl:wm:', 'profiles', 'orders', 3) // 'rbl:wm:orders:3:profiles'
 */
export const watermarkKey = (prefix: string, group: string, topic: string, partition: number): string =>
  streamKeys(prefix, group, topic, partition).watermark;

/**
 * The watermark of a partition in one slot of a Redis Cluster (see {@link streamKeys}).
 *
 * @example
 * slotWatermarkKey('rbl:wm:', 'profiles', 'orders', 3, 42) // 'rbl:wm:{a52}orders:3:profiles'
 */
export const slotWatermarkKey = (
  prefix: string,
  group: string,
  topic: string,
  partition: number,
  slot: number,
): string => streamKeys(prefix, group, topic, partition, slot).watermark;

/**
 * The pending mark beside a watermark key (see {@link streamKeys} and {@link transactionUnit}).
 *
 * @example
 * pendingKey('rbl:wm:', 'profiles', 'orders', 3) // 'rbl:wm:orders:pending:3:profiles'
 */
export const pendingKey = (prefix: string, group: string, topic: string, partition: number): string =>
  streamKeys(prefix, group, topic, partition).pending;

/** One record of a unit: its offset and the commands that apply it. */
export interface UnitRecord {
  readonly offset: number;
  readonly commands: readonly Command[];
}

/** True when every record has the commands of the first, with the same argument counts. */
function uniformShape(records: readonly UnitRecord[]): boolean {
  const shape = records[0]!.commands;
  if (shape.length === 0) return false;
  for (let r = 1; r < records.length; r++) {
    const cmds = records[r]!.commands;
    if (cmds.length !== shape.length) return false;
    for (let c = 0; c < cmds.length; c++) if (cmds[c]!.args.length !== shape[c]!.args.length) return false;
  }
  return true;
}

/**
 * Per command of a uniform unit, the positions of its arguments that differ between records (the rest are
 * the same in every record and go to {@link APPLY_UNIFORM_SCRIPT} once). A string is compared by value, a
 * Buffer by identity.
 */
function variablePositions(records: readonly UnitRecord[]): number[][] {
  const shape = records[0]!.commands;
  return shape.map((command, c) => {
    const first = command.args;
    const same = first.map(() => true);
    for (let r = 1; r < records.length; r++) {
      const args = records[r]!.commands[c]!.args;
      for (let i = 0; i < args.length; i++) if (same[i] && args[i] !== first[i]) same[i] = false;
    }
    const vary: number[] = [];
    for (let i = 0; i < same.length; i++) if (!same[i]) vary.push(i);
    return vary;
  });
}

/**
 * Builds the `EVAL` of one unit: {@link APPLY_UNIFORM_SCRIPT} when its records share one shape, else
 * {@link APPLY_SCRIPT}. Built into one presized array (no spread copies: this runs for every record).
 *
 * `declareKeys`: list the keys the unit writes in `KEYS` after the watermark and the pending mark. A Redis Cluster needs them (the
 * node checks that a script's keys share its slot); a standalone server does not look at them, and sending
 * each key a second time costs Node a set insertion and an encoding, and Redis a parse and a Lua string, per
 * record (bench/RESULTS.md, kafka-lambda).
 */
export function unitCommand(
  watermark: string,
  pending: string,
  records: readonly UnitRecord[],
  guard: number | undefined,
  cover: number | undefined,
  declareKeys = true,
): Command {
  const uniform = records.length > 0 && uniformShape(records);
  const keys = new Set<string>();
  if (declareKeys)
    for (const r of records) for (const c of r.commands) if (c.key !== undefined) keys.add(c.key);
  const shape = uniform ? records[0]!.commands : [];
  const vary = uniform ? variablePositions(records) : [];
  let size = 7 + keys.size;
  if (uniform) {
    size += 2 + records.length;
    for (let c = 0; c < shape.length; c++) {
      const argc = shape[c]!.args.length;
      const varying = vary[c]!.length;
      size += 2 + 2 * (argc - varying) + records.length * varying;
    }
  } else {
    for (const r of records) {
      size += 2;
      for (const c of r.commands) size += 1 + c.args.length;
    }
  }
  // Sized once: pushing tens of thousands of arguments one by one regrows the array many times.
  const args = new Array<string | Buffer>(size);
  args[0] = 'EVAL';
  args[1] = uniform ? APPLY_UNIFORM_SCRIPT : APPLY_SCRIPT;
  args[2] = String(keys.size + 2);
  args[3] = watermark;
  args[4] = pending;
  let n = 5;
  for (const k of keys) args[n++] = k;
  args[n++] = guard === undefined ? '' : String(guard);
  args[n++] = cover === undefined ? '' : String(cover);
  if (uniform) {
    args[n++] = String(records.length);
    args[n++] = String(shape.length);
    for (let c = 0; c < shape.length; c++) {
      const first = shape[c]!.args;
      const varying = vary[c]!;
      args[n++] = String(first.length);
      args[n++] = String(first.length - varying.length);
      for (let i = 0, v = 0; i < first.length; i++) {
        if (varying[v] === i) {
          v++;
          continue;
        }
        args[n++] = String(i + 1);
        args[n++] = first[i]!;
      }
    }
    for (const r of records) args[n++] = String(r.offset);
    for (const r of records) {
      const cmds = r.commands;
      for (let c = 0; c < cmds.length; c++) {
        const a = cmds[c]!.args;
        const varying = vary[c]!;
        for (let v = 0; v < varying.length; v++) args[n++] = a[varying[v]!]!;
      }
    }
  } else {
    for (const r of records) {
      args[n++] = String(r.offset);
      args[n++] = String(r.commands.length);
      for (const c of r.commands) {
        const a = c.args;
        args[n++] = String(a.length);
        for (let i = 0; i < a.length; i++) args[n++] = a[i]!;
      }
    }
  }
  args.length = n;
  return { key: watermark, args };
}

/** What Redis said about one unit. */
export type UnitReply =
  | { readonly status: 'done'; readonly applied: number; readonly duplicates: number }
  | { readonly status: 'blocked'; readonly watermark: number }
  | {
      readonly status: 'stopped';
      readonly applied: number;
      readonly duplicates: number;
      /** 0-based index of the record whose command failed. */
      readonly index: number;
      readonly error: string;
    }
  /** The script as a whole was refused (`LOADING`, `OOM` before any write, `NOSCRIPT`, …). */
  | { readonly status: 'refused'; readonly error: string };

/** Decodes the reply of a {@link unitCommand}. */
export function parseUnitReply(reply: Reply): UnitReply {
  if (reply instanceof ReplyError) return { status: 'refused', error: reply.message };
  const [status, applied, duplicates, index, text] = Array.isArray(reply) ? reply : [];
  // Anything else is not this script's reply: read as "stopped", it would dead-letter a record at random.
  if (
    (status !== 0 && status !== 1 && status !== 2) ||
    typeof applied !== 'number' ||
    typeof duplicates !== 'number' ||
    typeof index !== 'number' ||
    typeof text !== 'string'
  ) {
    return { status: 'refused', error: `unexpected script reply ${JSON.stringify(reply).slice(0, 200)}` };
  }
  if (status === 0) return { status: 'done', applied, duplicates };
  if (status === 1) return { status: 'blocked', watermark: Number(text) };
  return { status: 'stopped', applied, duplicates, index, error: text };
}

/**
 * The writes a transaction may hold: each sets or deletes a whole value or field, so applying it again after
 * later records changes nothing once those are applied again too, and one that fails (`WRONGTYPE`) leaves
 * nothing behind. `INCRBY` (not idempotent) and `EXPIRE` (it would still run on a key whose `HSET` failed)
 * stay in scripts.
 */
const IDEMPOTENT_WRITES: ReadonlySet<unknown> = new Set(['SET', 'HSET', 'HDEL', 'DEL']);

/** True when a unit may go as a {@link transactionUnit}: every record is one idempotent write. */
export function transactable(records: readonly UnitRecord[]): boolean {
  if (records.length === 0) return false;
  for (const r of records) {
    if (r.commands.length !== 1 || !IDEMPOTENT_WRITES.has(r.commands[0]!.args[0])) return false;
  }
  return true;
}

/**
 * A unit as a transaction of plain commands instead of a script: Redis runs each write at its native cost
 * instead of through `redis.pcall` (bench/RESULTS.md, kafka-lambda). One pipeline:
 *
 *     WATCH wm pending
 *     EVAL TRANSACTION_CHECK_SCRIPT …   (touches a watched key unless the unit may go as it is)
 *     MULTI
 *     SET pending <value> NX            (the stream's mark, set before any write)
 *     <one write per record>
 *     SET wm <last offset>
 *     EXEC                              (nil when the check failed: nothing ran)
 *
 * A transaction does not stop at a failing command, so the watermark passes a record whose write failed
 * (`WRONGTYPE`) before anyone has seen the failure. The pending mark says so: until the stream reviewed the
 * replies, dead-lettered what failed and cleared the mark ({@link CLEAR_PENDING_SCRIPT}), the scripts apply
 * the records of `[mark, watermark]` again, in order, instead of skipping them, so a crash in between loses
 * nothing. The mark is `<first offset>:<token>`: the first offset of the stream's first transaction that ran
 * (a later one keeps it: `NX`), so it never reaches below records that others settled; the token is random
 * per delivery, and only the delivery holding it may add transactions under the mark or clear it.
 */
export function transactionUnit(
  watermark: string,
  pending: string,
  token: string,
  records: readonly UnitRecord[],
  guard: number | undefined,
): Command[] {
  const first = String(records[0]!.offset);
  const out = new Array<Command>(records.length + 6);
  out[0] = { key: watermark, args: ['WATCH', watermark, pending] };
  out[1] = {
    key: watermark,
    args: [
      'EVAL',
      TRANSACTION_CHECK_SCRIPT,
      '2',
      watermark,
      pending,
      guard === undefined ? '' : String(guard),
      first,
      token,
    ],
  };
  out[2] = { args: ['MULTI'] };
  out[3] = { key: pending, args: ['SET', pending, `${first}:${token}`, 'NX'] };
  for (let i = 0; i < records.length; i++) out[4 + i] = records[i]!.commands[0]!;
  out[records.length + 4] = { key: watermark, args: ['SET', watermark, String(records.at(-1)!.offset)] };
  out[records.length + 5] = { args: ['EXEC'] };
  return out;
}

/** What Redis said about a {@link transactionUnit} of `n` records. */
export type TransactionReply =
  /** It ran: `failed` lists the records whose write failed (0-based index and error text), in order. */
  | { readonly status: 'ran'; readonly failed: readonly { index: number; error: string }[] }
  /**
   * The check failed (a duplicate, a guard not met, another stream's pending mark), or another client wrote
   * the watermark or the mark in between: nothing ran.
   */
  | { readonly status: 'discarded' }
  /**
   * Nothing ran (`EXECABORT`: a write refused when queued, e.g. `OOM`), or the replies do not say what ran;
   * `unchecked` when the writes ran although the check was refused (a server `BUSY` with another client's
   * script that ended in the middle of the pipeline).
   */
  | { readonly status: 'refused'; readonly error: string; readonly unchecked?: boolean };

/** Decodes the replies of a {@link transactionUnit} of `n` records. */
export function parseTransactionReplies(replies: readonly Reply[], n: number): TransactionReply {
  const exec = replies[n + 5];
  const check = replies[1];
  // A watched key was written (by the check, or by another client in between): nothing ran.
  if (exec === null) return { status: 'discarded' };
  if (Array.isArray(exec) && exec.length === n + 2 && check === 1) {
    // The mark and the watermark are plain SETs: an error there means this reply is not understood.
    if (exec[0] instanceof ReplyError) return { status: 'refused', error: exec[0].message };
    const last = exec[n + 1];
    if (last instanceof ReplyError) return { status: 'refused', error: last.message };
    const failed: { index: number; error: string }[] = [];
    for (let i = 0; i < n; i++) {
      const reply = exec[i + 1];
      if (reply instanceof ReplyError) failed.push({ index: i, error: reply.message });
    }
    return { status: 'ran', failed };
  }
  // The first error among the commands before EXEC names the cause (EXECABORT only says "previous errors").
  const cause = replies.slice(0, n + 5).find((r): r is ReplyError => r instanceof ReplyError);
  const error =
    cause?.message ??
    (exec instanceof ReplyError
      ? exec.message
      : `unexpected transaction reply ${JSON.stringify(exec).slice(0, 200)}`);
  return Array.isArray(exec) ? { status: 'refused', error, unchecked: true } : { status: 'refused', error };
}
