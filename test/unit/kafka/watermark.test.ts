import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  APPLY_SCRIPT,
  APPLY_UNIFORM_SCRIPT,
  parseTransactionReplies,
  parseUnitReply,
  TRANSACTION_CHECK_SCRIPT,
  transactable,
  transactionUnit,
  type UnitRecord,
  unitCommand,
  watermarkKey,
} from '../../../shared/kafka/watermark.js';
import { type Command, type Reply, ReplyError } from '../../../shared/redis/index.js';

/**
 * Reads an `EVAL` the way Redis and the scripts do: `EVAL script numkeys KEYS… ARGV…`, ARGV[1] guard, ARGV[2]
 * cover, then for APPLY_SCRIPT per record: offset, command count, per command: arg count, args; for
 * APPLY_UNIFORM_SCRIPT: record count n, command count m, per command its arg count, constant count and
 * (position, value) per constant, then n offsets, then per record the arguments that are not constant.
 * (Lua's ARGV is 1-based; `argv` here is 0-based.)
 */
function readAsScript(cmd: Command) {
  const [name, script, numkeys, ...rest] = cmd.args;
  const keys = rest.slice(0, Number(numkeys));
  const argv = rest.slice(Number(numkeys));
  const records: { offset: string | Buffer; commands: (string | Buffer)[][] }[] = [];
  let i = 2;
  if (script === APPLY_UNIFORM_SCRIPT) {
    const n = Number(argv[2]);
    const m = Number(argv[3]);
    // Per command: argc, constant count, (position, value) pairs; the records then carry the rest.
    const shapes: { argc: number; fixed: Map<number, string | Buffer> }[] = [];
    i = 4;
    for (let c = 0; c < m; c++) {
      const argc = Number(argv[i]);
      const consts = Number(argv[i + 1]);
      i += 2;
      const fixed = new Map<number, string | Buffer>();
      for (let j = 0; j < consts; j++, i += 2) fixed.set(Number(argv[i]), argv[i + 1]!);
      shapes.push({ argc, fixed });
    }
    const offsets = argv.slice(i, i + n);
    i += n;
    for (const offset of offsets) {
      const commands: (string | Buffer)[][] = [];
      for (const { argc, fixed } of shapes) {
        const args: (string | Buffer)[] = [];
        for (let at = 1; at <= argc; at++) args.push(fixed.has(at) ? fixed.get(at)! : argv[i++]!);
        commands.push(args);
      }
      records.push({ offset, commands });
    }
    return { name, script, keys, guard: argv[0], cover: argv[1], records, end: i };
  }
  while (i < argv.length) {
    const offset = argv[i]!;
    const count = Number(argv[i + 1]);
    i += 2;
    const commands: (string | Buffer)[][] = [];
    for (let c = 0; c < count; c++) {
      const argc = Number(argv[i]);
      commands.push(argv.slice(i + 1, i + 1 + argc));
      i += 1 + argc;
    }
    records.push({ offset, commands });
  }
  return { name, script, keys, guard: argv[0], cover: argv[1], records, end: i };
}

describe('watermarkKey', () => {
  it('is <prefix><topic>:<partition>:<group>', () => {
    expect(watermarkKey('rbl:wm:', 'profiles', 'orders', 3)).toBe('rbl:wm:orders:3:profiles');
  });

  it('gives distinct (group, topic, partition) distinct keys, whatever the group holds (property)', () => {
    // Kafka topic names: letters, digits, '.', '_' and '-'; never ':'.
    const topic = fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/);
    const stream = fc.tuple(fc.string({ maxLength: 12 }), topic, fc.nat(1000));
    fc.assert(
      fc.property(stream, stream, ([g1, t1, p1], [g2, t2, p2]) => {
        const same = g1 === g2 && t1 === t2 && p1 === p2;
        expect(watermarkKey('rbl:wm:', g1, t1, p1) === watermarkKey('rbl:wm:', g2, t2, p2)).toBe(same);
      }),
    );
  });
});

