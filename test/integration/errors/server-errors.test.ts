import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  classifyReplyError,
  FatalError,
  InputError,
  type LoaderError,
  SCRIPT_ERROR_SUFFIX,
} from '../../../shared/errors/index.js';
import { type Command, ReplyError, TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix } from '../../support/files.js';
import { useRedis } from '../../support/redis-server.js';
import { SERVER_REPLIES, type ServerReplyId } from '../../unit/errors/server-replies.js';

// Every reply of the table that a real server said, exactly; the last test checks none was left out.
const provoked = new Set<ServerReplyId>();
const targets: TcpTarget[] = [];
afterAll(async () => {
  await Promise.all(targets.map((t) => t.close()));
});

function connect(url: string): TcpTarget {
  const t = new TcpTarget(url);
  targets.push(t);
  return t;
}

const c = (...args: (string | Buffer)[]): Command => ({ args });

/** Sends `cmds` as one pipeline; returns the last command's error reply (the others must have succeeded). */
async function lastError(t: TcpTarget, cmds: readonly Command[]): Promise<ReplyError> {
  const replies = await t.exec(cmds);
  const last = replies.at(-1);
  if (!(last instanceof ReplyError)) throw new Error(`expected an error reply, got ${JSON.stringify(last)}`);
  return last;
}

/** The real reply must be the table's text, word for word, and map to the table's class. */
function expectTableReply(id: ServerReplyId, real: ReplyError): LoaderError {
  const entry = SERVER_REPLIES[id];
  expect(real.message).toBe(entry.reply);
  const error = classifyReplyError(real.message);
  expect(error.name).toBe(entry.name);
  provoked.add(id);
  return error;
}

/** Redis' CRC-64 (Jones polynomial, reflected), as DUMP/RESTORE payloads end with it. */
function crc64(data: Buffer): bigint {
  const poly = 0x95ac9329ac4bc9b5n;
  let crc = 0n;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc;
}

