/**
 * One `kafka-lambda` bench run in a fresh Node process, started by bench/kafka-lambda.ts with the node
 * flags Lambda would give the function: the kafka-consumer handler, built by `createConsumerHandler` over
 * `consumerRuntime(env)` from the environment the function gets, is called in-process, event after event,
 * exactly as the Lambda runtime calls it. Prints one JSON {@link ChildResult} on stdout.
 *
 *   node dist/bench/kafka-lambda-child.js '<ChildJob as JSON>'
 */
import { readFile } from 'node:fs/promises';
import type { Context } from 'aws-lambda';
import type { KafkaEvent } from '../functions/kafka-consumer/event.js';
import { consumerRuntime, createConsumerHandler } from '../functions/kafka-consumer/handler.js';
import type { BatchCounts } from '../shared/kafka/index.js';
import { BATCH, GROUP, mskEvent } from './kafka-events.js';

/** What to run: `records` records in events of {@link BATCH}, or the one event stored in `eventFile`. */
export interface ChildJob {
  readonly url: string;
  /** The `CONSUMER_SPEC` object. */
  readonly spec: object;
  readonly records?: number;
  /** After the timed run, deliver the last event again (its records must all come back as duplicates). */
  readonly replay?: boolean;
  /** An event as JSON (the Lambda runtime parses the invocation payload in the function's process). */
  readonly eventFile?: string;
}

export interface ChildResult {
  /** Seconds inside the handler, summed over the invocations (event generation is not timed). */
  readonly seconds: number;
  /** CPU seconds of this process (all threads: GC helpers too) inside the handler, summed likewise. */
  readonly cpuSeconds: number;
  readonly counts: BatchCounts;
  readonly replay?: BatchCounts;
  /** RSS after the modules are loaded, before the first event. */
  readonly baseRssBytes: number;
  /** `process.resourceUsage().maxRSS`: the peak of the whole process. */
  readonly maxRssBytes: number;
  readonly eventBytes?: number;
}

const zero = (): BatchCounts => ({ received: 0, applied: 0, duplicate: 0, deadLettered: 0, failed: 0 });

const job = JSON.parse(process.argv[2]!) as ChildJob;
const baseRssBytes = process.memoryUsage().rss;

// The handler's counts are in its one "batch done" log line per invocation. Its output (Powertools log lines
// and EMF on stdout, as on Lambda) is formatted and written as on Lambda, then dropped here; the child's own
// result goes to the real stdout.
let sink = zero();
const writeOut = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array): boolean => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  for (const line of text.split('\n')) {
    if (!line.includes('"batch done"')) continue;
    const entry = JSON.parse(line) as { message?: string; counts?: BatchCounts };
    if (entry.message !== 'batch done' || entry.counts === undefined) continue;
    for (const k of Object.keys(sink) as (keyof BatchCounts)[]) sink[k] += entry.counts[k];
  }
  return true;
}) as typeof process.stdout.write;

const runtime = await consumerRuntime({
  REDIS_URL: job.url,
  CONSUMER_GROUP_ID: GROUP,
  CONSUMER_SPEC: JSON.stringify(job.spec),
});
const handler = createConsumerHandler(() => runtime);
let invocations = 0;
let cpuSeconds = 0;
const started = Date.now();

/** One invocation, timed; a partial batch failure fails the bench. */
async function invoke(event: KafkaEvent): Promise<number> {
  const context = {
    awsRequestId: `bench-${++invocations}`,
    getRemainingTimeInMillis: () => 300_000 - (Date.now() - started),
  } as unknown as Context;
  const cpu = process.cpuUsage();
  const t = performance.now();
  const reply = await handler(event, context);
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  cpuSeconds += (used.user + used.system) / 1e6;
  if (reply.batchItemFailures.length > 0)
    throw new Error(`invocation ${invocations} failed: ${JSON.stringify(reply).slice(0, 300)}`);
  return seconds;
}

let seconds = 0;
let eventBytes: number | undefined;
let replay: BatchCounts | undefined;
let last: KafkaEvent | undefined;
if (job.eventFile !== undefined) {
  const text = await readFile(job.eventFile, 'utf8');
  eventBytes = Buffer.byteLength(text);
  last = JSON.parse(text) as KafkaEvent;
  seconds = await invoke(last);
} else {
  const records = job.records ?? 0;
  for (let start = 0; start < records; start += BATCH) {
    // As on Lambda, the handler gets the event as the runtime parsed it from the invocation's JSON payload
    // (untimed, like the runtime's own parse): objects from JSON.parse, not from the generator's object
    // literals, which V8 tracks as allocation sites (and may pretenure) where the real function has none.
    last = JSON.parse(JSON.stringify(mskEvent(start, Math.min(records, start + BATCH)))) as KafkaEvent;
    seconds += await invoke(last);
  }
}
const counts = sink;
const timedCpu = cpuSeconds;
if (job.replay && last !== undefined) {
  sink = zero();
  await invoke(last);
  replay = sink;
}
if (last !== undefined) await (await runtime.consumerFor(last)).close();

const result: ChildResult = {
  seconds,
  cpuSeconds: timedCpu,
  counts,
  ...(replay ? { replay } : {}),
  baseRssBytes,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  ...(eventBytes === undefined ? {} : { eventBytes }),
};
writeOut(JSON.stringify(result));
