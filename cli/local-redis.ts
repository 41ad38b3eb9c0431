import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../shared/errors/index.js';

/** A `redis-server` this process started on 127.0.0.1, with its own temp dir. */
export interface LocalRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, without credentials even when the server has a password. */
  readonly url: string;
  /** Pid of the current process; changes after {@link LocalRedis.restart}. */
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM by its own pid, wait for the exit, remove the directory. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the exit; keeps the directory for {@link restart}. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and directory (after {@link kill}). */
  restart(): Promise<void>;
}

/** Options of {@link startLocalRedis}. */
export interface LocalRedisOptions {
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: readonly string[];
  /** Sets `--requirepass`. */
  password?: string;
}

const READY_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;

/** Servers still running: killed by their own pid if this process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

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
 * Starts `redis-server` (from PATH) on a free loopback port without persistence, in a fresh temp dir, and
 * waits until it says it accepts connections (retrying on the rare port race).
 */
export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new ConfigError(
      'redis-server is not installed: run `sudo apt-get install -y redis-server` (or `bash scripts/bootstrap.sh`)',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'rbl-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await spawnReady(port, dir, options);
    } catch (err) {
      if (attempt >= PORT_ATTEMPTS) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  let current: ChildProcess = child;
  const signal = async (sig: NodeJS.Signals) => {
    if (current.exitCode === null && current.signalCode === null) {
      const exit = once(current, 'exit');
      current.kill(sig);
      await exit;
    }
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return current.pid!;
    },
    async stop() {
      await signal('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    kill: (sig: NodeJS.Signals = 'SIGKILL') => signal(sig),
    async restart() {
      await signal('SIGKILL');
      current = await spawnReady(port, dir, options);
    },
  };
}

async function spawnReady(port: number, dir: string, options: LocalRedisOptions): Promise<ChildProcess> {
  const args = [
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
  ];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const child = spawn('redis-server', [...args, ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  try {
    await waitUntilReady(child, READY_TIMEOUT_MS);
    return child;
  } catch (err) {
    if (child.exitCode === null) {
      const exit = once(child, 'exit');
      child.kill('SIGKILL');
      await exit;
    }
    throw err;
  }
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
    const onError = (err: Error) => fail(err);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      // Keep draining the pipes so redis-server never blocks on a full pipe.
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
    child.once('error', onError);
  });
}
