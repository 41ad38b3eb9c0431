import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  highWatermarks,
  mockClient,
  produce,
  startKafkaMock,
  useKafkaMock,
  waitForTopic,
} from '../../support/kafka-mock.js';

/** Resolves with the socket error code, or 'connected'. */
function tryConnect(address: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host: host!, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('kcat mock cluster', () => {
  const kafka = useKafkaMock();

  it('runs three brokers on 127.0.0.1, each on its own port', async () => {
    const { brokers } = kafka.mock;
    expect(brokers).toHaveLength(3);
    expect(new Set(brokers).size).toBe(3);
    for (const broker of brokers) {
      expect(broker).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await tryConnect(broker)).toBe('connected');
    }
  });

  it('creates a topic with 4 partitions on its first metadata request, each with a leader', async () => {
    const partitions = await waitForTopic(kafka.mock.brokers, 'mock-metadata');
    expect(partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    for (const p of partitions) expect([1, 2, 3]).toContain(p.leader);
  });

  it('produce() reports the base offset per partition it wrote to, and the high watermarks move', async () => {
    const topic = 'mock-produce';
    const sent = await produce(kafka.mock.brokers, topic, [
      { key: 'a', value: '1', partition: 3, headers: { h: 'v' } },
      { key: 'b', value: null, partition: 3 },
      { value: Buffer.from([0, 255]), partition: 1 },
    ]);
    expect(sent.map((m) => [m.partition, m.baseOffset]).sort()).toEqual([
      [1, '0'],
      [3, '0'],
    ]);
    expect(await highWatermarks(kafka.mock.brokers, topic)).toEqual(
      new Map([
        [0, 0],
        [1, 1],
        [2, 0],
        [3, 2],
      ]),
    );
  });

  it('names controller 0, no broker of it: kafkajs cannot create topics nor init an idempotent producer', async () => {
    // Why produce() uses a plain producer and topics are only ever auto-created.
    const client = mockClient(kafka.mock.brokers, { retry: { retries: 1, initialRetryTime: 20 } });
    const admin = client.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.controller).toBe(0);
      expect(cluster.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
      await expect(admin.createTopics({ topics: [{ topic: 'mock-created' }] })).rejects.toThrow(
        'Broker 0 not found',
      );
    } finally {
      await admin.disconnect();
    }
    const producer = client.producer({ idempotent: true });
    await expect(producer.connect()).rejects.toThrow('Broker 0 not found');
    await producer.disconnect();
  });
});

describe('startKafkaMock', () => {
  it('starts the number of brokers asked for, and stop() ends the process and closes its ports', async () => {
    const mock = await startKafkaMock({ brokers: 1 });
    expect(mock.brokers).toHaveLength(1);
    expect(await tryConnect(mock.brokers[0]!)).toBe('connected');
    expect(mock.log()).toContain('bootstrap.servers=');
    await mock.stop();
    expect(() => process.kill(mock.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(await tryConnect(mock.brokers[0]!)).toBe('ECONNREFUSED');
  });
});
