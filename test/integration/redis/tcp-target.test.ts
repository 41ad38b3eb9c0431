import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  ConfigError,
  FatalError,
  classifyReplyError,
  InputError,
  RetryableError,
  ServerResetError,
} from '../../../shared/errors/index.js';
import { type Command, ReplyError, TcpTarget, usedMemory } from '../../../shared/redis/index.js';
import { redisCli, startRedis, useRedis } from '../../support/redis-server.js';

const PASSWORD = 'hunter2-Secret';

function prefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

/** Awaits `promise`, expecting a rejection, and returns the error. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** A TCP server that never speaks RESP properly: `reply` answers the n-th data chunk (0-based) or stays silent. */
async function fakeServer(
  reply: (n: number) => string | undefined,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let n = 0;
    socket.on('data', () => {
      const text = reply(n++);
      if (text !== undefined) socket.write(text);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('TcpTarget against redis-server', () => {
  const redis = useRedis();

  it('runs a 10k-command SET/GET pipeline and replies per command', async () => {
    const target = new TcpTarget(redis.server.url);
    const p = prefix();
    const cmds: Command[] = [];
    for (let i = 0; i < 5_000; i++) cmds.push({ key: `${p}${i}`, args: ['SET', `${p}${i}`, `välue-${i}`] });
    for (let i = 0; i < 5_000; i++) cmds.push({ key: `${p}${i}`, args: ['GET', `${p}${i}`] });
    const replies = await target.exec(cmds);
    expect(replies).toHaveLength(10_000);
    expect(replies.slice(0, 5_000).every((r) => r === 'OK')).toBe(true);
    expect(replies.slice(5_000)).toEqual(Array.from({ length: 5_000 }, (_, i) => `välue-${i}`));
    expect(await redisCli(redis.server.port, 'GET', `${p}4321`)).toBe('välue-4321');
    await target.close();
  });

  it('puts a WRONGTYPE error in its slot while the other commands succeed', async () => {
    const target = new TcpTarget(redis.server.url);
    const p = prefix();
    await redisCli(redis.server.port, 'RPUSH', `${p}list`, 'a');
    const replies = await target.exec([
      { key: `${p}a`, args: ['SET', `${p}a`, '1'] },
      { key: `${p}list`, args: ['INCR', `${p}list`] },
      { key: `${p}b`, args: ['SET', `${p}b`, '2'] },
    ]);
    expect(replies[0]).toBe('OK');
    expect(replies[1]).toBeInstanceOf(ReplyError);
    expect((replies[1] as ReplyError).prefix).toBe('WRONGTYPE');
    expect(classifyReplyError((replies[1] as ReplyError).message)).toBeInstanceOf(InputError);
    expect(replies[2]).toBe('OK');
    expect(await redisCli(redis.server.port, 'GET', `${p}b`)).toBe('2');
    await target.close();
  });

  it('keeps concurrent execs in call order, including those issued while connecting', async () => {
    const target = new TcpTarget(redis.server.url);
    const counter = `${prefix()}counter`;
    const batch: Command[] = Array.from({ length: 100 }, () => ({ key: counter, args: ['INCR', counter] }));
    const results = await Promise.all(Array.from({ length: 50 }, () => target.exec(batch)));
    results.forEach((replies, i) => {
      expect(replies).toEqual(Array.from({ length: 100 }, (_, j) => i * 100 + j + 1));
    });
    await target.close();
  });

  it('resolves exec([]) without connecting', async () => {
    const target = new TcpTarget(`redis://127.0.0.1:${await closedPort()}`);
    await expect(target.exec([])).resolves.toEqual([]);
    await target.close();
  });

  it('selects the db of the URL', async () => {
    const target = new TcpTarget(`${redis.server.url}/3`);
    const key = `${prefix()}db`;
    expect(await target.exec([{ key, args: ['SET', key, 'three'] }])).toEqual(['OK']);
    expect(await redisCli(redis.server.port, '-n', '3', 'GET', key)).toBe('three');
    expect(await redisCli(redis.server.port, '-n', '0', 'EXISTS', key)).toBe('0');
    expect(target.name).toBe(`${redis.server.url}/3`);
    await target.close();
  });

  it('fails with ConfigError for a db the server does not have', async () => {
    const target = new TcpTarget(`${redis.server.url}/99`);
    const error = await rejection(target.exec([{ args: ['PING'] }]));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/SELECT 99/);
    await target.close();
  });

  it('returns parsed INFO for one or several sections', async () => {
    const target = new TcpTarget(redis.server.url);
    const memory = await target.info(['memory']);
    expect(memory.memory?.used_memory).toMatch(/^\d+$/);
    expect(usedMemory(memory)).toBeGreaterThan(0);
    expect(memory.server).toBeUndefined();
    const both = await target.info(['server', 'memory']);
    expect(both.server?.redis_version).toMatch(/^7\./);
    expect(both.memory?.maxmemory).toBe('0');
    await target.close();
  });

  it('names the connection and closes idempotently; exec after close reconnects', async () => {
    const target = new TcpTarget(redis.server.url, { clientName: 'loader-test' });
    expect(await target.exec([{ args: ['CLIENT', 'GETNAME'] }])).toEqual(['loader-test']);
    await Promise.all([target.close(), target.close()]);
    await target.close();
    expect(await redisCli(redis.server.port, 'CLIENT', 'LIST')).not.toContain('name=loader-test');
    expect(await target.exec([{ args: ['PING'] }])).toEqual(['PONG']);
    await target.close();
  });

  it('rejects pipelines in flight when closed', async () => {
    const target = new TcpTarget(redis.server.url);
    await target.exec([{ args: ['PING'] }]);
    const blocked = rejection(target.exec([{ args: ['BLPOP', `${prefix()}never`, '0'] }]));
    await target.close();
    expect(await blocked).toBeInstanceOf(RetryableError);
  });

  it('rejects unknown options', () => {
    expect(() => new TcpTarget(redis.server.url, { commandTimeout: 5 } as never)).toThrow(ConfigError);
    expect(() => new TcpTarget(redis.server.url, { connectTimeoutMs: -1 })).toThrow(ConfigError);
  });
});

describe('TcpTarget authentication', () => {
  const redis = useRedis({ password: PASSWORD });

  it('authenticates with the right password', async () => {
    const target = new TcpTarget(`redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.server.port}`);
    expect(await target.exec([{ args: ['PING'] }])).toEqual(['PONG']);
    expect(target.name).toBe(`redis://:***@127.0.0.1:${redis.server.port}/0`);
    await target.close();
  });

  it('fails fast with AuthError for a wrong password, without showing it', async () => {
    const target = new TcpTarget(`redis://:wrong-Pass-42@127.0.0.1:${redis.server.port}`);
    const started = Date.now();
    const error = await rejection(target.exec([{ args: ['PING'] }]));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(AuthError);
    expect(error.name).toBe('AuthError');
    expect(error.message).toContain(target.name);
    expect(error.message).toMatch(/check the user and password/);
    expect(error.message).not.toContain('wrong-Pass-42');
    expect(error.message).not.toContain(PASSWORD);
    await target.close();
  });

  it('without a password, commands answer NOAUTH in their slot', async () => {
    const target = new TcpTarget(redis.server.url);
    const [reply] = await target.exec([{ args: ['PING'] }]);
    expect(reply).toBeInstanceOf(ReplyError);
    expect((reply as ReplyError).prefix).toBe('NOAUTH');
    expect(classifyReplyError((reply as ReplyError).message)).toBeInstanceOf(AuthError);
    await target.close();
  });

  it('authenticates an ACL user', async () => {
    const auth = ['-a', PASSWORD, '--no-auth-warning'];
    expect(
      await redisCli(redis.server.port, ...auth, 'ACL', 'SETUSER', 'loader', 'on', '>pw', '~*', '+@all'),
    ).toBe('OK');
    const target = new TcpTarget(`redis://loader:pw@127.0.0.1:${redis.server.port}`);
    expect(await target.exec([{ args: ['ACL', 'WHOAMI'] }])).toEqual(['loader']);
    expect(target.name).toBe(`redis://loader:***@127.0.0.1:${redis.server.port}/0`);
    await target.close();
    const wrong = new TcpTarget(`redis://loader:nope-123@127.0.0.1:${redis.server.port}`);
    const error = await rejection(wrong.exec([{ args: ['PING'] }]));
    expect(error).toBeInstanceOf(AuthError);
    expect(error.message).not.toContain('nope-123');
    await wrong.close();
  });
});

describe('TcpTarget over TLS', () => {
  it('connects with rediss:// and rejects an untrusted certificate as a ConfigError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'redis-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await promisify(execFile)('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert],
    ]);
    const tlsPort = await closedPort();
    const server = await startRedis({
      args: [
        ...['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key],
        ...['--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'],
      ],
    });
    try {
      const url = `rediss://127.0.0.1:${tlsPort}`;
      const trusted = new TcpTarget(url, { tls: { ca: await readFile(cert) } });
      expect(await trusted.exec([{ args: ['PING'] }])).toEqual(['PONG']);
      expect(trusted.name).toBe(`${url}/0`);
      await trusted.close();
      const untrusted = new TcpTarget(url);
      const error = await rejection(untrusted.exec([{ args: ['PING'] }]));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^TLS connection to rediss:\/\/127\.0\.0\.1:\d+\/0 failed: \w+/);
      await untrusted.close();
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TcpTarget connection failures', () => {
  it('rejects pending pipelines with RetryableError when the server dies, and reconnects after restart', async () => {
    const server = await startRedis();
    try {
      const target = new TcpTarget(server.url);
      const key = `${prefix()}k`;
      expect(await target.exec([{ key, args: ['SET', key, '1'] }])).toEqual(['OK']);
      const pending = [
        rejection(target.exec([{ args: ['BLPOP', `${prefix()}never`, '0'] }])),
        rejection(target.exec([{ args: ['PING'] }])),
      ];
      await server.kill('SIGKILL');
      for (const error of await Promise.all(pending)) {
        expect(error).toBeInstanceOf(RetryableError);
        expect(error.message).toMatch(new RegExp(`^connection to ${server.url}/0 lost: `));
      }
      const refused = await rejection(target.exec([{ args: ['PING'] }]));
      expect(refused).toBeInstanceOf(RetryableError);
      expect(refused.message).toBe(`cannot connect to ${server.url}/0: ECONNREFUSED`);
      await server.restart();
      // Another server process now: what it confirmed before may be gone, and the first exec says so, once.
      const reset = await rejection(target.exec([{ args: ['PING'] }]));
      expect(reset).toBeInstanceOf(ServerResetError);
      expect(reset.message).toMatch(new RegExp(`^${server.url}/0 restarted \\(run_id `));
      expect(target.resets).toBe(1);
      expect(await target.exec([{ args: ['PING'] }])).toEqual(['PONG']);
      await target.close();
    } finally {
      await server.stop();
    }
  });

  it('fails fast with RetryableError when nothing listens', async () => {
    const port = await closedPort();
    const target = new TcpTarget(`redis://127.0.0.1:${port}`);
    const started = Date.now();
    const error = await rejection(target.exec([{ args: ['PING'] }]));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe(`cannot connect to redis://127.0.0.1:${port}/0: ECONNREFUSED`);
    await target.close();
  });

  it('times out a handshake the server never answers', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const target = new TcpTarget(`redis://127.0.0.1:${server.port}`, { connectTimeoutMs: 200 });
      const error = await rejection(target.exec([{ args: ['PING'] }]));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toMatch(/connected, but no reply within 200 ms to the handshake/);
      await target.close();
    } finally {
      await server.close();
    }
  });

  it('drops the connection when the oldest pipeline gets no reply within commandTimeoutMs', async () => {
    // Answers CLIENT SETNAME, then stays silent.
    const server = await fakeServer((n) => (n === 0 ? '+OK\r\n' : undefined));
    try {
      const target = new TcpTarget(`redis://127.0.0.1:${server.port}`, { commandTimeoutMs: 200 });
      const errors = await Promise.all([
        rejection(target.exec([{ args: ['PING'] }])),
        rejection(target.exec([{ args: ['PING'] }])),
      ]);
      for (const error of errors) {
        expect(error).toBeInstanceOf(RetryableError);
        expect(error.message).toMatch(/command timeout, no reply within 200 ms/);
      }
      await target.close();
    } finally {
      await server.close();
    }
  });

  it('does not keep the process alive when idle', async () => {
    const server = await startRedis();
    try {
      const entry = fileURLToPath(new URL('../../../shared/redis/index.ts', import.meta.url));
      const script = `const { TcpTarget } = await import(${JSON.stringify(entry)});
        const target = new TcpTarget(${JSON.stringify(server.url)});
        console.log(JSON.stringify(await target.exec([{ args: ['PING'] }])));`;
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          { timeout: 20_000 },
          (err, out) => (err ? reject(err) : resolve(out)),
        );
      });
      expect(stdout.trim()).toBe('["PONG"]');
    } finally {
      await server.stop();
    }
  });

  it('keeps the process alive until close() has settled, even when the hang-up lags the QUIT reply', async () => {
    // Regression: close() used to unref the socket when QUIT's reply came; if the server's hang-up came a
    // moment later, nothing kept the event loop alive and the process exited with close() unsettled (exit
    // code 13). A real redis-server hangs up at once, so a minimal RESP peer here answers QUIT and hangs up
    // 300 ms later.
    const peer = net.createServer({ allowHalfOpen: true }, (socket) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        for (const m of text.matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)) {
          const name = m[1]!.toUpperCase();
          if (name === 'QUIT') {
            socket.write('+OK\r\n');
            setTimeout(() => socket.end(), 300);
          } else socket.write(name === 'PING' ? '+PONG\r\n' : '+OK\r\n');
        }
        text = text.slice(text.lastIndexOf('\r\n') + 2);
      });
    });
    peer.listen(0, '127.0.0.1');
    await once(peer, 'listening');
    const { port } = peer.address() as net.AddressInfo;
    try {
      const entry = fileURLToPath(new URL('../../../shared/redis/index.ts', import.meta.url));
      const script = `const { TcpTarget } = await import(${JSON.stringify(entry)});
        const target = new TcpTarget('redis://127.0.0.1:${port}');
        await target.exec([{ args: ['PING'] }]);
        await target.close();
        console.log('closed');`;
      const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          { timeout: 20_000 },
          (err, out) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout: out }),
        );
      });
      expect(result).toEqual({ code: 0, stdout: 'closed\n' });
    } finally {
      peer.close();
    }
  });
});

describe('a server at maxclients', () => {
  const redis = useRedis();

  it('is a FatalError that says so, not a lost connection retried', async () => {
    const holder = new TcpTarget(redis.server.url);
    try {
      expect(await holder.exec([{ args: ['CONFIG', 'SET', 'maxclients', '1'] }])).toEqual(['OK']);
      const refused = new TcpTarget(redis.server.url);
      const error = await rejection(refused.exec([{ args: ['PING'] }]));
      expect(error).toBeInstanceOf(FatalError);
      expect(error).not.toBeInstanceOf(RetryableError);
      expect(error.message).toMatch(/max number of clients reached/);
      expect(error.message).toContain(redis.server.url);
      await refused.close();
    } finally {
      await holder.exec([{ args: ['CONFIG', 'SET', 'maxclients', '10000'] }]);
      await holder.close();
    }
  });
});
