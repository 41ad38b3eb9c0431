import { type Command, type Reply, ReplyError, slotTag } from '../redis/index.js';

/**
 * Both scripts' start: the globals the per-record loop calls as locals (a global is a table lookup per call),
 * then read the watermark, refuse on the guard (status 1), raise it to the cover.
 */
const GUARD_AND_COVER = `local rpcall, unpack, type = redis.pcall, unpack, type
local wm = tonumber(redis.call('GET', KEYS[1]) or '-1')
if ARGV[1] ~= '' and wm < tonumber(ARGV[1]) then return {1, 0, 0, -1, tostring(wm)} end
if ARGV[2] ~= '' and tonumber(ARGV[2]) > wm then
  wm = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], ARGV[2])
end
`;

/**
 * Applies one unit (the records of one partition bound for one shard, in offset order) atomically with its
 * watermark. Redis runs a script without interleaving other clients, so the check "offset > watermark", the
 * writes and the watermark's advance are one step: a redelivered or concurrently delivered record is skipped.
 *
 * KEYS[1] is the watermark; the other KEYS are the keys the unit writes (declared for cluster routing).
 * ARGV[1] guard: apply only if the watermark is at least this (the previous unit of the same stream got
 * through), '' for none. ARGV[2] cover: an offset settled elsewhere (a dead-lettered record), raised into the
 * watermark first, '' for none. Then per record: offset, command count, and per command: arg count, args.
 *
 * Returns {status, applied, duplicates, index, text}: status 0 done; 1 blocked by the guard (nothing ran);
 * 2 stopped at record `index` (0-based) whose command failed with `text`, the watermark covering exactly
 * the records before it. A command error is caught (`redis.pcall`) so the records before it keep their
 * watermark; Redis refuses an out-of-memory write only before a script's first write, so the watermark
 * `SET` after writes cannot fail that way.
 */
export const APPLY_SCRIPT = `${GUARD_AND_COVER}local i, n = 3, #ARGV
local applied, dups, rec = 0, 0, 0
local last = nil
while i <= n do
  local offset = ARGV[i]
  local cmds = tonumber(ARGV[i + 1])
  i = i + 2
  if tonumber(offset) <= wm then
    dups = dups + 1
    for c = 1, cmds do i = i + 1 + tonumber(ARGV[i]) end
  else
    for c = 1, cmds do
      local argc = tonumber(ARGV[i])
      local reply = rpcall(unpack(ARGV, i + 1, i + argc))
      i = i + 1 + argc
      if type(reply) == 'table' and reply.err then
        if last then redis.call('SET', KEYS[1], last) end
        return {2, applied, dups, rec, reply.err}
      end
    end
    applied = applied + 1
    last = offset
  end
  rec = rec + 1
end
if last then redis.call('SET', KEYS[1], last) end
return {0, applied, dups, -1, ''}`;

/**
 * {@link APPLY_SCRIPT} for a unit whose records all have the same shape (the same number of commands with the
 * same argument counts: one `HSET` of the spec's fields, `INCRBY` + `EXPIRE`, …), which most units are. The
 * shape is sent once instead of per record, and so is every argument that is the same in all the unit's
 * records (the command names, a hash model's field names, a fixed TTL): Lua makes a string of each argument
 * it receives, so an argument sent once instead of per record is Redis' time saved as well as the wire's
 * (bench/RESULTS.md, kafka-lambda). Since a unit's offsets increase, its duplicates are a prefix found by
 * comparing offsets until one is above the watermark.
 *
 * ARGV[1] guard and ARGV[2] cover as in APPLY_SCRIPT; ARGV[3] the record count n; ARGV[4] the commands per
 * record m; then per command: its argument count, the count of its constant arguments, and per constant
 * argument its position (1-based) and value; then the n offsets; then per record, per command, the arguments
 * that are not constant, in order. The reply is APPLY_SCRIPT's.
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
while k < n and tonumber(ARGV[first + k]) <= wm do k = k + 1 end
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
      if k > dups then redis.call('SET', KEYS[1], ARGV[first + k - 1]) end
      return {2, k - dups, dups, k, reply.err}
    end
  end
  k = k + 1
end
if n > dups then redis.call('SET', KEYS[1], ARGV[first + n - 1]) end
return {0, n - dups, dups, -1, ''}`;

/**
 * The watermark key of (group, topic, partition): `<prefix><topic>:<partition>:<group>`. Topic names cannot
 * hold `:`, so the key is unambiguous whatever the group id holds.
 *
 * @example
 * watermarkKey('rbl:wm:', 'profiles', 'orders', 3) // 'rbl:wm:orders:3:profiles'
 */
export function watermarkKey(prefix: string, group: string, topic: string, partition: number): string {
  return `${prefix}${topic}:${partition}:${group}`;
}

/**
 * The watermark of a partition in one slot of a Redis Cluster: the hash tag right after the prefix puts it
 * in `slot`, beside the data it covers, so its script never spans two slots (`CROSSSLOT`).
 *
 * @example
 * slotWatermarkKey('rbl:wm:', 'profiles', 'orders', 3, 42) // 'rbl:wm:{a52}orders:3:profiles'
 */
export function slotWatermarkKey(
  prefix: string,
  group: string,
  topic: string,
  partition: number,
  slot: number,
): string {
  return `${prefix}{${slotTag(slot)}}${topic}:${partition}:${group}`;
}

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
 * `declareKeys`: list the keys the unit writes in `KEYS` after the watermark. A Redis Cluster needs them (the
 * node checks that a script's keys share its slot); a standalone server does not look at them, and sending
 * each key a second time costs Node a set insertion and an encoding, and Redis a parse and a Lua string, per
 * record (bench/RESULTS.md, kafka-lambda).
 */
export function unitCommand(
  watermark: string,
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
  let size = 6 + keys.size;
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
  args[2] = String(keys.size + 1);
  args[3] = watermark;
  let n = 4;
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
