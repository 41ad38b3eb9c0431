import { setTimeout as delay } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import v8 from 'node:v8';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type ConsumerSpec, type ConsumerSpecInput, parseConsumerSpec } from '../shared/config/index.js';
import { ConfigError, type LoaderError } from '../shared/errors/index.js';
import {
  billPrice,
  type CommandBill,
  commandBill,
  commandsPer100Keys,
  describeBill,
} from '../shared/import/index.js';
import {
  type ConsumeProgress,
  type ConsumeSummary,
  type ConsumerLog,
  createConsumer,
  createKafkaDeadLetterSink,
  createLogDeadLetterSink,
  type GroupTuning,
  type KafkaSasl,
  resolveConsumerBuckets,
  runGroupConsumer,
} from '../shared/kafka/index.js';
import type { Target } from '../shared/redis/index.js';
import {
  addClusterOption,
  CLUSTER_HELP,
  type ClusterFlags,
  clusterMode,
  openCliTargets,
  defaultRedisUrl,
  REDIS_URL_HELP,
} from './redis-targets.js';
import { commandError, ExitCode, exitCodeFor } from './exit-codes.js';
import { onStopSignals, SIGNAL_EXIT } from './stop-signals.js';
import { commandsText, duration, int } from './format.js';
import { integer } from './import-command.js';
import { checkTargets } from './import-run.js';
import { addTlsOptions, TLS_HELP, type TlsFlags, tlsOptions } from './tls-options.js';
import { createCliLogger, LOG_JSON_HELP, logJsonOption, throttled } from './log-json.js';

interface ConsumeFlags extends TlsFlags, ClusterFlags {
  brokers?: string;
  topic?: string;
  group?: string;
  redis: string;
  spec?: string;
  format?: 'json' | 'string';
  key?: string;
  model?: 'string' | 'hash' | 'bucketed' | 'counter';
  value?: string;
  fields?: string;
  by?: string;
  bucketSize?: number;
  bucketCount?: number;
  bucketPrefix?: string;
  ttl?: number;
  ttlJitter?: number;
  opField?: string;
  watermarkPrefix: string;
  fromBeginning: boolean;
  deadLetterTopic?: string;
  saslMechanism?: KafkaSasl['mechanism'];
  saslUsername?: string;
  kafkaTls: boolean;
  kafkaTlsCa?: string;
  exitWhenIdle?: number;
  concurrency?: number;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  progress: boolean;
  json: boolean;
  logJson: boolean;
}

/** What `consume --json` prints on stdout at the end. */
export interface ConsumeJsonOutput {
  status: 'idle' | 'stopped' | 'error';
  stoppedBy: ConsumeSummary['stoppedBy'];
  counts: ConsumeSummary['counts'];
  batches: number;
  commits: number;
  retries: number;
  /** Data commands sent to Redis (one `EVAL` or one transaction per watermarked unit), retries included. */
  commands: number;
  /** `commands` per 100 records received; null before the first record. */
  commandsPer100Records: number | null;
  /** The estimated bill for `commands`, with an http(s):// (Upstash REST) URL. */
  bill?: CommandBill;
  partitions: ConsumeSummary['partitions'];
  elapsedMs: number;
  /** Peak resident memory of the process. */
  peakRssBytes: number;
  error?: { name: string; code: string; message: string };
  exitCode: number;
}

function seconds(text: string): number {
  const n = Number(text);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number of seconds >= 0');
  return n;
}

