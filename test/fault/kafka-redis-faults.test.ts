import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaEvent } from '../../functions/kafka-consumer/event.js';
import { consumerRuntime, createConsumerHandler } from '../../functions/kafka-consumer/handler.js';
import { ServerResetError } from '../../shared/errors/index.js';
import { pendingKey, watermarkKey } from '../../shared/kafka/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { randomPrefix } from '../support/files.js';
import { type RedisServer, redisCli, startRedis } from '../support/redis-server.js';

/**
 * The kafka-consumer handler while its redis-server is SIGKILLed mid-batch: the response must name, per
 * partition, the first offset not confirmed, and the redelivery Lambda then makes must leave every counter
 * exact (watermark scripts), and every hash with its last write (transactions). With an AOF fsynced on every write the server comes back with its watermarks and the redelivery is
 * exact; without persistence it comes back empty and the warm function must refuse to go on, naming the loss.
 */

const TOPIC = 'orders';
const PARTITIONS = 4;
const PER_PARTITION = 15_000;
const KEYS = 41;
const GROUP = 'orders-to-redis';

const servers: RedisServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

interface Counter {
  readonly partition: number;
  readonly offset: number;
  readonly id: string;
  readonly n: number;
}

const records: Counter[] = [];
for (let partition = 0; partition < PARTITIONS; partition++) {
  for (let offset = 0; offset < PER_PARTITION; offset++) {
    records.push({ partition, offset, id: String((offset * 7 + partition) % KEYS), n: (offset % 9) + 1 });
  }
}
const totals = new Map<string, number>();
for (const r of records) totals.set(r.id, (totals.get(r.id) ?? 0) + r.n);

/** Every partition from `offset` on. */
const allFrom = (offset: number): Map<number, number> =>
  new Map(Array.from({ length: PARTITIONS }, (_, p) => [p, offset]));

/**
 * An MSK event of the partitions in `from`, each from its offset there to before `to`: what Lambda
 * redelivers after a response naming those offsets.
 */
function mskEvent(from: ReadonlyMap<number, number> = allFrom(0), to = PER_PARTITION): KafkaEvent {
  const byKey: Record<string, unknown[]> = {};
  for (const r of records) {
    const start = from.get(r.partition);
    if (start === undefined || r.offset < start || r.offset >= to) continue;
    (byKey[`${TOPIC}-${r.partition}`] ??= []).push({
      topic: TOPIC,
      partition: r.partition,
      offset: r.offset,
      timestamp: 1_760_000_000_000 + r.offset,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(r.id).toString('base64'),
      value: Buffer.from(JSON.stringify({ id: r.id, n: r.n, at: r.offset })).toString('base64'),
      headers: [],
    });
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/0f0f0f0f-0000-1111-2222-333333333333-1',
    bootstrapServers: 'b-1.orders.kafka.eu-west-1.amazonaws.com:9092',
    records: byKey,
  } as KafkaEvent;
}

/**
 * The counter model (`INCRBY` in watermark scripts: a double apply shows in the totals), or the hash model
 * (one `HSET` per record, in `MULTI`/`EXEC` transactions: a lost or reordered write shows in the fields).
 */
type Model = 'counter' | 'hash';

/** A warm function instance: one runtime for every invocation, as Lambda keeps it between events. */
async function warmHandler(server: RedisServer, prefix: string, model: Model = 'counter') {
  const runtime = await consumerRuntime({
    REDIS_URL: server.url,
    CONSUMER_GROUP_ID: GROUP,
    WATERMARK_PREFIX: `${prefix}wm:`,
    CONSUMER_SPEC: JSON.stringify({
      ...(model === 'counter'
        ? { key: `${prefix}c:{id}`, model: { type: 'counter', by: 'n' } }
        : // Keys of their own per partition: the last write of a key is defined only within its partition.
          { key: `${prefix}h:{$partition}:{id}`, model: { type: 'hash', fields: ['n', 'at'] } }),
      batch: { maxRecords: 50 },
      retry: { retries: 2, baseMs: 20, maxMs: 50 },
    }),
  });
  const handler = createConsumerHandler(() => runtime);
  return (event: KafkaEvent) => handler(event, undefined as unknown as Context);
}

const wmKey = (prefix: string, partition: number) => watermarkKey(`${prefix}wm:`, GROUP, TOPIC, partition);