describe('unitCommand', () => {
  it('the reader above follows APPLY_SCRIPT', () => {
    // Guard and cover in ARGV[1] and ARGV[2], the records from ARGV[3]: offset, count, then argc and args.
    expect(APPLY_SCRIPT).toContain(
      "if ARGV[1] ~= '' and (wm < tonumber(ARGV[1]) or (pf and pf <= tonumber(ARGV[1])))",
    );
    expect(APPLY_SCRIPT).toContain("if ARGV[2] ~= '' then\n  local c = tonumber(ARGV[2])");
    expect(APPLY_SCRIPT).toContain("redis.call('GET', KEYS[2])");
    expect(APPLY_SCRIPT).toContain('local i, n = 3, #ARGV');
    expect(APPLY_SCRIPT).toContain(
      'local offset = ARGV[i]\n  local o = tonumber(offset)\n  local cmds = tonumber(ARGV[i + 1])\n  i = i + 2',
    );
    expect(APPLY_SCRIPT).toContain('local argc = tonumber(ARGV[i])');
    expect(APPLY_SCRIPT).toContain('rpcall(unpack(ARGV, i + 1, i + argc))');
    expect(APPLY_SCRIPT).toContain('for c = 1, cmds do i = i + 1 + tonumber(ARGV[i]) end');
    expect(APPLY_SCRIPT).toContain("redis.call('GET', KEYS[1])");
    // The uniform layout: n, m, per command argc, constants and their (position, value), n offsets, the rest.
    expect(APPLY_UNIFORM_SCRIPT).toContain("if ARGV[1] ~= '' and (wm < tonumber(ARGV[1]) or");
    expect(APPLY_UNIFORM_SCRIPT).toContain("if ARGV[2] ~= '' then\n  local c = tonumber(ARGV[2])");
    expect(APPLY_UNIFORM_SCRIPT).toContain('local n = tonumber(ARGV[3])\nlocal m = tonumber(ARGV[4])');
    expect(APPLY_UNIFORM_SCRIPT).toContain('local p = 5\nfor c = 1, m do\n  argc[c] = tonumber(ARGV[p])');
    expect(APPLY_UNIFORM_SCRIPT).toContain('local at = tonumber(ARGV[p])\n    t[at] = ARGV[p + 1]');
    expect(APPLY_UNIFORM_SCRIPT).toContain('local first = p');
    expect(APPLY_UNIFORM_SCRIPT).toContain('p = first + n + k * per');
    expect(APPLY_UNIFORM_SCRIPT).toContain('t[v[j]] = ARGV[p]');
    expect(APPLY_UNIFORM_SCRIPT).toContain('rpcall(unpack(t, 1, argc[c]))');
  });

  it('sends records of one shape once with the uniform script', () => {
    const cmd = unitCommand(
      'wm',
      'pm',
      [
        {
          offset: 10,
          commands: [
            { key: 'a', args: ['INCRBY', 'a', '1'] },
            { key: 'a', args: ['EXPIRE', 'a', '9'] },
          ],
        },
        {
          offset: 12,
          commands: [
            { key: 'b', args: ['INCRBY', 'b', '2'] },
            { key: 'b', args: ['EXPIRE', 'b', '9'] },
          ],
        },
      ],
      undefined,
      7,
    );
    expect(cmd.args[1]).toBe(APPLY_UNIFORM_SCRIPT);
    // prettier-ignore
    expect(cmd.args.slice(2)).toEqual([
      '4', 'wm', 'pm', 'a', 'b', // numkeys, the watermark, the pending mark, the written keys once each
      '', '7',                  // no guard, a cover
      '2', '2',                 // 2 records of 2 commands
      '3', '1', '1', 'INCRBY',  // 3 arguments, 1 the same in every record: 'INCRBY' at 1
      '3', '2', '1', 'EXPIRE', '3', '9', // 'EXPIRE' at 1 and '9' at 3
      '10', '12',               // the offsets
      'a', '1', 'a', 'b', '2', 'b', // per record the arguments that differ
    ]);
  });

  it('declares only the watermark and the pending mark in KEYS when asked not to list the written keys (a standalone server)', () => {
    const records: UnitRecord[] = [
      { offset: 3, commands: [{ key: 'a', args: ['SET', 'a', '1'] }] },
      { offset: 4, commands: [{ key: 'b', args: ['SET', 'b', '2'] }] },
    ];
    const read = readAsScript(unitCommand('wm', 'pm', records, 2, undefined, false));
    expect(read.keys).toEqual(['wm', 'pm']);
    expect(read.records).toEqual([
      { offset: '3', commands: [['SET', 'a', '1']] },
      { offset: '4', commands: [['SET', 'b', '2']] },
    ]);
  });

  it('lays out EVAL arguments as the script reads them', () => {
    const cmd = unitCommand(
      'wm',
      'pm',
      [
        { offset: 10, commands: [{ key: 'a', args: ['SET', 'a', '1'] }] },
        {
          offset: 11,
          commands: [
            { key: 'b', args: ['HSET', 'b', 'f', 'v'] },
            { key: 'b', args: ['EXPIRE', 'b', '9'] },
          ],
        },
      ],
      9,
      undefined,
    );
    expect(cmd.key).toBe('wm');
    expect(cmd.args.slice(0, 2)).toEqual(['EVAL', APPLY_SCRIPT]); // two shapes: the general script
    // prettier-ignore
    expect(cmd.args.slice(2)).toEqual([
      '4', 'wm', 'pm', 'a', 'b',             // numkeys, watermark, pending mark, the written keys once each
      '9', '',                               // guard, no cover
      '10', '1', '3', 'SET', 'a', '1',       // offset, commands, argc, args
      '11', '2', '4', 'HSET', 'b', 'f', 'v', '3', 'EXPIRE', 'b', '9',
    ]);
  });

  it('sends a cover, no guard, and an empty unit as the bare watermark', () => {
    expect(unitCommand('wm', 'pm', [], undefined, 41).args.slice(2)).toEqual(['2', 'wm', 'pm', '', '41']);
    expect(unitCommand('wm', 'pm', [{ offset: 0, commands: [] }], 0, 0).args.slice(2)).toEqual([
      '2',
      'wm',
      'pm',
      '0',
      '0',
      '0',
      '0',
    ]);
  });

  it('passes Buffer arguments through untouched and declares only keyed commands', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x80]);
    const cmd = unitCommand(
      'wm',
      'pm',
      [{ offset: 5, commands: [{ args: ['PING'] }, { key: 'k', args: ['SET', 'k', bytes] }] }],
      undefined,
      undefined,
    );
    const read = readAsScript(cmd);
    expect(read.keys).toEqual(['wm', 'pm', 'k']);
    expect(read.records).toEqual([{ offset: '5', commands: [['PING'], ['SET', 'k', bytes]] }]);
    expect(read.records[0]!.commands[1]![2]).toBe(bytes);
  });

  it('reads back as the records, guard and cover it was built from (property)', () => {
    const arg = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('', '0', '-1', '3', 'EXPIRE'));
    const command = fc.record({
      key: fc.option(fc.constantFrom('a', 'b', 'c:1'), { nil: undefined }),
      args: fc.array(arg, { minLength: 1, maxLength: 5 }),
    });
    const unit = fc.array(fc.record({ offset: fc.nat(), commands: fc.array(command, { maxLength: 3 }) }), {
      maxLength: 6,
    });
    const bound = fc.option(fc.integer({ min: -1, max: 1_000_000 }), { nil: undefined });
    fc.assert(
      fc.property(unit, bound, bound, (records, guard, cover) => {
        const typed: UnitRecord[] = records.map((r) => ({
          offset: r.offset,
          commands: r.commands.map((c): Command =>
            c.key === undefined ? { args: c.args } : { key: c.key, args: c.args },
          ),
        }));
        const read = readAsScript(unitCommand('rbl:wm:t:0:g', 'rbl:wm:t:pending:0:g', typed, guard, cover));
        expect(read.name).toBe('EVAL');
        expect([APPLY_SCRIPT, APPLY_UNIFORM_SCRIPT]).toContain(read.script);
        expect(read.keys).toEqual([
          'rbl:wm:t:0:g',
          'rbl:wm:t:pending:0:g',
          ...new Set(records.flatMap((r) => r.commands.flatMap((c) => c.key ?? []))),
        ]);
        expect(read.guard).toBe(guard === undefined ? '' : String(guard));
        expect(read.cover).toBe(cover === undefined ? '' : String(cover));
        expect(read.records).toEqual(
          records.map((r) => ({ offset: String(r.offset), commands: r.commands.map((c) => c.args) })),
        );
      }),
    );
  });
});

