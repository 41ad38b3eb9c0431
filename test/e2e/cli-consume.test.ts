import { type ChildProcess, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it, vi } from 'vitest';
import type { ConsumeJsonOutput } from '../../cli/consume-command.js';
import type { Context } from 'aws-lambda';
import { type KafkaEvent as MappingEvent, startKafkaMapping } from '../../cli/local-stack/kafka-mapping.js';
import type { KafkaEvent } from '../../functions/kafka-consumer/event.js';
import { consumerRuntime, createConsumerHandler } from '../../functions/kafka-consumer/handler.js';
import { DEAD_LETTER_HEADERS, watermarkKey } from '../../shared/kafka/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { type CliResult, finish, runCli, spawnCli } from '../support/cli.js';
import { randomPrefix } from '../support/files.js';
import {
  committedOffsets,
  highWatermarks,
  produce,
  type TestMessage,
  until,
  useKafkaMock,
} from '../support/kafka-mock.js';
import { redisCli, useRedis } from '../support/redis-server.js';

/**
 * `redis-bulk-loader consume` as a user runs it: separate processes on librdkafka's mock cluster and a real
 * redis-server, stopped with SIGTERM and SIGKILL, checked by reading Redis and the group's committed offsets.
 */

// Each test runs several CLI processes and waits on group joins: three at a time keep 2 cores from thrashing.
vi.setConfig({ maxConcurrency: 3, testTimeout: 120_000 });

const kafka = useKafkaMock();
const redis = useRedis();
// The mock makes a member joining after another left wait `sessionTimeout - 1000` ms: keep it short.
const GROUP_TUNING = ['--session-timeout', '4000', '--heartbeat-interval', '500'];

function counterRecords(count: number, keys: number, from = 0) {
  const messages: TestMessage[] = [];
  const totals = new Map<string, number>();
  for (let i = from; i < from + count; i++) {
    const id = String(i % keys);
    const n = (i % 5) + 1;
    totals.set(id, (totals.get(id) ?? 0) + n);
    messages.push({ key: id, value: JSON.stringify({ id, n }) });
  }
  return { messages, totals };
}

function add(into: Map<string, number>, more: Map<string, number>): Map<string, number> {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0) + v);
  return into;
}

async function counters(prefix: string, ids: Iterable<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of ids) {
    const v = await redisCli(redis.server.port, 'GET', `${prefix}c:${id}`);
    out.set(id, v === '' ? 0 : Number(v));
  }
  return out;
}

function consumeArgs(p: string, topic: string, ...extra: string[]): string[] {
  return [
    'consume',
    '--brokers',
    kafka.mock.brokers.join(','),
    '--topic',
    topic,
    '--group',
    `${p}group`,
    '--redis',
    redis.server.url,
    '--key',
    `${p}c:{id}`,
    '--model',
    'counter',
    '--by',
    'n',
    '--watermark-prefix',
    `${p}wm:`,
    '--from-beginning',
    '--no-progress',
    ...GROUP_TUNING,
    ...extra,
  ];
}

