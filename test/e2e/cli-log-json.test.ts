import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { produce, useKafkaMock } from '../support/kafka-mock.js';
import { redisCli, useRedis } from '../support/redis-server.js';

// `--log-json`: the CLI's output as Powertools JSON lines for a log collector, from real runs of `import`
// (a password-protected redis-server) and `consume` (librdkafka's mock cluster).
const PASSWORD = 'log-json-secret-4a1f';
const redis = useRedis({ password: PASSWORD });
const kafka = useKafkaMock();
const tmp = useTempDir();

interface LogLine {
  level: string;
  message: string;
  timestamp: string;
  service: string;
  command: string;
  [field: string]: unknown;
}

/** Every line of `text` parsed as a log line; a line that is not JSON fails the test with the line. */
function lines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

const authUrl = () => `redis://:${PASSWORD}@127.0.0.1:${redis.server.port}`;

describe('--log-json', () => {
  it('import: JSON lines only, pre-flight then the summary last, and no password anywhere', async () => {
    const p = randomPrefix();
    const rows = Array.from({ length: 5_000 }, (_, i) => `${i},${i * 3}`);
    const file = await tmp.write(`${p}.csv`, `id,score\n${rows.join('\n')}\n`);
    const result = await runCli([
      'import',
      file,
      '--redis',
      authUrl(),
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--log-json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const out = lines(result.stdout);
    for (const l of out) {
      expect(l).toMatchObject({ service: 'redis-bulk-loader', command: 'import' });
      expect(Number.isNaN(Date.parse(l.timestamp))).toBe(false);
    }
    expect(out[0]).toMatchObject({ level: 'INFO', message: 'memory pre-flight: proceeding' });
    const last = out[out.length - 1]!;
    expect(last).toMatchObject({
      level: 'INFO',
      message: 'import completed',
      summary: { status: 'completed', counts: { read: 5000, written: 5000, rejected: 0 } },
    });
    expect(result.stdout).not.toContain(PASSWORD);
    expect(await redisCli(redis.server.port, '-a', PASSWORD, '--no-auth-warning', 'GET', `${p}:4999`)).toBe(
      '14997',
    );
  });

  it('import: a failure is one ERROR line on stderr with the error code, exit 3, no password', async () => {
    const p = randomPrefix();
    const file = await tmp.write(`${p}.csv`, 'id,score\n1,2\n');
    const wrong = 'not-the-password-77';
    const result = await runCli([
      'import',
      file,
      '--redis',
      `redis://:${wrong}@127.0.0.1:${redis.server.port}`,
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--log-json',
    ]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    const err = lines(result.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatchObject({ level: 'ERROR', command: 'import', exitCode: 3 });
    expect(err[0]!.error).toMatchObject({ name: expect.any(String), code: expect.any(String) });
    expect(result.stderr).not.toContain(wrong);
  });

  it('--log-json and --json together are a usage error', async () => {
    const result = await runCli(['import', 'x.csv', '--key', 'k:{id}', '--json', '--log-json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--log-json.*cannot be used with.*--json/);
  });

  it('consume: joined group, dead letters as warnings, and the summary last', async () => {
    const p = randomPrefix();
    const topic = `${p}events`;
    const messages = Array.from({ length: 300 }, (_, i) => ({
      key: String(i % 7),
      value: i === 150 ? '{not json' : JSON.stringify({ id: String(i % 7), n: 1 }),
    }));
    await produce(kafka.mock.brokers, topic, messages);
    const result = await runCli(
      [
        'consume',
        '--brokers',
        kafka.mock.brokers.join(','),
        '--topic',
        topic,
        '--group',
        `${p}group`,
        '--redis',
        authUrl(),
        '--key',
        `${p}c:{id}`,
        '--model',
        'counter',
        '--by',
        'n',
        '--watermark-prefix',
        `${p}wm:`,
        '--from-beginning',
        '--exit-when-idle',
        '0.5',
        '--session-timeout',
        '4000',
        '--heartbeat-interval',
        '500',
        '--log-json',
      ],
      {},
    );
    expect(result.code, result.stderr).toBe(0);
    const out = lines(result.stdout);
    const err = lines(result.stderr);
    for (const l of [...out, ...err])
      expect(l).toMatchObject({ service: 'redis-bulk-loader', command: 'consume' });
    expect(out.some((l) => l.message === 'joined group')).toBe(true);
    const letters = err.filter((l) => l.message === 'dead letter');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ level: 'WARN', topic, errorClass: expect.any(String) });
    expect(Buffer.from(String(letters[0]!.value), 'base64').toString()).toBe('{not json');
    expect(out[out.length - 1]).toMatchObject({
      level: 'INFO',
      message: 'consume finished',
      status: 'idle',
      counts: { received: 300, applied: 299, deadLettered: 1, duplicate: 0, failed: 0 },
    });
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    let total = 0;
    for (let id = 0; id < 7; id++) {
      total += Number(
        await redisCli(redis.server.port, '-a', PASSWORD, '--no-auth-warning', 'GET', `${p}c:${id}`),
      );
    }
    expect(total).toBe(299);
  });
});