const list = (text: string | undefined): string[] =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Registers `consume` on the program. */
export function registerConsume(program: Command): void {
  const command = program
    .command('consume')
    .summary('consume Kafka topics into Redis (exactly-once effect, dead letters)')
    .description(
      'Run a Kafka consumer group that applies each record to Redis: per-partition order, a watermark per ' +
        '(group, topic, partition) kept atomically with the writes (a redelivered or replayed record is ' +
        'skipped, never applied twice), poison records to a dead-letter topic, and offsets committed only ' +
        'up to what Redis confirmed. The same engine and watermark keys as the kafka-consumer Lambda: a ' +
        'topic can move between the two without double-applying. A spec (--spec) holds the same settings ' +
        'as CONSUMER_SPEC; flags override it.',
    )
    .option(
      '-b, --brokers <list>',
      'Kafka bootstrap servers, host:port,… (env KAFKA_BROKERS)',
      process.env.KAFKA_BROKERS,
    )
    .option('-t, --topic <topics>', 'topic(s) to consume, comma-separated')
    .option(
      '-g, --group <id>',
      'consumer group id: Kafka offsets and the watermarks (env CONSUMER_GROUP_ID)',
      process.env.CONSUMER_GROUP_ID,
    )
    .option('-r, --redis <urls>', REDIS_URL_HELP, defaultRedisUrl())
    .option(
      '-s, --spec <file-or-json>',
      'consumer spec: a JSON file or inline JSON (env CONSUMER_SPEC)',
      process.env.CONSUMER_SPEC,
    )
    .addOption(
      new Option('--format <format>', 'record value format (default json)').choices(['json', 'string']),
    )
    .option('-k, --key <template>', "key template over value fields and $key, e.g. 'user:{id}' or '{$key}'")
    .addOption(
      new Option(
        '-m, --model <model>',
        'string (SET), hash (HSET), bucketed (HSET into small hashes), counter (INCRBY by --by)',
      ).choices(['string', 'hash', 'bucketed', 'counter']),
    )
    .option(
      '-v, --value <fields>',
      'string, bucketed: value field (default $value); several make a JSON value (string)',
    )
    .option('--fields <names>', 'hash: fields to write (default: all)')
    .option('--by <field>', 'counter: the integer field added to the counter')
    .option('--bucket-size <n>', 'bucketed: fields per bucket (default 100)', integer('--bucket-size', 1))
    .option(
      '--bucket-count <n>',
      'bucketed (hash scheme): number of buckets, required for a new dataset',
      integer('--bucket-count', 1),
    )
    .option('--bucket-prefix <prefix>', "bucketed: bucket key prefix (default: key prefix + 'bkt:')")
    .option('--ttl <seconds>', 'expire keys after this many seconds', integer('--ttl', 1))
    .option(
      '--ttl-jitter <percent>',
      'add up to this % to each TTL, fixed per key',
      integer('--ttl-jitter', 0),
    )
    .option(
      '--op-field <field>',
      "a value field whose value 'delete' deletes the key (a tombstone always does)",
    )
    .option(
      '--watermark-prefix <prefix>',
      'prefix of the watermark keys (env WATERMARK_PREFIX)',
      process.env.WATERMARK_PREFIX ?? 'rbl:wm:',
    )
    .option(
      '--from-beginning',
      'partitions the group has no offset for start at the earliest record (default: latest)',
      false,
    )
    .option(
      '--dead-letter-topic <topic>',
      'poison records go to this topic (default: the log, stderr) (env DEAD_LETTER_TOPIC)',
      process.env.DEAD_LETTER_TOPIC,
    )
    .addOption(
      new Option('--sasl-mechanism <mechanism>', 'Kafka SASL (env KAFKA_SASL_MECHANISM)')
        .choices(['plain', 'scram-sha-256', 'scram-sha-512'])
        .default(process.env.KAFKA_SASL_MECHANISM?.toLowerCase() || undefined),
    )
    .option(
      '--sasl-username <name>',
      'Kafka SASL user (env KAFKA_SASL_USERNAME); the password only from KAFKA_SASL_PASSWORD',
      process.env.KAFKA_SASL_USERNAME,
    )
    .option(
      '--kafka-tls',
      'TLS to the brokers, checked against the system CAs (env KAFKA_TLS=true)',
      process.env.KAFKA_TLS === 'true',
    )
    .option(
      '--kafka-tls-ca <file>',
      'TLS to the brokers, checked against the CA certificate(s) in this PEM file',
    )
    .option(
      '--exit-when-idle <seconds>',
      'stop once every assigned partition has been caught up this long (backfills, scripts)',
      seconds,
    )
    .option('--concurrency <n>', 'partitions processed at once (default 4)', integer('--concurrency', 1))
    .option(
      '--session-timeout <ms>',
      'group session timeout: a member silent this long is dropped and its partitions move (default 30000)',
      integer('--session-timeout', 1000),
    )
    .option(
      '--heartbeat-interval <ms>',
      'group heartbeats, also while a batch is written (default 3000; well below --session-timeout)',
      integer('--heartbeat-interval', 100),
    )
    .option('--no-progress', 'no progress line')
    .option('--json', 'print the summary as JSON on stdout', false)
    .addOption(logJsonOption());
  addClusterOption(addTlsOptions(command))
    .addHelpText(
      'after',
      `
Guarantee: a record takes effect once per group: at most once (watermarks in Redis, advanced in the same
script or transaction as the writes; an idempotent write may be applied again after a crash, in order) and
at least once (offsets are committed only after Redis confirmed). A Redis without
persistence that restarts loses its watermarks with its data: a running consumer detects it and stops,
naming the lost range.

Credentials: Redis as for import (in the URL, or REDIS_USERNAME / REDIS_PASSWORD); Kafka SASL through
--sasl-mechanism, --sasl-username and KAFKA_SASL_PASSWORD. Passwords are never printed.
${TLS_HELP}
${CLUSTER_HELP}

Stopping: Ctrl-C or SIGTERM stops fetching, lets the writes in flight settle, commits what Redis confirmed,
prints the summary and exits 130 or 143; a second signal quits at once. With --exit-when-idle it exits 0
once caught up.

${LOG_JSON_HELP}

Exit codes: 0 caught up (--exit-when-idle), 2 bad command line, spec or topic, 3 fatal (Redis or Kafka
unreachable, credentials, Redis out of memory, writes lost in a Redis restart), 130/143 stopped by a signal.

Examples:
  redis-bulk-loader consume -b localhost:9092 -t profiles -g profiles-to-redis -k 'user:{id}' -m hash
  redis-bulk-loader consume -b localhost:9092 -t clicks -g clicks -k 'clicks:{page}' -m counter --by n \\
      --from-beginning --exit-when-idle 5 --dead-letter-topic clicks.dlq
  redis-bulk-loader consume -b b-1.msk:9096 --kafka-tls --sasl-mechanism scram-sha-512 \\
      --sasl-username loader -t orders -g orders --spec orders.consumer.json`,
    )
    .action(async (flags: ConsumeFlags) => {
      const code = await consumeAction(flags);
      process.exitCode = code;
      exitIfHeld(code);
    });
}