/** Resolves once the child's stderr has matched `pattern`; fails after `timeoutMs` with what it printed. */
function output(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      child.stderr!.off('data', onData);
      reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms: ${seen}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.once('close', (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${pattern}: ${seen}`));
    });
  });
}

function json(result: CliResult): ConsumeJsonOutput {
  try {
    return JSON.parse(result.stdout) as ConsumeJsonOutput;
  } catch {
    throw new Error(`no JSON summary (exit ${result.code}): stdout ${result.stdout} stderr ${result.stderr}`);
  }
}

async function caughtUp(group: string, topic: string): Promise<boolean> {
  const [high, committed] = await Promise.all([
    highWatermarks(kafka.mock.brokers, topic),
    committedOffsets(kafka.mock.brokers, group, topic),
  ]);
  return [...high].every(([p, h]) => h === 0 || committed.get(p) === h);
}

describe.concurrent('redis-bulk-loader consume', () => {
  it('--exit-when-idle exits 0 once caught up, with counts that reconcile and offsets committed', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}counters`;
    const { messages, totals } = counterRecords(4_000, 29);
    await produce(kafka.mock.brokers, topic, messages);
    const result = await runCli(consumeArgs(p, topic, '--exit-when-idle', '0.5', '--json'));
    expect(result.code, result.stderr).toBe(0);
    const out = json(result);
    expect(out).toMatchObject({ status: 'idle', stoppedBy: 'idle', exitCode: 0 });
    expect(out.counts).toEqual({ received: 4000, applied: 4000, duplicate: 0, deadLettered: 0, failed: 0 });
    expect(await counters(p, totals.keys())).toEqual(totals);
    expect(await caughtUp(`${p}group`, topic)).toBe(true);
    expect(out.partitions.reduce((n, x) => n + x.committed, 0)).toBe(4000);
    // Watermarked: one EVAL per unit of a partition's records, far fewer than the records.
    expect(out.commands).toBeGreaterThan(0);
    expect(out.commands).toBeLessThan(4000);
    expect(out.commandsPer100Records).toBeCloseTo((100 * out.commands) / 4000, 6);
    expect(out.bill).toBeUndefined();
  });

  it('dead-letters poison records to --dead-letter-topic and keeps the partition flowing', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}mixed`;
    const dlq = `${p}mixed.dlq`;
    const messages: TestMessage[] = [
      { partition: 1, value: JSON.stringify({ id: 'a', n: 2 }) },
      { partition: 1, key: 'bad-json', value: '{"id":' },
      { partition: 1, key: 'not-integer', value: JSON.stringify({ id: 'a', n: 1.5 }) },
      { partition: 1, value: JSON.stringify({ id: 'a', n: 3 }) },
    ];
    await produce(kafka.mock.brokers, topic, messages);
    const result = await runCli(
      consumeArgs(p, topic, '--exit-when-idle', '0.5', '--json', '--dead-letter-topic', dlq),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).counts).toEqual({
      received: 4,
      applied: 2,
      duplicate: 0,
      deadLettered: 2,
      failed: 0,
    });
    expect(await redisCli(redis.server.port, 'GET', `${p}c:a`)).toBe('5');
    const { stdout } = await promisify(execFile)('kcat', [
      '-b',
      kafka.mock.brokers.join(','),
      '-C',
      '-t',
      dlq,
      '-o',
      'beginning',
      '-e',
      '-J',
      '-q',
    ]);
    const letters = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; headers: string[] });
    expect(letters.map((l) => l.key).sort()).toEqual(['bad-json', 'not-integer']);
    for (const l of letters) {
      expect(l.headers).toContain(DEAD_LETTER_HEADERS.reason);
      expect(l.headers[l.headers.indexOf(DEAD_LETTER_HEADERS.offset) + 1]).toBe(
        l.key === 'bad-json' ? '1' : '2',
      );
    }
  });

  it('SIGTERM: settles, commits what Redis confirmed, prints the summary and exits 143; a restart finishes exactly', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}term`;
    const first = counterRecords(3_000, 31);
    await produce(kafka.mock.brokers, topic, first.messages);
    const child = spawnCli(consumeArgs(p, topic, '--json'));
    const result = finish(child);
    await until(
      'the first records are applied',
      async () => (await counters(p, ['0'])).get('0')! > 0,
      30_000,
    );
    await until('caught up', () => caughtUp(`${p}group`, topic), 30_000);
    // More records while it runs, then the signal.
    const second = counterRecords(3_000, 31, 3_000);
    await produce(kafka.mock.brokers, topic, second.messages);
    child.kill('SIGTERM');
    const stopped = await result;
    expect(stopped.code, stopped.stderr).toBe(143);
    const out = json(stopped);
    expect(out.stoppedBy).toBe('signal');
    const c = out.counts;
    expect(c.received).toBe(c.applied + c.duplicate + c.deadLettered + c.failed);
    expect(stopped.stderr).toMatch(/SIGTERM: stopping/);

    const rest = await runCli(consumeArgs(p, topic, '--exit-when-idle', '0.5', '--json'));
    expect(rest.code, rest.stderr).toBe(0);
    expect(await counters(p, first.totals.keys())).toEqual(add(new Map(first.totals), second.totals));
    expect(json(rest).counts.applied + c.applied).toBe(6_000);
  });

  it('SIGKILLed after Redis writes and before its commit, then restarted: totals exact', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}kill`;
    const { messages, totals } = counterRecords(60_000, 53);
    await produce(kafka.mock.brokers, topic, messages);
    const child = spawnCli(consumeArgs(p, topic));
    const killed = finish(child);
    const wm = watermarkKey(`${p}wm:`, `${p}group`, topic, 0);
    // Polled back to back on a connection of its own. Once partition 0 has writes, Redis stops executing
    // writes (CLIENT PAUSE WRITE): the consumer's remaining units wait in Redis, so it cannot get to its commit,
    // and the SIGKILL lands after some writes and before the commit of their batch.
    const watcher = new TcpTarget(redis.server.url);
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [at] = await watcher.exec([{ args: ['GET', wm] }]);
        if (at !== null) break;
        if (Date.now() > deadline) throw new Error('no writes from the consumer in 30 s');
      }
      await watcher.exec([{ args: ['CLIENT', 'PAUSE', '20000', 'WRITE'] }]);
      child.kill('SIGKILL');
      expect((await killed).code).toBe(null);
      await watcher.exec([{ args: ['CLIENT', 'UNPAUSE'] }]);
    } finally {
      await watcher.close();
    }
    const committedBefore = [
      ...(await committedOffsets(kafka.mock.brokers, `${p}group`, topic)).values(),
    ].reduce((n, o) => n + Math.max(0, o), 0);
    expect(committedBefore).toBeLessThan(60_000);

    const rest = await runCli(consumeArgs(p, topic, '--exit-when-idle', '0.5', '--json'));
    expect(rest.code, rest.stderr).toBe(0);
    expect(await counters(p, totals.keys())).toEqual(totals);
    const out = json(rest);
    // Everything not committed came again; what the killed process applied is skipped, not added twice.
    expect(out.counts.received).toBe(60_000 - committedBefore);
    expect(out.counts.applied + out.counts.duplicate).toBe(60_000 - committedBefore);
    expect(out.counts.duplicate).toBeGreaterThan(0);
  });

  it('fails fast with a message that says what to fix, exit 2 or 3, nothing committed', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const noKey = await runCli([
      'consume',
      '--brokers',
      kafka.mock.brokers.join(','),
      '--topic',
      't',
      '--group',
      'g',
    ]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--key .* is required/);

    const badSpec = await runCli([
      'consume',
      ...['--brokers', kafka.mock.brokers.join(','), '--topic', 't', '--group', 'g'],
      ...['--spec', '{"key":"x:{id}","model":{"type":"counter"}}'],
    ]);
    expect(badSpec.code).toBe(2);
    expect(badSpec.stderr).toMatch(/model\.by/);

    const unreachable = await runCli([
      'consume',
      '--brokers',
      '127.0.0.1:1',
      '--topic',
      't',
      '--group',
      `${p}g`,
      '--key',
      'k:{id}',
      '--model',
      'string',
      '--redis',
      redis.server.url,
    ]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/cannot reach the Kafka brokers 127\.0\.0\.1:1/);

    const noRedis = await runCli([
      'consume',
      ...['--brokers', kafka.mock.brokers.join(','), '--topic', 't', '--group', 'g'],
      ...['--key', 'k:{id}', '--model', 'string', '--redis', 'redis://127.0.0.1:1'],
    ]);
    expect(noRedis.code).toBe(3);
    expect(noRedis.stderr).toMatch(/check --redis/);
  });
  it('two consumers in one group, one stopped with SIGTERM mid-stream and a third started later: totals exact', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}group3`;
    const totals = new Map<string, number>();
    let produced = 0;
    const more = async (count: number) => {
      const batch = counterRecords(count, 47, produced);
      produced += count;
      add(totals, batch.totals);
      await produce(kafka.mock.brokers, topic, batch.messages);
    };
    await more(10_000);
    const a = spawnCli(consumeArgs(p, topic, '--json'));
    const b = spawnCli(consumeArgs(p, topic, '--json'));
    const [aDone, bDone] = [finish(a), finish(b)];
    await Promise.all([output(a, /consume: joined group/), output(b, /consume: joined group/)]);
    await until('records applied', async () => (await counters(p, ['0'])).get('0')! > 0, 30_000);
    a.kill('SIGTERM');
    const aResult = await aDone;
    expect(aResult.code, aResult.stdout).toBe(143);
    await more(10_000);
    const c = spawnCli(consumeArgs(p, topic, '--json'));
    const cDone = finish(c);
    // Signals before its handlers are set up would kill it outright: wait until it is in the group.
    await output(c, /consume: joined group/);
    await more(10_000);
    await until('the group caught up', () => caughtUp(`${p}group`, topic), 60_000);
    b.kill('SIGTERM');
    c.kill('SIGTERM');
    const results = [aResult, await bDone, await cDone];
    expect(
      results.map((r) => r.code),
      results.map((r) => r.stdout).join('\n'),
    ).toEqual([143, 143, 143]);
    expect(await counters(p, totals.keys())).toEqual(totals);
    // Every record applied exactly once over the three processes; redeliveries after the moves are duplicates.
    const applied = results.map((r) => json(r).counts.applied).reduce((x, y) => x + y, 0);
    expect(applied).toBe(produced);
  });

  it('a topic moved from the Lambda path to consume in the same group: nothing applied twice', async ({
    expect,
  }) => {
    const p = randomPrefix();
    const topic = `${p}moved`;
    const first = counterRecords(2_000, 19);
    await produce(kafka.mock.brokers, topic, first.messages);
    const runtime = await consumerRuntime({
      REDIS_URL: redis.server.url,
      CONSUMER_GROUP_ID: `${p}group`,
      WATERMARK_PREFIX: `${p}wm:`,
      CONSUMER_SPEC: JSON.stringify({ key: `${p}c:{id}`, model: { type: 'counter', by: 'n' } }),
    });
    const handler = createConsumerHandler(() => runtime);
    // The last Lambda batches land in Redis, but the instance dies before answering: not committed.
    let invocations = 0;
    const mapping = await startKafkaMapping({
      brokers: kafka.mock.brokers,
      topics: [topic],
      groupId: `${p}group`,
      fromBeginning: true,
      batchSize: 100,
      retryDelayMs: 0,
      maxRetryAttempts: -1,
      consumer: {
        sessionTimeout: 4000,
        rebalanceTimeout: 4000,
        heartbeatInterval: 500,
        maxWaitTimeInMs: 100,
      },
      handler: async (event: MappingEvent) => {
        const reply = await handler(event as KafkaEvent, undefined as unknown as Context);
        if (++invocations > 5) throw new Error('function instance died after its Redis writes');
        return reply;
      },
    });
    await until('six Lambda invocations', () => invocations > 6, 30_000);
    await mapping.stop();
    const committed = [...(await committedOffsets(kafka.mock.brokers, `${p}group`, topic)).values()].reduce(
      (n, o) => n + Math.max(0, o),
      0,
    );
    expect(committed).toBeLessThan(2_000);

    const second = counterRecords(1_000, 19, 2_000);
    await produce(kafka.mock.brokers, topic, second.messages);
    const result = await runCli(consumeArgs(p, topic, '--exit-when-idle', '0.5', '--json'));
    expect(result.code, result.stderr).toBe(0);
    const out = json(result);
    expect(out.counts.received).toBe(3_000 - committed);
    expect(out.counts.duplicate).toBeGreaterThan(0);
    expect(await counters(p, first.totals.keys())).toEqual(add(new Map(first.totals), second.totals));
  });
});
