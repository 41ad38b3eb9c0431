import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * librdkafka's mock cluster, run by Debian's `kcat` (librdkafka 2.0.2): real Kafka protocol on 127.0.0.1,
 * in memory. What it does and does not do, as measured:
 * - every broker listens on 127.0.0.1 and an ephemeral port (librdkafka binds the mock to loopback itself;
 *   nothing to configure, and nothing listens on other interfaces);
 * - broker ids are 1..N but Metadata names controller 0, so whatever kafkajs sends to the controller fails
 *   with "Broker 0 not found": admin `createTopics`, and the idempotent producer's InitProducerId (producers
 *   here are plain ones);
 * - a topic is created with 4 partitions (replication factor = brokers) by the first Metadata request or
 *   produce that names it, the only way topics come to exist;
 * - consumer groups, OffsetCommit/OffsetFetch and ListOffsets work; the first join of a new group waits the
 *   mock's fixed initial rebalance delay of 3 s whatever the client asks, and a member whose
 *   `sessionTimeout` is shorter than that expires while it waits and never joins (2000 never did, 3500 did;
 *   4000 leaves a margin);
 *   a member joining after another left waits `sessionTimeout - 1000` ms.
 * - a partition keeps only about its newest 140 k records: of 250 k produced to one partition, the earliest
 *   offset left was 100–108 k (a consumer `fromBeginning` starts there); spread bigger data over topics.
 */
export interface KafkaMock {
  /** `127.0.0.1:<port>` of each broker. */
  readonly brokers: string[];
  /** Pid of the kcat process. */
  readonly pid: number;
  /** The last few KB of kcat's stderr (its `-d mock` debug log): for failure messages. */
  log(): string;
  /** SIGTERM by its own pid (SIGKILL after 5 s), waits for the exit. */
  stop(): Promise<void>;
}

export interface KafkaMockOptions {
  /** `test.mock.num.brokers`. @default 3 */
  brokers?: number;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_BYTES = 8_192;
/** kcat's `-d mock` line: `... Mock cluster mockCluster… bootstrap.servers=127.0.0.1:p1,127.0.0.1:p2,…`. */
const BOOTSTRAP_LINE = /bootstrap\.servers=(\S+)/;

/** Mock clusters still running: killed by their own pid if this process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `kcat -X test.mock.num.brokers=N -d mock -b localhost:1 -C -t __keepalive` (the consumer keeps kcat,
 * and so the mock cluster, alive) and resolves once kcat has printed the cluster's `bootstrap.servers` on
 * stderr: the brokers listen before that line is written.
 */
export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  const count = options.brokers ?? 3;
  const child = spawn(
    'kcat',
    ['-X', `test.mock.num.brokers=${count}`, '-d', 'mock', '-b', 'localhost:1', '-C', '-t', '__keepalive'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  let tail = '';
  const keepTail = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-LOG_TAIL_BYTES);
  };
  // Drain both pipes for the whole life of the process: `-d mock` logs every request, and a full pipe would
  // block kcat (and with it every broker of the mock).
  child.stderr.on('data', keepTail);
  child.stdout.resume();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exit = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await exit;
    } finally {
      clearTimeout(timer);
    }
  };
  let brokers: string[];
  try {
    brokers = await waitForBootstrap(child, () => tail);
  } catch (err) {
    await stop();
    throw err;
  }
  return { brokers, pid: child.pid!, log: () => tail, stop };
}

function waitForBootstrap(child: ChildProcess, log: () => string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => fail(new Error(`kcat printed no bootstrap.servers within ${READY_TIMEOUT_MS} ms: ${log()}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = BOOTSTRAP_LINE.exec(seen);
      if (match !== null) done(match[1]!.split(','));
      else seen = seen.slice(-LOG_TAIL_BYTES);
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(
        new Error(`kcat exited (code ${code}, signal ${signal}) before the mock cluster was up: ${log()}`),
      );
    const onError = (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'ENOENT'
          ? new Error('kcat is not installed: run `sudo apt-get install -y kcat`', { cause: err })
          : err,
      );
    const cleanup = () => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const done = (brokers: string[]) => {
      cleanup();
      resolve(brokers);
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