/** How long the summary waits for the engine (its dead-letter producer) to close. */
const ENGINE_CLOSE_MS = 10_000;

/**
 * After the summary, the process should exit on its own. If something still holds it (a Kafka connection the
 * shutdown deadline gave up on), exit anyway after `graceMs`, saying what was left: a stopped consumer that
 * never exits would outlive its container's grace period and be SIGKILLed without its exit code.
 */
function exitIfHeld(code: number, graceMs = 5_000): void {
  setTimeout(() => {
    const held = process.getActiveResourcesInfo();
    process.stderr.write(
      `redis-bulk-loader consume: still held ${graceMs / 1000} s after the summary (${held.join(', ') || 'unknown'}); exiting\n`,
    );
    process.exit(code);
  }, graceMs).unref();
}

/** The consumer spec of the flags: `--spec` (file or JSON), the flags applied over it. */
export async function resolveConsumerSpec(flags: ConsumeFlags): Promise<ConsumerSpec> {
  const base: Record<string, unknown> =
    flags.spec === undefined ? {} : { ...(await loadConsumerSpecInput(flags.spec)) };
  if (flags.format) base.format = { type: flags.format };
  if (flags.key) base.key = flags.key;
  const model = { ...((base.model as Record<string, unknown> | undefined) ?? {}) };
  if (flags.model) {
    for (const k of Object.keys(model)) delete model[k];
    model.type = flags.model;
  }
  if (flags.value !== undefined) {
    const fields = list(flags.value);
    model.value = fields.length === 1 ? fields[0] : fields;
  }
  if (flags.fields !== undefined) model.fields = list(flags.fields);
  if (flags.by !== undefined) model.by = flags.by;
  if (flags.bucketSize !== undefined) model.bucketSize = flags.bucketSize;
  if (flags.bucketCount !== undefined) model.bucketCount = flags.bucketCount;
  if (flags.bucketPrefix !== undefined) model.bucketPrefix = flags.bucketPrefix;
  if (Object.keys(model).length > 0) base.model = model;
  if (flags.ttl !== undefined) base.ttl = { seconds: flags.ttl, jitterPercent: flags.ttlJitter ?? 0 };
  else if (flags.ttlJitter !== undefined) throw new ConfigError('--ttl-jitter needs --ttl');
  if (flags.opField !== undefined) base.op = { field: flags.opField };
  if (base.key === undefined)
    throw new ConfigError('--key (or "key" in --spec) is required, e.g. --key \'user:{id}\'');
  return parseConsumerSpec(
    base as ConsumerSpecInput,
    flags.spec === undefined ? 'the command line' : '--spec with the flags',
  );
}

