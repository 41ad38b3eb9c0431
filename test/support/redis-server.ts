import { execFile } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { type LocalRedis, type LocalRedisOptions, startLocalRedis } from '../../cli/local-redis.js';

/** A redis-server child process on a random 127.0.0.1 port with its own temporary directory. */
export type RedisServer = LocalRedis;
export type StartRedisOptions = LocalRedisOptions;

/**
 * Starts `redis-server` from PATH on a free port in a fresh temporary directory, without persistence, and
 * waits until it accepts connections. The same code the CLI's demo uses.
 */
export const startRedis: (options?: StartRedisOptions) => Promise<RedisServer> = startLocalRedis;

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