/** `GET` of each key with redis-cli (one call each: its trimmed MGET output cannot show leading nils). */
function gets(server: RedisServer, keys: readonly string[]): Promise<string[]> {
  return Promise.all(keys.map((key) => redisCli(server.port, 'GET', key)));
}

async function watermarks(server: RedisServer, prefix: string): Promise<Map<number, number>> {
  const values = await gets(
    server,
    Array.from({ length: PARTITIONS }, (_, p) => wmKey(prefix, p)),
  );
  return new Map(values.map((v, p) => [p, v === '' ? -1 : Number(v)]));
}

async function counters(server: RedisServer, prefix: string): Promise<Map<string, number>> {
  const ids = [...totals.keys()];
  const values = await gets(
    server,
    ids.map((id) => `${prefix}c:${id}`),
  );
  return new Map(ids.map((id, i) => [id, values[i] === '' ? 0 : Number(values[i])]));
}

/** Per partition and id, the fields of its last record: what the hash model must leave. */
const lastWrites = new Map<string, string>();
for (const r of records) lastWrites.set(`${r.partition}:${r.id}`, `n=${r.n} at=${r.offset}`);

/** What the hash model left, in the shape of {@link lastWrites}. */
async function hashes(server: RedisServer, prefix: string): Promise<Map<string, string>> {
  const target = new TcpTarget(server.url);
  try {
    const keys = [...lastWrites.keys()];
    const replies = await target.exec(keys.map((k) => ({ args: ['HMGET', `${prefix}h:${k}`, 'n', 'at'] })));
    return new Map(
      keys.map((k, i) => {
        const [n, at] = replies[i] as (string | null)[];
        return [k, `n=${n} at=${at}`];
      }),
    );
  } finally {
    await target.close();
  }
}

/**
 * A child process that polls `GET key` back to back and, once it reads at least `threshold`, sends
 * `CLIENT PAUSE 30000 WRITE`: writes wait from then on (reads go on), so a kill lands with the rest of the
 * batch in flight. `paused` resolves once Redis said OK.
 */