/** The raw spec object of `--spec`: checked once merged with the flags. */
async function loadConsumerSpecInput(text: string): Promise<Record<string, unknown>> {
  // Parses and validates it alone first, so an error names --spec, then keeps the input for the merge.
  const source = text.trim();
  const json = source.startsWith('{') ? source : await readSpecFile(source);
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`--spec is not valid JSON: ${(err as Error).message}`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError('--spec must be a JSON object (a consumer spec)');
  }
  return input as Record<string, unknown>;
}

async function readSpecFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `--spec ${path}: cannot read the spec file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

async function kafkaTls(flags: ConsumeFlags): Promise<boolean | ConnectionOptions | undefined> {
  if (flags.kafkaTlsCa !== undefined) {
    let pem: string;
    try {
      pem = await readFile(flags.kafkaTlsCa, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read the --kafka-tls-ca file ${flags.kafkaTlsCa}: ${(err as Error).message}`,
      );
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(`the --kafka-tls-ca file ${flags.kafkaTlsCa} holds no PEM certificate`);
    return { ca: pem };
  }
  return flags.kafkaTls ? true : undefined;
}

function groupTuning(flags: ConsumeFlags): GroupTuning {
  const session = flags.sessionTimeout;
  const heartbeat = flags.heartbeatInterval;
  if (session !== undefined && heartbeat !== undefined && heartbeat * 2 > session)
    throw new ConfigError('--heartbeat-interval must be at most half of --session-timeout');
  return {
    ...(session === undefined ? {} : { sessionTimeout: session, rebalanceTimeout: session }),
    ...(heartbeat === undefined ? {} : { heartbeatInterval: heartbeat }),
    maxWaitTimeInMs: 200,
  };
}

function saslOf(flags: ConsumeFlags): KafkaSasl | undefined {
  if (flags.saslMechanism === undefined) {
    if (flags.saslUsername !== undefined && process.env.KAFKA_SASL_USERNAME !== flags.saslUsername)
      throw new ConfigError('--sasl-username needs --sasl-mechanism (plain, scram-sha-256 or scram-sha-512)');
    return undefined;
  }
  const password = process.env.KAFKA_SASL_PASSWORD;
  if (!flags.saslUsername)
    throw new ConfigError(`--sasl-mechanism ${flags.saslMechanism} needs --sasl-username`);
  if (!password)
    throw new ConfigError(
      `--sasl-mechanism ${flags.saslMechanism} needs the password in KAFKA_SASL_PASSWORD`,
    );
  return { mechanism: flags.saslMechanism, username: flags.saslUsername, password };
}

