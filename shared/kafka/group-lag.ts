import { setTimeout as delay } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';

/** Per `"<topic>-<partition>"`, the offset consumption of a partition without a committed offset starts at. */
type PartitionFloors = ReadonlyMap<string, number>;
type Assignment = Readonly<Record<string, readonly number[]>>;

/** A partition whose committed offset has not reached its high watermark. */
export interface PartitionLag {
  readonly key: string;
  /** The committed offset, or the partition's floor when nothing is committed. */
  readonly position: number;
  readonly high: number;
}

const POLL_MS = 50;

const partitionKey = (topic: string, partition: number): string => `${topic}-${partition}`;

/**
 * How far a consumer group's committed offsets are behind the high watermarks of the partitions one member
 * was assigned, read with an admin client (what the group committed, not what the member holds in memory).
 */
export class GroupLag {
  private admin: Promise<Admin> | undefined;
  private assignment: Assignment | undefined;
  private floors: Promise<PartitionFloors> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly fromBeginning: boolean,
  ) {}

  /**
   * Takes the member's new assignment, and where its partitions start when the group has no offset for them:
   * the low watermark with `fromBeginning`, else the high watermark now (kafkajs resolved it just before it
   * announced the assignment).
   */
  assigned(assignment: Assignment): void {
    this.assignment = assignment;
    this.floors = this.snapshot(assignment);
  }

  /**
   * The assigned partitions behind their high watermark now; `undefined` before the first assignment.
   * Rejects when the offsets cannot be read.
   */
  async behind(): Promise<PartitionLag[] | undefined> {
    const { assignment, floors } = this;
    if (assignment === undefined || floors === undefined) return undefined;
    try {
      return await this.lag(assignment, await floors);
    } catch (err) {
      if (this.floors === floors) this.floors = this.snapshot(assignment);
      throw err;
    }
  }

  /** Polls until no assigned partition lags; rejects after `timeoutMs`, or once `stopping()` holds. */
  async waitForIdle(timeoutMs: number, stopping: () => boolean, lastError: () => unknown): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let behind = 'no partitions assigned yet';
    for (;;) {
      if (stopping()) throw new Error('waitForIdle: the mapping is stopping');
      const { assignment, floors } = this;
      if (assignment !== undefined && floors !== undefined) {
        try {
          const lag = await this.lag(assignment, await floors);
          if (lag.length === 0) return;
          behind = lag.map((l) => `${l.key} at ${l.position} of ${l.high}`).join(', ');
        } catch (err) {
          behind = `offsets unknown (${String(err)})`;
          if (this.floors === floors) this.floors = this.snapshot(assignment);
        }
      }
      if (Date.now() > deadline) {
        const error = lastError();
        const last = error === undefined ? '' : `; last consumer error: ${String(error)}`;
        throw new Error(`group ${this.groupId} not idle after ${timeoutMs} ms: ${behind}${last}`);
      }
      await delay(POLL_MS);
    }
  }

  async close(): Promise<void> {
    const admin = await this.admin?.catch(() => undefined);
    await admin?.disconnect();
  }

  /** One admin client, connected once (again after a failed connect). */
  private connected(): Promise<Admin> {
    if (this.admin === undefined) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(
        () => admin,
        (err: unknown) => {
          this.admin = undefined;
          throw err;
        },
      );
    }
    return this.admin;
  }

  private snapshot(assignment: Assignment): Promise<PartitionFloors> {
    const floors = (async () => {
      const admin = await this.connected();
      const out = new Map<string, number>();
      for (const [topic, partitions] of Object.entries(assignment)) {
        for (const o of await admin.fetchTopicOffsets(topic)) {
          if (partitions.includes(o.partition)) {
            out.set(partitionKey(topic, o.partition), Number(this.fromBeginning ? o.low : o.high));
          }
        }
      }
      return out;
    })();
    floors.catch(() => undefined);
    return floors;
  }

  /** The assigned partitions whose committed offset (or floor) is below the high watermark. */
  private async lag(assignment: Assignment, floors: PartitionFloors): Promise<PartitionLag[]> {
    const topics = Object.keys(assignment).filter((t) => assignment[t]!.length > 0);
    if (topics.length === 0) return [];
    const admin = await this.connected();
    const committed = new Map<string, number>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: this.groupId, topics })) {
      for (const p of partitions) committed.set(partitionKey(topic, p.partition), Number(p.offset));
    }
    const lag: PartitionLag[] = [];
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        if (!assignment[topic]!.includes(o.partition)) continue;
        const key = partitionKey(topic, o.partition);
        const commit = committed.get(key) ?? -1;
        const position = commit >= 0 ? commit : (floors.get(key) ?? 0);
        const high = Number(o.high);
        if (position < high) lag.push({ key, position, high });
      }
    }
    return lag;
  }
}