describe('parseUnitReply', () => {
  it('0: done, with the applied and duplicate counts', () => {
    expect(parseUnitReply([0, 5, 2, -1, ''])).toEqual({ status: 'done', applied: 5, duplicates: 2 });
    expect(parseUnitReply([0, 0, 0, -1, ''])).toEqual({ status: 'done', applied: 0, duplicates: 0 });
  });

  it('1: blocked by the guard, with the watermark found', () => {
    expect(parseUnitReply([1, 0, 0, -1, '41'])).toEqual({ status: 'blocked', watermark: 41 });
    expect(parseUnitReply([1, 0, 0, -1, '-1'])).toEqual({ status: 'blocked', watermark: -1 });
  });

  it('2: stopped at a record, with the error of its command', () => {
    expect(
      parseUnitReply([2, 3, 1, 4, 'WRONGTYPE Operation against a key holding the wrong kind of value']),
    ).toEqual({
      status: 'stopped',
      applied: 3,
      duplicates: 1,
      index: 4,
      error: 'WRONGTYPE Operation against a key holding the wrong kind of value',
    });
  });

  it('a script refused as a whole', () => {
    expect(parseUnitReply(new ReplyError('LOADING Redis is loading'))).toEqual({
      status: 'refused',
      error: 'LOADING Redis is loading',
    });
    expect(parseUnitReply(new ReplyError('NOSCRIPT No matching script'))).toEqual({
      status: 'refused',
      error: 'NOSCRIPT No matching script',
    });
  });

  // A reply the script cannot give must not pass for "stopped": that would dead-letter a record at random.
  it.each<[string, Reply]>([
    ['a status reply', 'OK'],
    ['nil', null],
    ['an integer', 7],
    ['an empty array', []],
    ['a short array', [0, 1, 2, -1]],
    ['an unknown status', [3, 0, 0, 0, 'WRONGTYPE x']],
    ['a status as text', ['0', 5, 2, -1, '']],
    ['counts as text', [2, '3', '0', '1', 'WRONGTYPE x']],
    ['a nil error text', [2, 3, 0, 1, null]],
  ])('%s is refused as unexpected', (_, reply) => {
    expect(parseUnitReply(reply)).toEqual({
      status: 'refused',
      error: `unexpected script reply ${JSON.stringify(reply)}`,
    });
  });

  it('cuts an unexpected reply at 200 characters', () => {
    const reply = parseUnitReply('x'.repeat(500));
    expect(reply).toMatchObject({ status: 'refused' });
    expect(reply.status === 'refused' && reply.error).toBe(
      `unexpected script reply ${`"${'x'.repeat(199)}`}`,
    );
  });
});

