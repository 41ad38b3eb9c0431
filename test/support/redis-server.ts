import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';

/** A redis-server child process on a random 127.0.0.1 port with its own temporary directory. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, without credentials even when the server has a password. */
  readonly url: string;
  /** Pid of the current process; changes after {@link RedisServer.restart}. */
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM, wait for exit, remove the directory. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for exit; keeps the directory for {@link RedisServer.restart}. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and directory (after {@link RedisServer.kill}). */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /** Sets `--requirepass`. */
  password?: string;
}

const READY_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 20;
const PORT_ATTEMPTS = 5;

/** Servers still running; killed by pid if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** A port that was free a moment ago: bind port 0, read the port, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when an exited child has exited; immediately when it already has. */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** One PING over a fresh connection: true when the server answers (`+PONG`, or `-NOAUTH` with a password). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk[0] === 0x2b || chunk.toString().startsWith('-NOAUTH')));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function serverArgs(port: number, dir: string, options: StartRedisOptions): string[] {
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
  return [...args, ...(options.args ?? [])];
}

/** Spawns redis-server and waits until it answers PING; rejects with its output when it exits or stalls. */
async function spawnReady(port: number, dir: string, options: StartRedisOptions): Promise<ChildProcess> {
  const child = spawn('redis-server', serverArgs(port, dir, options), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  let failure: Error | undefined;
  child.once('error', (err) => {
    failure = err;
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (failure) throw failure;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}):\n${output}`,
      );
    }
    if (await ping(port)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited(child);
      throw new Error(
        `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`,
      );
    }
    await delay(POLL_INTERVAL_MS);
  }
}

/**
 * Starts `redis-server` from PATH on a free port (retrying on the rare port race) in a fresh temporary
 * directory, without persistence, and waits until it answers PING.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-test-'));
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
    if (current.exitCode === null && current.signalCode === null) process.kill(current.pid!, sig);
    await exited(current);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return current.pid!;
    },
    dir,
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

/** Runs `redis-cli -h 127.0.0.1 -p <port> <args…>` and returns its stdout, trimmed. Independent of our driver. */
export function redisCli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout.trim());
    });
  });
}

/**
 * Starts one redis-server for the enclosing test file (or `describe`) and stops it afterwards.
 *
 * @example
 * const redis = useRedis();
 * it('sets', async () => { expect(await redisCli(redis.server.port, 'PING')).toBe('PONG') });
 */
export function useRedis(options: StartRedisOptions = {}): { readonly server: RedisServer } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server(): RedisServer {
      if (server === undefined)
        throw new Error('useRedis: the server starts in beforeAll; use it inside tests');
      return server;
    },
  };
}