async function consumeAction(flags: ConsumeFlags): Promise<number> {
  // A consumer's batches live across awaits, so most of its garbage is promoted and V8 lets the old space
  // grow to ~5x the live set before collecting it: 300 MiB peak RSS over a ~40 MiB live heap. A growth
  // factor of 1.5 keeps it near 200 MiB at the same records/s (bench/RESULTS.md, kafka). A GC heuristic
  // only: V8 reads it at each full collection.
  v8.setFlagsFromString('--heap-growing-percent=50');
  const stop = onStopSignals('stopping: settling the writes in flight, committing what is confirmed');
  const logger = flags.logJson ? createCliLogger('consume') : undefined;
  // Node exits 0 when nothing is left to wait on; for a consumer that would be a silent stop without a
  // summary (seen once under load, cause not found yet): say so and exit 1 instead.
  const silentExit = () => {
    process.stderr.write(
      'redis-bulk-loader consume: internal error: nothing left to wait on before the consumer finished\n',
    );
    process.exitCode = ExitCode.Internal;
  };
  process.once('beforeExit', silentExit);
  let targets: Target[] = [];
  let summary: ConsumeSummary | undefined;
  let failure: LoaderError | undefined;
  try {
    const brokers = list(flags.brokers);
    if (brokers.length === 0) throw new ConfigError('--brokers is required (or KAFKA_BROKERS): host:port,…');
    const topics = list(flags.topic);
    if (topics.length === 0) throw new ConfigError('--topic is required: the topic(s) to consume');
    if (!flags.group)
      throw new ConfigError('--group is required (or CONSUMER_GROUP_ID): the consumer group id');
    const spec = await resolveConsumerSpec(flags);
    const redis = list(flags.redis);
    if (redis.length === 0) throw new ConfigError('--redis needs at least one URL');
    const tls = await tlsOptions(flags, redis);
    const credentials = { username: process.env.REDIS_USERNAME, password: process.env.REDIS_PASSWORD };
    targets = await openCliTargets(redis, { credentials, tls, cluster: clusterMode(flags) });
    const ssl = await kafkaTls(flags);
    const sasl = saslOf(flags);
    // A wrong URL or password fails here, in one line; once running, Redis outages are waited out.
    await checkTargets(targets);
    const buckets = await resolveConsumerBuckets(spec, targets);
    const log = logger ? powertoolsLog(logger) : stderrLog();
    const deadLetters =
      flags.deadLetterTopic === undefined
        ? createLogDeadLetterSink(logger ? (message, fields) => logger.warn(message, fields) : undefined)
        : createKafkaDeadLetterSink({
            brokers,
            topic: flags.deadLetterTopic,
            ...(ssl === undefined ? {} : { ssl }),
            ...(sasl ? { sasl } : {}),
          });
    const engine = createConsumer({
      spec,
      group: flags.group,
      watermarkPrefix: flags.watermarkPrefix,
      targets,
      ...(buckets ? { buckets } : {}),
      deadLetters,
      log,
    });
    const view = flags.progress && !flags.json && !logger ? progressLine() : undefined;
    const onProgress = logger
      ? throttled(logger, 'consume progress', (p: ConsumeProgress) => ({
          counts: p.counts,
          batches: p.batches,
          commits: p.commits,
          lag: lagOf(p),
        }))
      : view?.update;
    try {
      summary = await runGroupConsumer({
        brokers,
        topics,
        groupId: flags.group,
        engine,
        fromBeginning: flags.fromBeginning,
        ...(sasl ? { sasl } : {}),
        ...(ssl === undefined ? {} : { ssl }),
        ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
        ...(flags.exitWhenIdle === undefined
          ? {}
          : { exitWhenIdleMs: Math.round(flags.exitWhenIdle * 1000) }),
        signal: stop.signal,
        tuning: groupTuning(flags),
        onAssigned: (assignment) => {
          if (logger) {
            logger.info('joined group', { group: flags.group, assignment });
            return;
          }
          const parts = Object.entries(assignment).map(
            ([t, ps]) => `${t}[${[...ps].sort((a, b) => a - b).join(',')}]`,
          );
          process.stderr.write(
            `consume: joined group ${flags.group}; assigned ${parts.length === 0 ? 'no partitions' : parts.join(' ')}\n`,
          );
        },
        log,
        ...(onProgress ? { onProgress } : {}),
      });
    } finally {
      view?.stop();
      // The dead-letter producer may still be connecting to a broker that stopped answering: the summary
      // must not wait on it (its records were not confirmed, so nothing of them was committed).
      const closed = await Promise.race([
        engine.close().then(() => true),
        delay(ENGINE_CLOSE_MS, false, { ref: false }),
      ]);
      if (!closed) {
        process.stderr.write(
          `redis-bulk-loader consume: the dead-letter producer did not close within ${ENGINE_CLOSE_MS / 1000} s; leaving it\n`,
        );
      }
    }
    failure = summary.error === undefined ? undefined : commandError(summary.error);
  } catch (err) {
    failure = commandError(err);
  } finally {
    stop.dispose();
    process.off('beforeExit', silentExit);
    await Promise.all(targets.map((t) => t.close().catch(() => {})));
  }
  const exitCode =
    failure !== undefined
      ? exitCodeFor(failure)
      : stop.stoppedBy !== undefined
        ? SIGNAL_EXIT[stop.stoppedBy]
        : ExitCode.Ok;
  const price = billPrice(list(flags.redis));
  if (logger) {
    const output = jsonOutput(summary, failure, exitCode, price);
    if (failure) logger.error(failure.message, { ...output });
    else logger.info('consume finished', { ...output });
  } else if (flags.json) {
    process.stdout.write(`${JSON.stringify(jsonOutput(summary, failure, exitCode, price))}\n`);
  } else {
    if (summary) process.stderr.write(formatConsumeSummary(summary, price));
    if (failure) process.stderr.write(`redis-bulk-loader consume: ${failure.message}\n`);
  }
  return exitCode;
}

