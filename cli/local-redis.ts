import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../shared/errors/index.js';

/** A `redis-server` this process started on 127.0.0.1, with its own temp dir. */
export interface LocalRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a small race until redis binds it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port from the OS');
  return address.port;
}

/**
 * Starts `redis-server` (from PATH) on a free loopback port without persistence, and waits until it answers
 * PING. `stop()` shuts it down by its own pid and removes its directory.
 */
export async function startLocalRedis(extraArgs: readonly string[] = []): Promise<LocalRedis> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new ConfigError(
      'redis-server is not installed: run `sudo apt-get install -y redis-server` (or `bash scripts/bootstrap.sh`)',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'rbl-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const url = `redis://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  try {
    await waitUntilReady(child, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when redis-server logs that it accepts connections; rejects if it exits first or takes too long. */
function waitUntilReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(
      () => fail(new Error(`redis-server not ready after ${timeoutMs} ms: ${log.slice(-300)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4096);
      if (log.includes('Ready to accept connections')) done();
    };
    const onExit = (code: number | null) =>
      fail(new Error(`redis-server exited with code ${code}: ${log.slice(-300)}`));
    const cleanup = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
      // Keep draining the pipes so redis-server never blocks on a full pipe.
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
