import { setTimeout as delay } from 'node:timers/promises';
import {
  type Admin,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Message,
  Partitioners,
  type RecordMetadata,
} from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';

export { type KafkaMock, type KafkaMockOptions, startKafkaMock } from '../../cli/local-stack/local-kafka.js';
import { type KafkaMock, type KafkaMockOptions, startKafkaMock } from '../../cli/local-stack/local-kafka.js';

/**
 * Starts one mock cluster for the enclosing test file (or `describe`) and stops it in `afterAll`.
 *
 * @example
 * const kafka = useKafkaMock();
 * it('produces', async () => { await produce(kafka.mock.brokers, 'orders', [{ value: 'a' }]) });
 */
export function useKafkaMock(options: KafkaMockOptions = {}): { readonly mock: KafkaMock } {
  let mock: KafkaMock | undefined;
  beforeAll(async () => {
    mock = await startKafkaMock(options);
  });
  afterAll(async () => {
    await mock?.stop();
  });
  return {
    get mock(): KafkaMock {
      if (mock === undefined)
        throw new Error('useKafkaMock: the cluster starts in beforeAll; use it in tests');
      return mock;
    },
  };
}

/** A kafkajs client for the mock: silent, quick to retry. */
export function mockClient(brokers: readonly string[], config: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'rbl-test',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 8 },
    // kafkajs' 1 s connect timeout is too short on a loaded 2-core machine running many clients of the mock.
    connectionTimeout: 10_000,
    ...config,
  });
}

/** One message for {@link produce}: header values are UTF-8 strings. */
export interface TestMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  /** The target partition; without it kafkajs' default partitioner picks one (murmur2 of the key). */
  partition?: number;
}

/**
 * Sends `messages` to `topic` (acks from all replicas) with a plain kafkajs producer (an idempotent one fails
 * against the mock), creating the topic with 4 partitions if it does not exist. Messages without a partition
 * get kafkajs' default partitioner's (murmur2 of the key); they are sent one leader broker at a time, because
 * a producer connecting to several brokers at once sometimes uses one before its handshake is done ("Broker
 * not connected") under load, and a produce cannot be retried without duplicating what already landed.
 * @returns the base offset of what each partition received.
 */
export async function produce(
  brokers: readonly string[],
  topic: string,
  messages: readonly TestMessage[],
): Promise<RecordMetadata[]> {
  const leaders = await waitForTopic(brokers, topic);
  const partitionMetadata = leaders.map((l) => ({
    partitionId: l.partition,
    leader: l.leader,
    partitionErrorCode: 0,
    replicas: [],
    isr: [],
  }));
  const partitioner = Partitioners.DefaultPartitioner();
  const byLeader = new Map<number, Message[]>();
  for (const m of messages) {
    const message: Message = {
      key: m.key ?? null,
      value: m.value,
      ...(m.headers === undefined ? {} : { headers: m.headers }),
    };
    const partition = m.partition ?? partitioner({ topic, partitionMetadata, message });
    const leader = leaders.find((l) => l.partition === partition)?.leader ?? -1;
    let list = byLeader.get(leader);
    if (list === undefined) byLeader.set(leader, (list = []));
    list.push({ ...message, partition });
  }
  const producer = mockClient(brokers).producer({ idempotent: false, allowAutoTopicCreation: true });
  await producer.connect();
  try {
    const out: RecordMetadata[] = [];
    for (const list of byLeader.values())
      out.push(...(await producer.send({ topic, acks: -1, messages: list })));
    return out;
  } finally {
    await producer.disconnect();
  }
}

/** A partition of a topic and the node id of its leader. */
export interface PartitionLeader {
  readonly partition: number;
  readonly leader: number;
}

/**
 * Waits until `topic` exists with at least `partitions` partitions, each with a leader; a Metadata request
 * naming an unknown topic makes the mock create it (with 4 partitions), so this also creates topics.
 * @returns the partitions, sorted, with their leaders.
 */
export async function waitForTopic(
  brokers: readonly string[],
  topic: string,
  options: { partitions?: number; timeoutMs?: number } = {},
): Promise<PartitionLeader[]> {
  const want = options.partitions ?? 1;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last = 'no metadata yet';
  return withAdmin(brokers, async (admin) => {
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const found = topics.find((t) => t.name === topic)?.partitions ?? [];
        const led = found.filter((p) => p.leader >= 0 && p.partitionErrorCode === 0);
        if (led.length >= want && led.length === found.length) {
          return found
            .map((p) => ({ partition: p.partitionId, leader: p.leader }))
            .sort((a, b) => a.partition - b.partition);
        }
        last = `${led.length} of ${found.length} partitions led`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} not ready with ${want} partitions: ${last}`);
      await delay(50);
    }
  });
}

async function withAdmin<T>(brokers: readonly string[], run: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = mockClient(brokers).admin();
  await admin.connect();
  try {
    return await run(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Two partitions of `topic` led by the same broker (with 4 partitions on at most 3 brokers there are always
 * two): kafkajs fetches them in one request, so the local mapping delivers them in one event.
 */
export async function partitionsOnOneBroker(
  brokers: readonly string[],
  topic: string,
): Promise<[number, number]> {
  const partitions = await waitForTopic(brokers, topic, { partitions: 2 });
  for (const a of partitions) {
    const b = partitions.find((p) => p !== a && p.leader === a.leader);
    if (b !== undefined) return [a.partition, b.partition];
  }
  throw new Error(`no two partitions of ${topic} share a leader: ${JSON.stringify(partitions)}`);
}

/** The offset `groupId` has committed for each partition of `topic`; -1 where it has none. */
export function committedOffsets(
  brokers: readonly string[],
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  return withAdmin(brokers, async (admin) => {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  });
}

/** The high watermark (next offset to be written) of each partition of `topic`. */
export function highWatermarks(brokers: readonly string[], topic: string): Promise<Map<number, number>> {
  return withAdmin(brokers, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  });
}

/** Polls `condition` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`);
    await delay(20);
  }
}