describe('transactionUnit', () => {
  const records: UnitRecord[] = [
    { offset: 10, commands: [{ key: 'a', args: ['HSET', 'a', 'f', '1'] }] },
    { offset: 12, commands: [{ key: 'b', args: ['DEL', 'b'] }] },
  ];

  it('watches the watermark and the mark, checks, then sets the mark before any write and the watermark after all', () => {
    const cmds = transactionUnit('wm', 'pm', 'tok', records, 9);
    expect(cmds.map((c) => c.args)).toEqual([
      ['WATCH', 'wm', 'pm'],
      ['EVAL', TRANSACTION_CHECK_SCRIPT, '2', 'wm', 'pm', '9', '10', 'tok'],
      ['MULTI'],
      ['SET', 'pm', '10:tok', 'NX'],
      ['HSET', 'a', 'f', '1'],
      ['DEL', 'b'],
      ['SET', 'wm', '12'],
      ['EXEC'],
    ]);
    expect(transactionUnit('wm', 'pm', 'tok', records, undefined)[1]!.args[5]).toBe('');
  });

  it('holds only records of one idempotent write each', () => {
    expect(transactable(records)).toBe(true);
    expect(transactable([])).toBe(false);
    // A counter is not idempotent; an EXPIRE after a failed HSET would still run; two commands per record.
    expect(transactable([{ offset: 1, commands: [{ key: 'c', args: ['INCRBY', 'c', '1'] }] }])).toBe(false);
    expect(
      transactable([
        {
          offset: 1,
          commands: [
            { key: 'a', args: ['HSET', 'a', 'f', '1'] },
            { key: 'a', args: ['EXPIRE', 'a', '60'] },
          ],
        },
      ]),
    ).toBe(false);
    expect(transactable([{ offset: 1, commands: [{ key: 'a', args: ['SET', 'a', '1', 'EX', '60'] }] }])).toBe(
      true,
    );
  });
});