/** A RESTORE payload: the serialized object, RDB version 10 (Redis 7.0), then the CRC-64 of both. */
function dumpPayload(object: Buffer): Buffer {
  const head = Buffer.concat([object, Buffer.from([10, 0])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(head));
  return Buffer.concat([head, crc]);
}

/** The string `v`: type 0 (string), length 1, the byte. */
const STRING_V = Buffer.from([0, 1, 0x76]);
/** A valid checksum over an object type no server knows. */
const UNKNOWN_TYPE = Buffer.from([0x7f, 1, 0x76]);

describe('error replies of a standalone redis-server', () => {
  const redis = useRedis();

  it('computes DUMP payloads the server accepts (the helper the RESTORE cases rely on)', async () => {
    const t = connect(redis.server.url);
    const k = `${randomPrefix()}:restored`;
    expect(await t.exec([c('RESTORE', k, '0', dumpPayload(STRING_V)), c('GET', k)])).toEqual(['OK', 'v']);
  });

  // Each data error as the loader's own commands get it, provoked for real on a fresh key.
  const dataErrors: [ServerReplyId, string, (k: string) => Command[]][] = [
    ['wrongType', 'HSET on a string', (k) => [c('SET', k, 'v'), c('HSET', k, 'f', 'v')]],
    ['wrongType', 'HDEL on a string', (k) => [c('SET', k, 'v'), c('HDEL', k, 'f')]],
    ['wrongType', 'INCRBY on a hash', (k) => [c('HSET', k, 'f', 'v'), c('INCRBY', k, '1')]],
    ['notInteger', 'INCRBY on a non-integer', (k) => [c('SET', k, 'abc'), c('INCRBY', k, '1')]],
    ['notInteger', 'INCRBY by a non-integer', (k) => [c('INCRBY', k, 'abc')]],
    ['notInteger', 'HINCRBY by a non-integer', (k) => [c('HINCRBY', k, 'f', '1.5')]],
    ['notInteger', 'SET EX with a non-integer TTL', (k) => [c('SET', k, 'v', 'EX', 'soon')]],
    ['notInteger', 'EXPIRE with a non-integer TTL', (k) => [c('SET', k, 'v'), c('EXPIRE', k, '1h')]],
    ['overflow', 'INCRBY past int64', (k) => [c('SET', k, '9223372036854775807'), c('INCRBY', k, '1')]],
    [
      'overflow',
      'HINCRBY past int64',
      (k) => [c('HSET', k, 'n', '9223372036854775807'), c('HINCRBY', k, 'n', '1')],
    ],
    [
      'hashNotInteger',
      'HINCRBY on a text field',
      (k) => [c('HSET', k, 'f', 'abc'), c('HINCRBY', k, 'f', '1')],
    ],
    ['notFloat', 'HINCRBYFLOAT by a non-float', (k) => [c('HINCRBYFLOAT', k, 'f', 'abc')]],
    ['notFloat', 'INCRBYFLOAT on a non-float', (k) => [c('SET', k, 'abc'), c('INCRBYFLOAT', k, '1')]],
    [
      'hashNotFloat',
      'HINCRBYFLOAT on a text field',
      (k) => [c('HSET', k, 'f', 'abc'), c('HINCRBYFLOAT', k, 'f', '1')],
    ],
    ['hashIncrNaN', 'HINCRBYFLOAT by inf', (k) => [c('HINCRBYFLOAT', k, 'f', 'inf')]],
    ['incrNaN', 'INCRBYFLOAT by inf', (k) => [c('INCRBYFLOAT', k, 'inf')]],
    ['setExpire', 'SET EX 0', (k) => [c('SET', k, 'v', 'EX', '0')]],
    ['setExpire', 'SET EX -5', (k) => [c('SET', k, 'v', 'EX', '-5')]],
    ['setExpire', 'SET EX past the range', (k) => [c('SET', k, 'v', 'EX', '9223372036854775807')]],
    [
      'expireExpire',
      'EXPIRE past the range',
      (k) => [c('SET', k, 'v'), c('EXPIRE', k, '9223372036854775807')],
    ],
    [
      'pexpireExpire',
      'PEXPIRE past the range',
      (k) => [c('SET', k, 'v'), c('PEXPIRE', k, '9223372036854775807')],
    ],
    ['restoreTtl', 'RESTORE with a negative TTL', (k) => [c('RESTORE', k, '-1', dumpPayload(STRING_V))]],
    ['badChecksum', 'RESTORE of garbage', (k) => [c('RESTORE', k, '0', 'not a dump payload')]],
    [
      'badChecksum',
      'RESTORE with a flipped checksum byte',
      (k) => {
        const payload = dumpPayload(STRING_V);
        payload[payload.length - 1]! ^= 0xff;
        return [c('RESTORE', k, '0', payload)];
      },
    ],
    ['badData', 'RESTORE of an unknown type', (k) => [c('RESTORE', k, '0', dumpPayload(UNKNOWN_TYPE))]],
    [
      'busyKey',
      'RESTORE onto an existing key',
      (k) => [c('SET', k, 'v'), c('RESTORE', k, '0', dumpPayload(STRING_V))],
    ],
  ];

  it.each(dataErrors)('%s (%s) rejects the record', async (id, _what, provoke) => {
    const t = connect(redis.server.url);
    const cmds = provoke(`${randomPrefix()}:k`);
    const real = await lastError(t, cmds);
    expect(expectTableReply(id, real)).toBeInstanceOf(InputError);
    const command = String(cmds.at(-1)!.args[0]);
    const error = classifyReplyError(real.message, { shard: t.name, command, index: cmds.length - 1 });
    expect(error.message).toBe(
      `Command ${cmds.length} [ ${command} ] on ${t.name} failed: redis: ${real.message}`,
    );
  });

  it('tooBig: a value past proto-max-bulk-len rejects the record', async () => {
    const t = connect(redis.server.url);
    // 1 MiB is the smallest limit the server accepts; SETRANGE past it asks for a longer string.
    expect(await t.exec([c('CONFIG', 'SET', 'proto-max-bulk-len', String(1 << 20))])).toEqual(['OK']);
    try {
      const real = await lastError(t, [c('SETRANGE', `${randomPrefix()}:big`, String(1 << 20), 'x')]);
      expect(expectTableReply('tooBig', real)).toBeInstanceOf(InputError);
    } finally {
      await t.exec([c('CONFIG', 'SET', 'proto-max-bulk-len', String(512 << 20))]);
    }
  });

  it('a redis.pcall reply the script returns as is stays the data error it is', async () => {
    const t = connect(redis.server.url);
    const k = `${randomPrefix()}:s`;
    const script = "return redis.pcall('hset', KEYS[1], 'f', 'v')";
    expectTableReply('wrongType', await lastError(t, [c('SET', k, 'v'), c('EVAL', script, '1', k)]));
  });

  // Errors that have nothing to do with the record: the load stops, and no record is rejected.
  const setupErrors: [ServerReplyId, (k: string) => Command[]][] = [
    ['unknownCommand', () => [c('FOO', 'bar')]],
    ['noScript', () => [c('EVALSHA', '0'.repeat(40), '0')]],
    ['execAbort', (k) => [c('MULTI'), c('FOO', 'bar'), c('SET', k, 'v'), c('EXEC')]],
    ['execWithoutMulti', () => [c('EXEC')]],
    ['syntax', (k) => [c('SET', k, 'v', 'EX', '1', 'PX', '1')]],
    ['arity', (k) => [c('HSET', k)]],
    ['unsupportedOption', (k) => [c('SET', k, 'v'), c('EXPIRE', k, '10', 'BADOPT')]],
    ['dbIndex', () => [c('SELECT', '99')]],
    ['functionNotFound', () => [c('FCALL', 'rbl_no_such_function', '0')]],
    ['clusterDisabled', () => [c('CLUSTER', 'INFO')]],
  ];

  it.each(setupErrors)('%s stops the load', async (id, provoke) => {
    const t = connect(redis.server.url);
    const error = expectTableReply(id, await lastError(t, provoke(`${randomPrefix()}:k`)));
    expect(error).toBeInstanceOf(FatalError);
    expect(error).not.toBeInstanceOf(InputError);
  });

  it('stops the load on a data error raised inside a script or a function', async () => {
    const t = connect(redis.server.url);
    const k = `${randomPrefix()}:s`;
    const lib = `#!lua name=rbl_errors_test\nredis.register_function('rbl_hset', function(keys) return redis.call('hset', keys[1], 'f', 'v') end)`;
    const replies = await t.exec([
      c('SET', k, 'v'),
      c('EVAL', "return redis.call('hset', KEYS[1], 'f', 'v')", '1', k),
      c('EVAL', "return redis.call('incrby', KEYS[1], 'x')", '1', k),
      c('FUNCTION', 'LOAD', 'REPLACE', lib),
      c('FCALL', 'rbl_hset', '1', k),
      c('FUNCTION', 'DELETE', 'rbl_errors_test'),
    ]);
    expect(replies[3]).toBe('rbl_errors_test');
    expect(replies[5]).toBe('OK');
    const shapes = [
      /^WRONGTYPE Operation against a key holding the wrong kind of value script: [0-9a-f]{40}, on @user_script:1\.$/,
      /^ERR value is not an integer or out of range script: [0-9a-f]{40}, on @user_script:1\.$/,
      /^WRONGTYPE Operation against a key holding the wrong kind of value script: rbl_hset, on @user_function:2\.$/,
    ];
    for (const [i, reply] of [replies[1], replies[2], replies[4]].entries()) {
      expect(reply).toBeInstanceOf(ReplyError);
      const message = (reply as ReplyError).message;
      expect(message).toMatch(shapes[i]!);
      expect(message).toMatch(SCRIPT_ERROR_SUFFIX);
      expect(classifyReplyError(message).name).toBe('FatalError');
    }
  });

  it('maxClients: a connection over maxclients is refused with a fatal, actionable error', async () => {
    const t = connect(redis.server.url);
    expect(await t.exec([c('CONFIG', 'SET', 'maxclients', '1')])).toEqual(['OK']);
    try {
      // The server writes the error to the new connection and closes it before reading anything.
      const said = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(redis.server.port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (text += d));
        socket.on('close', () => resolve(text));
        socket.on('error', (err) => (text ? resolve(text) : reject(err)));
      });
      expect(said.endsWith('\r\n') && said.startsWith('-')).toBe(true);
      const error = expectTableReply('maxClients', new ReplyError(said.slice(1, -2)));
      expect(error.message).toContain('maxclients');
    } finally {
      await t.exec([c('CONFIG', 'SET', 'maxclients', '10000')]);
    }
  });

  it('busy: a long script makes other clients retry', async () => {
    const runner = connect(redis.server.url);
    const other = connect(redis.server.url);
    await other.exec([c('PING')]);
    await runner.exec([c('CONFIG', 'SET', 'busy-reply-threshold', '50')]);
    try {
      const script =
        "local s = redis.call('TIME') local t repeat t = redis.call('TIME') " +
        'until (t[1] - s[1]) * 1000000 + (t[2] - s[2]) > 500000 return 1';
      const running = runner.exec([c('EVAL', script, '0')]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expectTableReply('busy', await lastError(other, [c('PING')]));
      expect(await running).toEqual([1]);
    } finally {
      await runner.exec([c('CONFIG', 'SET', 'busy-reply-threshold', '5000')]);
    }
  });

  it('noReplicas, oom: server states that refuse writes', async () => {
    const t = connect(redis.server.url);
    const k = `${randomPrefix()}:w`;
    await t.exec([c('CONFIG', 'SET', 'min-replicas-to-write', '1')]);
    try {
      expectTableReply('noReplicas', await lastError(t, [c('SET', k, 'v')]));
    } finally {
      await t.exec([c('CONFIG', 'SET', 'min-replicas-to-write', '0')]);
    }
    await t.exec([c('CONFIG', 'SET', 'maxmemory', '1')]);
    try {
      expectTableReply('oom', await lastError(t, [c('SET', k, 'v')]));
    } finally {
      await t.exec([c('CONFIG', 'SET', 'maxmemory', '0')]);
    }
  });

  it('wrongPass, noPerm: credential problems', async () => {
    const t = connect(redis.server.url);
    const user = `rbl-${randomPrefix()}`;
    expectTableReply('wrongPass', await lastError(t, [c('AUTH', user, 'wrong')]));
    await t.exec([c('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+get')]);
    try {
      const limited = connect(`redis://${user}:pw@127.0.0.1:${redis.server.port}`);
      expectTableReply('noPerm', await lastError(limited, [c('HSET', `${randomPrefix()}:h`, 'f', 'v')]));
    } finally {
      await t.exec([c('ACL', 'DELUSER', user)]);
    }
  });
});

