import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  APPLY_UNIFORM_SCRIPT,
  parseUnitReply,
  type UnitRecord,
  unitCommand,
} from '../../../shared/kafka/watermark.js';
import { type Reply, ReplyError, TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { useRedis } from '../../support/redis-server.js';

/**
 * The two watermark scripts, run by a real redis-server, against the same records applied one command at a
 * time: same data, same watermark, same reply. The records are drawn from small alphabets so that arguments
 * repeat across a unit (the uniform script sends those once), keys collide, and commands fail on the type
 * or value they meet (`WRONGTYPE`, `ERR value is not an integer`), which must stop the unit exactly there.
 */

const redis = useRedis();
let target: TcpTarget;
afterAll(async () => {
  await target?.close();
});

const KEYS = ['a', 'b', 'c', 'list'] as const;

/** One command of a record, its key and arguments built under a key prefix. */
type Template = (prefix: string, key: string, field: string, value: string) => string[];
const TEMPLATES: Record<string, Template> = {
  set: (p, k, _f, v) => ['SET', p + k, v],
  hset: (p, k, f, v) => ['HSET', p + k, f, v, 'g', v],
  incrby: (p, k, _f, v) => ['INCRBY', p + k, v],
  hincrby: (p, k, f, v) => ['HINCRBY', p + k, f, v],
  expire: (p, k) => ['EXPIRE', p + k, '1000'],
  del: (p, k) => ['DEL', p + k],
};

const arg = fc.record({
  key: fc.constantFrom(...KEYS.slice(0, 3), ...KEYS),
  field: fc.constantFrom('f', 'h'),
  value: fc.constantFrom('1', '2', '7', 'x'),
});
const names = (length: number) =>
  fc.array(fc.constantFrom(...Object.keys(TEMPLATES)), { minLength: length, maxLength: length });
const unit = fc.integer({ min: 1, max: 3 }).chain((length) =>
  fc.record({
    shape: names(length),
    records: fc.array(
      fc.record({
        args: fc.array(arg, { minLength: length, maxLength: length }),
        // Mostly the unit's shape (the uniform script); sometimes other commands, of the same argument
        // counts or not (the general script, or the uniform one with a command name that differs).
        own: fc.oneof(
          { weight: 8, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: names(length) },
        ),
      }),
      { minLength: 1, maxLength: 12 },
    ),
    gaps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 12, maxLength: 12 }),
    watermark: fc.integer({ min: -1, max: 20 }),
    cover: fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
    // The first offset of a pending range left by a transaction nobody reviewed (see transactionUnit).
    pending: fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
    guard: fc.option(fc.integer({ min: -1, max: 25 }), { nil: undefined }),
  }),
);

type Drawn = {
  shape: string[];
  records: { args: { key: string; field: string; value: string }[]; own: string[] | undefined }[];
  gaps: number[];
};

function build(prefix: string, drawn: Drawn): UnitRecord[] {
  let offset = 0;
  return drawn.records.map(({ args, own }, r) => {
    offset += drawn.gaps[r]!;
    return {
      offset,
      commands: (own ?? drawn.shape).map((name, c) => {
        const a = args[c]!;
        const line = TEMPLATES[name]!(prefix, a.key, a.field, a.value);
        return { key: line[1]!, args: line };
      }),
    };
  });
}

/** Everything a key holds, for comparing two prefixes. */
async function snapshot(prefix: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const k of KEYS) {
    const [type, ttl] = (await target.exec([
      { args: ['TYPE', prefix + k] },
      { args: ['TTL', prefix + k] },
    ])) as [string, number];
    const read =
      type === 'string'
        ? ['GET', prefix + k]
        : type === 'hash'
          ? ['HGETALL', prefix + k]
          : type === 'list'
            ? ['LRANGE', prefix + k, '0', '-1']
            : undefined;
    const value: Reply | undefined = read ? (await target.exec([{ args: read }]))[0] : undefined;
    out.push([k, type, ttl > 0 ? 'ttl' : ttl, value]);
  }
  return out;
}

