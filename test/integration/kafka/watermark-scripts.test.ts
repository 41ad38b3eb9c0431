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
  it('apply what one command at a time would, stop at the first failing record, and move the watermark to match (property)', async () => {
    target = new TcpTarget(redis.server.url);
    let uniformRuns = 0;
    await fc.assert(
      fc.asyncProperty(unit, async (drawn) => {
        const base = randomPrefix();
        const script = `${base}s:`;
        const plain = `${base}p:`;
        const wm = `${base}wm`;
        const setup = [{ args: ['RPUSH', `${script}list`, 'x'] }, { args: ['RPUSH', `${plain}list`, 'x'] }];
        if (drawn.watermark >= 0) setup.push({ args: ['SET', wm, String(drawn.watermark)] });
        await target.exec(setup);

        // The script.
        const records = build(script, drawn);
        const command = unitCommand(wm, records, undefined, drawn.cover, false);
        if (command.args[1] === APPLY_UNIFORM_SCRIPT) uniformRuns++;
        const reply = parseUnitReply((await target.exec([command]))[0]!);

        // One command at a time, as the scripts promise to behave.
        const start = Math.max(drawn.watermark, drawn.cover ?? -1);
        const expected = { duplicates: 0, applied: 0, index: -1, error: '', watermark: start };
        const reference = build(plain, drawn);
        for (let r = 0; r < reference.length && expected.index < 0; r++) {
          if (reference[r]!.offset <= start) {
            expected.duplicates++;
            continue;
          }
          for (const c of reference[r]!.commands) {
            const [answer] = await target.exec([c]);
            if (answer instanceof ReplyError) {
              expected.index = r;
              expected.error = answer.message;
              break;
            }
          }
          if (expected.index < 0) {
            expected.applied++;
            expected.watermark = reference[r]!.offset;
          }
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
        const [stored] = await target.exec([{ args: ['GET', wm] }]);
        expect(stored).toBe(expected.watermark < 0 ? null : String(expected.watermark));
        expect(await snapshot(script)).toEqual(await snapshot(plain));
      }),
      { numRuns: 300 },
    );
    // The draws exercised the uniform script, not only the general one.
    expect(uniformRuns).toBeGreaterThan(100);
  });
});