describe('error replies of a replica whose master is gone', () => {
  const redis = useRedis();

  it('readOnly, masterDown: retryable', async () => {
    const t = connect(redis.server.url);
    // Nothing listens on port 1: the link to the master stays down.
    expect(await t.exec([c('REPLICAOF', '127.0.0.1', '1')])).toEqual(['OK']);
    expectTableReply('readOnly', await lastError(t, [c('SET', `${randomPrefix()}:k`, 'v')]));
    await t.exec([c('CONFIG', 'SET', 'replica-serve-stale-data', 'no')]);
    expectTableReply('masterDown', await lastError(t, [c('GET', `${randomPrefix()}:k`)]));
    await t.exec([c('REPLICAOF', 'NO', 'ONE')]);
  });
});

describe('error replies of Redis Cluster nodes', () => {
  const a = useRedis({ args: ['--cluster-enabled', 'yes'] });
  const b = useRedis({ args: ['--cluster-enabled', 'yes'] });

  async function clusterOk(t: TcpTarget): Promise<boolean> {
    const [info] = await t.exec([c('CLUSTER', 'INFO')]);
    return typeof info === 'string' && info.includes('cluster_state:ok');
  }

  it('clusterDown, then MOVED, CROSSSLOT, ASK and TRYAGAIN with a cluster hint', async () => {
    const ta = connect(a.server.url);
    const tb = connect(b.server.url);
    // Slot 12182 ('foo') goes to b, 5061 ('bar') stays with a.
    expectTableReply('clusterDown', await lastError(ta, [c('SET', 'foo', '1')]));

    await ta.exec([c('CLUSTER', 'ADDSLOTSRANGE', '0', '8191')]);
    await tb.exec([c('CLUSTER', 'ADDSLOTSRANGE', '8192', '16383')]);
    await ta.exec([c('CLUSTER', 'MEET', '127.0.0.1', String(b.server.port))]);
    for (let i = 0; !((await clusterOk(ta)) && (await clusterOk(tb))); i++) {
      if (i > 100) throw new Error('the two-node cluster did not reach cluster_state:ok in 10 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const hint = '(hint: the server is a Redis Cluster node: load it in cluster mode';
    const moved = await lastError(ta, [c('SET', 'foo', '1')]);
    expect(moved.message).toBe(`MOVED 12182 127.0.0.1:${b.server.port}`);
    const movedError = classifyReplyError(moved.message, { shard: ta.name, command: 'SET', index: 0 });
    expect(movedError.name).toBe('FatalError');
    expect(movedError.message).toContain(hint);

    const crossSlot = expectTableReply('crossSlot', await lastError(ta, [c('DEL', 'a', 'b')]));
    expect(crossSlot.message).toContain(hint);

    const [idB] = await tb.exec([c('CLUSTER', 'MYID')]);
    expect(
      await ta.exec([c('SET', '{bar}here', '1'), c('CLUSTER', 'SETSLOT', '5061', 'MIGRATING', String(idB))]),
    ).toEqual(['OK', 'OK']);
    const ask = await lastError(ta, [c('SET', 'bar', '1')]);
    expect(ask.message).toBe(`ASK 5061 127.0.0.1:${b.server.port}`);
    expect(classifyReplyError(ask.message).name).toBe('FatalError');
    expect(classifyReplyError(ask.message).message).toContain(hint);

    // One key of a migrating slot present, one gone: the server cannot answer for both now.
    expectTableReply('tryAgain', await lastError(ta, [c('MGET', '{bar}here', '{bar}gone')]));
  });
});

describe('the reply table', () => {
  it('has every entry marked real provoked on a real server above', () => {
    const real = Object.entries(SERVER_REPLIES)
      .filter(([, r]) => 'real' in r && r.real)
      .map(([id]) => id)
      .sort();
    expect([...provoked].sort()).toEqual(real);
  });
});