function pauseWritesAt(port: number, key: string, threshold: number): { paused: Promise<void> } {
  const script = `
    const s = require('node:net').connect(${port}, '127.0.0.1');
    const key = ${JSON.stringify(key)};
    const get = () => s.write('*2\\r\\n$3\\r\\nGET\\r\\n$' + Buffer.byteLength(key) + '\\r\\n' + key + '\\r\\n');
    let buf = '', pausing = false;
    s.on('connect', get);
    s.on('data', (d) => {
      buf += d;
      if (pausing) { if (buf.includes('+OK')) { process.stdout.write('paused\\n'); process.exit(0); } return; }
      const lines = buf.split('\\r\\n');
      if (buf.startsWith('$-1') ? lines.length < 2 : lines.length < 3) return;
      const value = buf.startsWith('$-1') ? -1 : Number(lines[1]);
      buf = '';
      if (value >= ${threshold}) {
        pausing = true;
        s.write('*4\\r\\n$6\\r\\nCLIENT\\r\\n$5\\r\\nPAUSE\\r\\n$5\\r\\n30000\\r\\n$5\\r\\nWRITE\\r\\n');
      } else get();
    });
    setTimeout(() => process.exit(3), 20000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const paused = (async () => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0 || !out.includes('paused'))
      throw new Error(`the watcher never paused writes (exit ${code})`);
  })();
  return { paused };
}

/**
 * Starts the batch of every partition from `from` on, and SIGKILLs the server once partition 0 has 200
 * records past `from` applied, with writes paused (`CLIENT PAUSE WRITE`) in between: partition 0 is cut in
 * the middle (or a later one, on a slow machine), whatever the speed of the machine.
 */
async function killMidBatch(
  server: RedisServer,
  prefix: string,
  invoke: (e: KafkaEvent) => Promise<unknown>,
  from = 0,
) {
  // The watcher is a process of its own: this one is busy mapping the batch and could not react in time.
  const watcher = pauseWritesAt(server.port, wmKey(prefix, 0), from + 200);
  const reply = invoke(mskEvent(allFrom(from)));
  let done = false;
  void reply.finally(() => (done = true)).catch(() => {});
  await watcher.paused;
  if (done) throw new Error('the batch ended before the server could be killed mid-way');
  await server.kill('SIGKILL');
  return (await reply) as { batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[] };
}

describe('kafka-consumer when its redis-server is SIGKILLed mid-batch', () => {
  it.each<Model>(['counter', 'hash'])(
    'with an AOF (fsync always): names the first unconfirmed offset per partition; the redelivery is exact (%s model)',
    async (model) => {
      const server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
      servers.push(server);
      const prefix = randomPrefix();
      const invoke = await warmHandler(server, prefix, model);
      const state = model === 'counter' ? () => counters(server, prefix) : () => hashes(server, prefix);
      const expected = model === 'counter' ? totals : lastWrites;

      const response = await killMidBatch(server, prefix, invoke);
      expect(response.batchItemFailures.length).toBeGreaterThan(0);
      const restartAt = new Map<number, number>();
      for (const { itemIdentifier } of response.batchItemFailures) {
        const partition = Number(itemIdentifier.partition.slice(`${TOPIC}-`.length));
        expect(itemIdentifier.partition).toBe(`${TOPIC}-${partition}`);
        expect(restartAt.has(partition), 'one item per partition').toBe(false);
        restartAt.set(partition, itemIdentifier.offset);
      }

      await server.restart();
      const persisted = await watermarks(server, prefix);
      for (let p = 0; p < PARTITIONS; p++) {
        const at = restartAt.get(p);
        // Confirmed means durable: the response never names an offset at or below what the server applied
        // before the response; it may name less (a script that ran but whose reply was cut off: a duplicate).
        if (at === undefined)
          expect(persisted.get(p), `partition ${p} fully confirmed`).toBe(PER_PARTITION - 1);
        else expect(at, `partition ${p}`).toBeLessThanOrEqual(persisted.get(p)! + 1);
      }
      // Not the batch start: the script units answered before the cut count as confirmed. A transaction
      // counts once its pending mark has moved past it, one round trip after its reply: a cut before that
      // leaves it to the redelivery, which applies it again.
      if (model === 'counter') expect(Math.max(...restartAt.values())).toBeGreaterThan(200);

      // Lambda redelivers each partition from the offset the response named.
      expect(await invoke(mskEvent(restartAt))).toEqual({ batchItemFailures: [] });
      expect(await state()).toEqual(expected);
      // And a whole redelivery (a retry of the original batch) changes nothing.
      expect(await invoke(mskEvent())).toEqual({ batchItemFailures: [] });
      expect(await state()).toEqual(expected);
      // No pending mark is left: every transaction was reviewed, or applied again and passed.
      for (let p = 0; p < PARTITIONS; p++)
        expect(await redisCli(server.port, 'EXISTS', pendingKey(`${prefix}wm:`, GROUP, TOPIC, p))).toBe('0');
    },
  );

  it('without persistence: the warm function refuses to go on, naming the watermarks that went back', async () => {
    const server = await startRedis();
    servers.push(server);
    const prefix = randomPrefix();
    const invoke = await warmHandler(server, prefix);
    const half = PER_PARTITION / 3;
    // A first batch confirmed whole: Lambda commits it to Kafka, and only Redis holds it now.
    expect(await invoke(mskEvent(allFrom(0), half))).toEqual({ batchItemFailures: [] });

    const response = await killMidBatch(server, prefix, invoke, half);
    const restartAt = new Map(
      response.batchItemFailures.map(({ itemIdentifier }) => [
        Number(itemIdentifier.partition.slice(`${TOPIC}-`.length)),
        itemIdentifier.offset,
      ]),
    );
    expect(Math.max(...restartAt.values())).toBeGreaterThan(half + 200);

    await server.restart();
    expect(await watermarks(server, prefix)).toEqual(new Map([0, 1, 2, 3].map((p) => [p, -1])));
    const error = await invoke(mskEvent(restartAt)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ServerResetError);
    const message = (error as Error).message;
    for (let p = 0; p < PARTITIONS; p++) {
      expect(message).toContain(`${wmKey(prefix, p)} is at nothing, was confirmed at `);
    }
    expect(message).toMatch(
      /replay them \(reset the consumer group's offsets\) after giving the server persistence/,
    );
    // It stopped at the detection, before writing over the loss: the empty server stays empty.
    expect(await redisCli(server.port, 'DBSIZE')).toBe('0');
  });
});
