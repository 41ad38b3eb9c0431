import type { DeadLetter, DeadLetterSink, KafkaMessage } from '../../shared/kafka/index.js';

/** A Kafka record for the engine; `value` objects are JSON-encoded, `null` is a tombstone. */
export function kafkaMessage(m: {
  topic?: string;
  partition?: number;
  offset: number;
  key?: string | null;
  value: unknown;
  headers?: Record<string, string>;
}): KafkaMessage {
  const value =
    m.value === null
      ? null
      : Buffer.isBuffer(m.value)
        ? m.value
        : Buffer.from(typeof m.value === 'string' ? m.value : JSON.stringify(m.value));
  return {
    topic: m.topic ?? 'events',
    partition: m.partition ?? 0,
    offset: m.offset,
    timestamp: 1_700_000_000_000 + m.offset,
    timestampType: 'CREATE_TIME',
    key: m.key === undefined || m.key === null ? null : Buffer.from(m.key),
    value,
    headers: Object.entries(m.headers ?? {}).map(([key, v]) => ({ key, value: Buffer.from(v) })),
  };
}

/** `count` counter records `{ id, n }` over `keys` ids in `partitions` partitions, offsets from 0 per partition. */
export function counterMessages(
  count: number,
  options: { keys?: number; partitions?: number; topic?: string } = {},
): KafkaMessage[] {
  const keys = options.keys ?? 50;
  const partitions = options.partitions ?? 4;
  const next = new Array<number>(partitions).fill(0);
  const out: KafkaMessage[] = [];
  for (let i = 0; i < count; i++) {
    const partition = i % partitions;
    const offset = next[partition]!++;
    out.push(
      kafkaMessage({ topic: options.topic, partition, offset, value: { id: i % keys, n: (i % 7) + 1 } }),
    );
  }
  return out;
}

/** What the counter records of {@link counterMessages} add up to, per id. */
export function counterTotals(messages: readonly KafkaMessage[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const m of messages) {
    if (m.value === null) continue;
    const v = JSON.parse(m.value.toString()) as { id: number; n: number };
    totals.set(String(v.id), (totals.get(String(v.id)) ?? 0) + v.n);
  }
  return totals;
}

/** A dead-letter sink that keeps the letters in memory; `fail` makes sends throw while it is true. */
export function memoryDeadLetters(): DeadLetterSink & {
  letters: DeadLetter[];
  fail: boolean;
  sends: number;
} {
  const sink = {
    name: 'memory',
    letters: [] as DeadLetter[],
    fail: false,
    sends: 0,
    async send(letters: readonly DeadLetter[]) {
      sink.sends++;
      if (sink.fail) throw new Error('dead-letter destination unavailable');
      sink.letters.push(...letters);
    },
    async close() {},
  };
  return sink;
}