describe('parseTransactionReplies', () => {
  const queued = (n: number): Reply[] => [
    'OK',
    1,
    'OK',
    'QUEUED',
    ...new Array<Reply>(n).fill('QUEUED'),
    'QUEUED',
  ];

  it('ran: lists the records whose write failed, in order', () => {
    const wrong = new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
    expect(parseTransactionReplies([...queued(3), ['OK', 1, wrong, 0, 'OK']], 3)).toEqual({
      status: 'ran',
      failed: [{ index: 1, error: wrong.message }],
    });
    expect(parseTransactionReplies([...queued(1), ['OK', 1, 'OK']], 1)).toEqual({
      status: 'ran',
      failed: [],
    });
  });

  it('discarded: EXEC answered nil (the check touched a watched key, or another client wrote one)', () => {
    expect(parseTransactionReplies(['OK', 0, 'OK', 'QUEUED', 'QUEUED', 'QUEUED', null], 1)).toEqual({
      status: 'discarded',
    });
  });

  it('refused: EXECABORT names the queued command that was refused', () => {
    const oom = new ReplyError("OOM command not allowed when used memory > 'maxmemory'.");
    const abort = new ReplyError('EXECABORT Transaction discarded because of previous errors.');
    expect(parseTransactionReplies(['OK', 1, 'OK', oom, oom, 'QUEUED', abort], 1)).toEqual({
      status: 'refused',
      error: oom.message,
    });
  });

  it('refused and unchecked: the writes ran although the check did not (a server BUSY in between)', () => {
    const busy = new ReplyError('BUSY Redis is busy running a script.');
    expect(
      parseTransactionReplies(['OK', busy, 'OK', 'QUEUED', 'QUEUED', 'QUEUED', ['OK', 1, 'OK']], 1),
    ).toEqual({
      status: 'refused',
      error: busy.message,
      unchecked: true,
    });
  });

  it('refused: an error on the mark or the watermark write is not understood as success', () => {
    const err = new ReplyError('ERR something');
    expect(parseTransactionReplies([...queued(1), [err, 1, 'OK']], 1)).toEqual({
      status: 'refused',
      error: err.message,
    });
    expect(parseTransactionReplies([...queued(1), ['OK', 1, err]], 1)).toEqual({
      status: 'refused',
      error: err.message,
    });
  });
});