describe('the watermark scripts on a real server', () => {
  it('apply what one command at a time would, stop at the first failing record, and move the watermark and the pending mark to match (property)', async () => {
    target = new TcpTarget(redis.server.url);
    let uniformRuns = 0;
    let pendingRuns = 0;
    let blockedRuns = 0;
    await fc.assert(
      fc.asyncProperty(unit, async (drawn) => {
        const base = randomPrefix();
        const script = `${base}s:`;
        const plain = `${base}p:`;
        const wm = `${base}wm`;
        const pm = `${base}pm`;
        const mark = drawn.pending === undefined ? undefined : `${drawn.pending}:0123456789ab`;
        const setup = [{ args: ['RPUSH', `${script}list`, 'x'] }, { args: ['RPUSH', `${plain}list`, 'x'] }];
        if (drawn.watermark >= 0) setup.push({ args: ['SET', wm, String(drawn.watermark)] });
        if (mark !== undefined) setup.push({ args: ['SET', pm, mark] });
        await target.exec(setup);

        // The script.
        const records = build(script, drawn);
        const command = unitCommand(wm, pm, records, drawn.guard, drawn.cover, false);
        if (command.args[1] === APPLY_UNIFORM_SCRIPT) uniformRuns++;
        if (mark !== undefined) pendingRuns++;
        const reply = parseUnitReply((await target.exec([command]))[0]!);
        const [storedWm, storedMark] = await target.exec([{ args: ['GET', wm] }, { args: ['GET', pm] }]);

        // Blocked by the guard: the watermark is below it, or the pending range starts at or below it.
        const { guard } = drawn;
        if (
          guard !== undefined &&
          (drawn.watermark < guard || (drawn.pending !== undefined && drawn.pending <= guard))
        ) {
          blockedRuns++;
          expect(reply).toEqual({ status: 'blocked', watermark: drawn.watermark });
          expect(storedWm).toBe(drawn.watermark < 0 ? null : String(drawn.watermark));
          expect(storedMark).toBe(mark ?? null);
          return;
        }

        // One command at a time, as the scripts promise to behave: a record at or below the watermark is a
        // duplicate unless it is in the pending range [pending, watermark], which is applied again.
        const start = Math.max(drawn.watermark, drawn.cover ?? -1);
        let pf = drawn.pending;
        if (pf !== undefined && drawn.cover !== undefined && pf <= drawn.cover) pf = drawn.cover + 1;
        const expected = { duplicates: 0, applied: 0, index: -1, error: '', watermark: start };
        const reference = build(plain, drawn);
        let reached = -1;
        for (let r = 0; r < reference.length && expected.index < 0; r++) {
          const offset = reference[r]!.offset;
          if (offset <= start && (pf === undefined || offset < pf)) {
            expected.duplicates++;
            reached = offset;
            continue;
          }
          for (const c of reference[r]!.commands) {
            const [answer] = await target.exec([c]);
            if (answer instanceof ReplyError) {
              expected.index = r;
              expected.error = answer.message;
              reached = offset - 1;
              break;
            }
          }
          if (expected.index < 0) {
            expected.applied++;
            expected.watermark = Math.max(expected.watermark, offset);
            reached = offset;
          }
        }
        // The mark moves past what the unit went through, and goes once past the watermark it started from.
        let expectedMark = mark;
        if (pf !== undefined) {
          const moved = pf !== drawn.pending || reached >= pf;
          if (reached >= pf) pf = reached + 1;
          expectedMark = pf > start ? undefined : moved ? String(pf) : mark;
        }

        expect(reply).toEqual(
          expected.index < 0
            ? { status: 'done', applied: expected.applied, duplicates: expected.duplicates }
            : {
                status: 'stopped',
                applied: expected.applied,
                duplicates: expected.duplicates,
                index: expected.index,
                error: expected.error,
              },
        );
        expect(storedWm).toBe(expected.watermark < 0 ? null : String(expected.watermark));
        expect(storedMark).toBe(expectedMark ?? null);
        expect(await snapshot(script)).toEqual(await snapshot(plain));
      }),
      { numRuns: 400 },
    );
    // The draws exercised the uniform script, not only the general one.
    expect(uniformRuns).toBeGreaterThan(100);
    expect(pendingRuns).toBeGreaterThan(100);
    expect(blockedRuns).toBeGreaterThan(20);
  });
});