/** Structured log lines on stderr: warnings and errors only (dead letters, retries, resets). */
function stderrLog(): ConsumerLog {
  return (level, message, fields) => {
    if (level === 'info') return;
    process.stderr.write(`${JSON.stringify({ level, message, ...fields })}\n`);
  };
}

function lagOf(p: ConsumeProgress): number {
  return p.partitions.reduce((n, x) => n + Math.max(0, x.high - Math.max(0, x.committed)), 0);
}

/** The engine's log through Powertools (`--log-json`): its info lines at DEBUG, they come per batch. */
function powertoolsLog(logger: Logger): ConsumerLog {
  return (level, message, fields) => {
    if (level === 'info') logger.debug(message, fields);
    else logger[level](message, fields);
  };
}

/** A progress line on stderr: rewritten in place on a terminal, every 5 s otherwise. */
function progressLine(stream = process.stderr): { update: (p: ConsumeProgress) => void; stop: () => void } {
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < (stream.isTTY ? 200 : 5000)) return;
      last = now;
      const rate = p.counts.received / Math.max(0.001, p.elapsedMs / 1000);
      const line =
        `consume: ${int(p.counts.received)} records | ${int(rate)} rec/s | lag ${int(lagOf(p))} ` +
        `over ${p.partitions.length} partitions | duplicates ${int(p.counts.duplicate)} | dead letters ${int(p.counts.deadLettered)}`;
      if (stream.isTTY) {
        stream.write(`\r${line}\x1b[K`);
        shown = true;
      } else stream.write(`${line}\n`);
    },
    stop() {
      if (shown) stream.write('\n');
    },
  };
}

/**
 * The human summary of a consume run; with `pricePer100k` (an Upstash URL), the estimated bill for its
 * commands.
 */
export function formatConsumeSummary(s: ConsumeSummary, pricePer100k?: number): string {
  const c = s.counts;
  const rate = c.received / Math.max(0.001, s.elapsedMs / 1000);
  const why = { idle: 'caught up', signal: 'stopped', error: 'stopped by an error' }[s.stoppedBy];
  const lines = [
    `consume ${why} after ${duration(s.elapsedMs)}: ${int(c.received)} records (${int(rate)} records/s)`,
    `  applied ${int(c.applied)}, duplicates skipped ${int(c.duplicate)}, dead letters ${int(c.deadLettered)}, ` +
      `not confirmed ${int(c.failed)} (delivered again on the next run)`,
    `  ${int(s.commits)} offset commits, ${int(s.retries)} retries of unconfirmed tails`,
    `  commands ${commandsText(s.commands, commandsPer100Keys(s.commands, c.received), 'records')}` +
      (pricePer100k === undefined ? '' : ` ${describeBill(commandBill(s.commands, pricePer100k))}`),
  ];
  for (const p of [...s.partitions].sort(
    (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
  )) {
    lines.push(
      `  ${p.topic}[${p.partition}]: committed ${p.committed < 0 ? 'nothing' : int(p.committed)} of ${int(p.high)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function jsonOutput(
  summary: ConsumeSummary | undefined,
  failure: LoaderError | undefined,
  exitCode: number,
  pricePer100k: number | undefined,
): ConsumeJsonOutput {
  const commands = summary?.commands ?? 0;
  const empty = { received: 0, applied: 0, duplicate: 0, deadLettered: 0, failed: 0 };
  return {
    status: failure ? 'error' : summary?.stoppedBy === 'idle' ? 'idle' : 'stopped',
    stoppedBy: summary?.stoppedBy ?? 'error',
    counts: summary?.counts ?? empty,
    batches: summary?.batches ?? 0,
    commits: summary?.commits ?? 0,
    retries: summary?.retries ?? 0,
    commands,
    commandsPer100Records: commandsPer100Keys(commands, summary?.counts.received ?? 0),
    ...(pricePer100k === undefined ? {} : { bill: commandBill(commands, pricePer100k) }),
    partitions: summary?.partitions ?? [],
    elapsedMs: summary?.elapsedMs ?? 0,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(failure ? { error: { name: failure.name, code: failure.code, message: failure.message } } : {}),
    exitCode,
  };
}
