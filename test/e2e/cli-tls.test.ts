import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/local-redis.js';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { type RedisServer, redisCli, startRedis } from '../support/redis-server.js';
import { makeTestCerts, type TestCerts, tlsServerArgs } from '../support/tls-certs.js';

const tmp = useTempDir();
let certs: TestCerts;
let server: RedisServer;
let tlsUrl: string;

beforeAll(async () => {
  certs = await makeTestCerts();
  const tlsPort = await freePort();
  server = await startRedis({ args: tlsServerArgs(certs, tlsPort) });
  tlsUrl = `rediss://127.0.0.1:${tlsPort}`;
});
afterAll(async () => {
  await server?.stop();
  await certs?.remove();
});

/** An import of a 3-row CSV under a fresh prefix, to `redis`, with `more` flags. */
async function importTo(redis: string, more: string[], env: Record<string, string> = {}) {
  const p = randomPrefix();
  const file = await tmp.write(`${p}.csv`, 'id,score\n1,10\n2,20\n3,30\n');
  const args = ['import', file, '--redis', redis, '-k', `${p}:{id}`, '-v', 'score', '--no-progress', ...more];
  const started = Date.now();
  const result = await runCli(args, env);
  const keys = Number(
    await redisCli(server.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${p}:*`),
  );
  return { ...result, keys, ms: Date.now() - started, prefix: p };
}

describe('import over TLS', () => {
  it('--tls-ca trusts the CA that signed the server certificate', async () => {
    const result = await importTo(tlsUrl, ['--tls-ca', certs.ca]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/status\s+completed/);
    expect(result.keys).toBe(3);
    expect(await redisCli(server.port, 'GET', `${result.prefix}:2`)).toBe('20');
  });

  it('REDIS_TLS_CA does the same from the environment', async () => {
    const result = await importTo(tlsUrl, [], { REDIS_TLS_CA: certs.ca });
    expect(result.code, result.stderr).toBe(0);
    expect(result.keys).toBe(3);
  });

  it('--tls-servername checks the certificate against that name', async () => {
    const good = await importTo(tlsUrl, ['--tls-ca', certs.ca, '--tls-servername', 'redis.test']);
    expect(good.code, good.stderr).toBe(0);
    const bad = await importTo(tlsUrl, ['--tls-ca', certs.ca, '--tls-servername', 'other.example']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(bad.keys).toBe(0);
  });

  it('a CA that did not sign the certificate fails fast as a configuration error, exit 2', async () => {
    const result = await importTo(tlsUrl, ['--tls-ca', certs.otherCa, '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'error',
      error: { name: 'ConfigError', code: 'CONFIG' },
      exitCode: 2,
    });
    expect(result.stderr.trim()).toMatch(
      new RegExp(`^redis-bulk-loader: TLS connection to ${tlsUrl}/0 failed: \\w+; check the CA`),
    );
    expect(result.keys).toBe(0);
  });

  it('rediss:// on the plain-text port fails fast, no retries, with a message that says so', async () => {
    const plain = `rediss://127.0.0.1:${server.port}`;
    const result = await importTo(plain, []);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `redis-bulk-loader: ${plain}/0 did not answer the TLS handshake: is this a plain-text port? use redis://`,
    );
    // The connect timeout is 10 s; eight retries of it would take minutes.
    expect(result.ms).toBeLessThan(8_000);
    expect(result.keys).toBe(0);
  });

  it('--tls-ca without a rediss:// URL is a usage error: the connection would be plain text', async () => {
    const result = await importTo(`redis://127.0.0.1:${server.port}`, ['--tls-ca', certs.ca]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--tls-ca needs a rediss:\/\/ URL/);
    expect(result.keys).toBe(0);
  });

  it('an unreadable --tls-ca file is named, exit 2', async () => {
    const result = await importTo(tlsUrl, ['--tls-ca', `${tmp.dir}/missing-ca.pem`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read the --tls-ca file .*missing-ca\.pem/);
  });
});

describe('probe and plan over TLS', () => {
  it('import, probe and plan document the TLS flags', async () => {
    for (const command of ['import', 'probe', 'plan']) {
      const help = await runCli([command, '--help']);
      expect(help.stdout).toContain('--tls-ca <file>');
      expect(help.stdout).toContain('--tls-servername <name>');
      expect(help.stdout).toContain('REDIS_TLS_CA');
    }
  });

  it('probe --tls-ca reads the shard', async () => {
    const result = await runCli(['probe', '--redis', tlsUrl, '--tls-ca', certs.ca, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { shards: { status: string; pingMs?: number }[] };
    expect(report.shards[0]!.status).not.toBe('critical');
    expect(report.shards[0]!.pingMs).toBeGreaterThan(0);
  });

  it('plan --tls-ca reads the shard for its verdict', async () => {
    const file = await tmp.write(`${randomPrefix()}.csv`, 'id,score\n1,10\n');
    const args = ['plan', file, '-k', 'u:{id}', '-v', 'score', '--redis', tlsUrl, '--tls-ca', certs.ca];
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/import would proceed/);
  });
});
