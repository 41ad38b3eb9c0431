import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../cli/local-redis.js';
import { ConfigError, RetryableError } from '../../../shared/errors/index.js';
import { TcpTarget, type TcpTargetOptions } from '../../../shared/redis/index.js';
import { type RedisServer, startRedis } from '../../support/redis-server.js';
import { makeTestCerts, type TestCerts, tlsServerArgs } from '../../support/tls-certs.js';

/** Runs one PING on a fresh target and returns the error it fails with, and how long that took. */
async function pingError(url: string, options: TcpTargetOptions = {}): Promise<{ error: Error; ms: number }> {
  const target = new TcpTarget(url, options);
  const started = Date.now();
  try {
    await target.exec([{ args: ['PING'] }]);
  } catch (err) {
    return { error: err as Error, ms: Date.now() - started };
  } finally {
    await target.close();
  }
  throw new Error(`PING on ${url} succeeded`);
}

/** A TCP server that accepts connections and, on data, writes `reply` (or nothing at all). */
async function tcpServer(reply?: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {
      if (reply !== undefined) socket.end(reply);
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('TcpTarget over TLS against redis-server --tls-port', () => {
  let certs: TestCerts;
  let server: RedisServer;
  let tlsPort: number;

  beforeAll(async () => {
    certs = await makeTestCerts();
    tlsPort = await freePort();
    server = await startRedis({ args: tlsServerArgs(certs, tlsPort) });
  });
  afterAll(async () => {
    await server?.stop();
    await certs?.remove();
  });

  it('connects with the CA that signed the server certificate, by IP or by --tls-servername', async () => {
    const ca = await readFile(certs.ca);
    const byIp = new TcpTarget(`rediss://127.0.0.1:${tlsPort}`, { tls: { ca } });
    expect(await byIp.exec([{ args: ['PING'] }])).toEqual(['PONG']);
    await byIp.close();
    const byName = new TcpTarget(`rediss://127.0.0.1:${tlsPort}`, { tls: { ca, servername: 'redis.test' } });
    expect(await byName.exec([{ args: ['SET', 'tls:k', 'v'] }])).toEqual(['OK']);
    await byName.close();
  });

  it('a CA that did not sign the certificate fails fast as a ConfigError', async () => {
    const { error, ms } = await pingError(`rediss://127.0.0.1:${tlsPort}`, {
      tls: { ca: await readFile(certs.otherCa) },
    });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(
      new RegExp(`^TLS connection to rediss://127\\.0\\.0\\.1:${tlsPort}/0 failed: \\w+; check the CA`),
    );
    expect(ms).toBeLessThan(2_000);
  });

  it('a server name the certificate does not carry fails fast as a ConfigError', async () => {
    const { error, ms } = await pingError(`rediss://127.0.0.1:${tlsPort}`, {
      tls: { ca: await readFile(certs.ca), servername: 'other.example' },
    });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(ms).toBeLessThan(2_000);
  });

  it('rediss:// on the plain-text port fails fast, saying so, long before the connect timeout', async () => {
    const url = `rediss://127.0.0.1:${server.port}`;
    const { error, ms } = await pingError(url, { connectTimeoutMs: 10_000 });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `${url}/0 did not answer the TLS handshake: is this a plain-text port? use redis://`,
    );
    expect(ms).toBeLessThan(5_000);
  });
});

describe('TcpTarget handshake phases', () => {
  it('a plain-text server answering the ClientHello with text is a ConfigError at once', async () => {
    const peer = await tcpServer('-ERR unknown command\r\n');
    try {
      const url = `rediss://127.0.0.1:${peer.port}`;
      const { error, ms } = await pingError(url);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toBe(
        `${url}/0 did not answer the TLS handshake: is this a plain-text port? use redis://`,
      );
      expect(ms).toBeLessThan(1_000);
    } finally {
      await peer.close();
    }
  });

  it('a port that accepts TCP but never replies: "no reply within N ms", not "connect timeout"', async () => {
    const peer = await tcpServer();
    try {
      const url = `redis://127.0.0.1:${peer.port}`;
      const { error, ms } = await pingError(url, { connectTimeoutMs: 200 });
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toBe(
        `cannot connect to ${url}/0: connected, but no reply within 200 ms to the handshake ` +
          '(AUTH/SELECT/CLIENT SETNAME): is it a Redis server?',
      );
      expect(ms).toBeLessThan(1_000);
    } finally {
      await peer.close();
    }
  });

  it('over TLS, the same silent port gets no reply to the TLS handshake', async () => {
    const peer = await tcpServer();
    try {
      const url = `rediss://127.0.0.1:${peer.port}`;
      const { error } = await pingError(url, { connectTimeoutMs: 300 });
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toBe(
        `cannot connect to ${url}/0: connected, but no reply within 300 ms to the TLS handshake`,
      );
    } finally {
      await peer.close();
    }
  });
});
