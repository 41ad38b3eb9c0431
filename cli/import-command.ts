import { basename } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, type LoaderError } from '../shared/errors/index.js';
import { type BillFlags, PRICE_FLAG_HELP, priceOption } from './bill-options.js';
import { commandError, EXIT_CODES_HELP, ExitCode, exitCodeFor } from './exit-codes.js';
import { onStopSignals, SIGNAL_EXIT } from './stop-signals.js';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { LoadProgress } from '../shared/import/index.js';
import { type ImportSummary, runImport } from './import-run.js';
import { formatPreflight, memoryLimitOption } from './plan-command.js';
import { checkColumns, checkSource } from './source-checks.js';
import { resolveSpec, type SpecFlags } from './spec-options.js';
import { formatSummary } from './summary.js';
import {
  addClusterOption,
  CLUSTER_HELP,
  type ClusterFlags,
  clusterMode,
  defaultRedisUrl,
  REDIS_URL_HELP,
} from './redis-targets.js';
import { createCliLogger, LOG_JSON_HELP, logJsonOption, throttled } from './log-json.js';
import { addTlsOptions, TLS_HELP, type TlsFlags, tlsOptions } from './tls-options.js';

interface ImportFlags extends SpecFlags, TlsFlags, ClusterFlags, BillFlags {
  redis: string;
  rejects?: string;
  startOffset?: number;
  startLine?: number;
  progress: boolean;
  json: boolean;
  logJson: boolean;
  force: boolean;
  memoryLimit?: number;
  s3Endpoint?: string;
  onServerReset: 'replay' | 'fail';
  maxRequestBytes?: number;
  reportHtml?: string;
  tempDir?: string;
  groupMemory?: number;
  partitionWorkers?: number;
  datasetVersion?: number;
}

/** A commander parser for an integer option of at least `min`; the message names the option. */
export function integer(name: string, min = 0) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function fraction(text: string): number {
  const n = Number(text);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a fraction between 0 and 1, e.g. 0.01');
  return n;
}

/** What `import --json` prints on stdout when it fails before loading: no summary exists yet. */
export interface ImportErrorOutput {
  status: 'error';
  error: { name: string; code: string; message: string };
  exitCode: number;
}

/** Registers `import <file>` on the program. */
export function registerImport(program: Command): void {
  const command = program
    .command('import')
    .summary('load a CSV or JSONL file into Redis')
    .description(
      'Stream a CSV or JSON Lines file into one or more Redis servers: parse, validate, map each record to ' +
        'Redis commands (string, hash or bucketed model), spread keys over shards, and pipeline them with ' +
        'every reply checked. Rejected records go to a JSONL rejects file with line, byte offset and reason. ' +
        'A spec file (--spec) holds the same settings as the flags; flags override it.',
    )
    .argument('<file>', 'CSV (.csv, .tsv) or JSON Lines (.jsonl, .ndjson) file, or s3://bucket/key')
    .option(
      '--s3-endpoint <url>',
      'S3-compatible endpoint for s3:// sources (env S3_ENDPOINT)',
      process.env.S3_ENDPOINT,
    )
    .option('-r, --redis <urls>', REDIS_URL_HELP, defaultRedisUrl())
    .option(
      '--max-request-bytes <n>',
      "Upstash REST: the largest HTTP request (default 10485760, Upstash's limit); a record too large for it is rejected",
      integer('--max-request-bytes', 1024),
    )
    .option(
      '--report-html <file>',
      "also write an HTML report (keys/s and each shard's memory over time, rejects by reason): one self-contained file",
    )
    .option('-s, --spec <file>', 'import spec JSON file (see README "Import spec")')
    .addOption(
      new Option('--format <format>', 'input format (default: from the file name)').choices(['csv', 'jsonl']),
    )
    .option('--columns <names>', 'CSV column names, comma-separated, when the file has no header row')
    .option('--delimiter <char>', 'CSV delimiter (default "," or tab for .tsv; "\\t" for tab)')
    .option('-k, --key <template>', "key template over record fields, e.g. 'user:{id}'")
    .addOption(
      new Option(
        '-m, --model <model>',
        'data model: string (SET), hash (HSET per record), bucketed (HSET into small hashes)',
      )
        .choices(['string', 'hash', 'bucketed'])
        .default(undefined, 'string'),
    )
    .option(
      '-v, --value <fields>',
      'value field (string, bucketed); several fields make a JSON value (string)',
    )
    .option('--fields <names>', 'hash model: fields to write (default: all)')
    .addOption(
      new Option('--bucket-scheme <scheme>', 'bucketed: hash (FNV-1a) or range (integer ids)').choices([
        'hash',
        'range',
      ]),
    )
    .option('--bucket-size <n>', 'bucketed: fields per bucket (default 100)', integer('--bucket-size', 1))
    .option(
      '--bucket-count <n>',
      'bucketed hash scheme: number of buckets (default: rows / size)',
      integer('--bucket-count', 1),
    )
    .option('--bucket-prefix <prefix>', "bucketed: bucket key prefix (default: key prefix + 'bkt:')")
    .option('--ttl <seconds>', 'expire keys (buckets) after this many seconds', integer('--ttl', 1))
    .option(
      '--ttl-jitter <percent>',
      'add up to this % to each TTL, fixed per key',
      integer('--ttl-jitter', 0),
    )
    .option('--max-key-bytes <n>', 'reject longer keys (default 1024)', integer('--max-key-bytes', 1))
    .option(
      '--max-value-bytes <n>',
      'reject longer values (default 1048576)',
      integer('--max-value-bytes', 1),
    )
    .option(
      '--reject-budget <fraction>',
      'stop when more than this share of records is rejected, once rejectBudget.minRecords (1000) were read (default 0.01)',
      fraction,
    )
    .option('--rejects <file>', 'rejects file (default: ./<file name>.rejects.jsonl)')
    .addOption(
      new Option(
        '--group-buckets <mode>',
        'bucketed: sort the records by bucket through a spill on disk first, then write each bucket with one ' +
          'HSET; auto: hash scheme from 1,000,000 estimated rows, range scheme when ids are not in order ' +
          '(default auto)',
      ).choices(['auto', 'on', 'off']),
    )
    .addOption(
      new Option(
        '--bucket-write <mode>',
        'grouped writes: hset merges each bucket into what the key holds with one HSET; restore writes the ' +
          'whole bucket as the listpack Redis would build, with RESTORE … REPLACE (Redis 7.0+, probed first; ' +
          'the key ends with exactly this load’s fields); auto: restore into a fresh --dataset version, else ' +
          'hset (default auto)',
      ).choices(['auto', 'hset', 'restore']),
    )
    .option(
      '--temp-dir <dir>',
      'grouped writes: where the spill goes (default: the OS temp dir); the same command with the same dir ' +
        'continues a stopped load',
    )
    .option(
      '--group-memory <MiB>',
      'grouped writes: memory the load pass may take for grouping, two partitions at a time (default 32)',
      integer('--group-memory', 1),
    )
    .option(
      '--partition-workers <n>',
      'grouped writes: worker threads sorting a local file into partitions (default: CPU cores, at most 4; below 4 cores 2 from 1 GiB of input, else 1)',
      integer('--partition-workers', 1),
    )
    .option('--batch-commands <n>', 'commands per pipeline (default 2000)', integer('--batch-commands', 1))
    .option('--batch-bytes <n>', 'bytes per pipeline (default 2 MiB)', integer('--batch-bytes', 1024))
    .option('--in-flight <n>', 'pipelines in flight per shard (default 4)', integer('--in-flight', 1))
    .option('--retries <n>', 'retries of a failed pipeline, 0 = none (default 8)', integer('--retries', 0))
    .addOption(
      new Option(
        '--on-server-reset <action>',
        'a shard restarted or failed over mid-load (writes it confirmed may be gone): replay loads the ' +
          'file (or the resumed range) again from its start; fail stops with that start as the resume point',
      )
        .choices(['replay', 'fail'])
        .default('replay'),
    )
    .option(
      '--start-offset <bytes>',
      'resume: start at this byte offset (from an interrupted run)',
      integer('--start-offset'),
    )
    .option('--start-line <n>', 'resume: line number at --start-offset', integer('--start-line', 1))
    .option(
      '--dataset <name>',
      'atomic cutover: load into a fresh version <name>:v<n>:… and flip <name>:current to it at the end, ' +
        'only if the load succeeded (see README "Atomic dataset cutover")',
    )
    .option(
      '--dataset-keep <n>',
      'with --dataset: versions kept after a cutover, the new one included (default 2)',
      integer('--dataset-keep', 1),
    )
    .option(
      '--dataset-version <n>',
      'with --dataset: resume a stopped load into the version it started (the summary prints it)',
      integer('--dataset-version', 1),
    )
    .option(
      '--memory-limit <percent>',
      'pre-flight: refuse when a shard would pass this share of maxmemory (default 85)',
      memoryLimitOption,
    )
    .option('--force', 'load even when the memory pre-flight refuses (Redis may run out of memory)', false)
    .option('--price-per-100k <usd>', PRICE_FLAG_HELP, priceOption)
    .option('--no-progress', 'no progress bar')
    .option(
      '--json',
      'print the summary as JSON on stdout; a failure before loading prints {"status":"error",…}',
      false,
    )
    .addOption(logJsonOption());
  addClusterOption(addTlsOptions(command))
    .addHelpText(
      'after',
      `
Credentials: put them in the URL (redis://user:password@host:6379/0) or in REDIS_USERNAME and
REDIS_PASSWORD, which apply to URLs without a password. Passwords are never printed.
${TLS_HELP}
${CLUSTER_HELP}

Stopping: Ctrl-C or SIGTERM stops at the next batch boundary; the summary prints the --start-offset and
--start-line to resume from (everything before it is handled). An offset past the end of the file is an error.

Commands: the summary counts the data commands sent to Redis (SET, HSET, EXPIRE, …; a pipeline sent again
after a lost connection counts again) and how many per 100 keys; with an http(s):// URL (Upstash REST) or
--price-per-100k it also estimates the bill (Upstash lists $0.20 per 100,000 commands).

Dataset cutover (--dataset users): every load writes a fresh version users:v<n>:…; at the end of a load
that succeeded users:current is flipped to it and versions past --dataset-keep expire (60 s grace). A
stopped or failed load leaves users:current alone; its resume line carries --dataset-version <n>.

Grouped writes (--group-buckets) stop at the next bucket and keep their spill in --temp-dir: running the same
command again continues after the last partition Redis confirmed.

${LOG_JSON_HELP}
${EXIT_CODES_HELP}

Examples:
  redis-bulk-loader import users.csv --key 'user:{id}' --value score
  redis-bulk-loader import users.csv --key 'user:{id}' --value score --model bucketed --ttl 86400 --ttl-jitter 10
  redis-bulk-loader import big.csv -k 'user:{id}' -v score --model bucketed --group-buckets on --temp-dir /mnt/scratch
  redis-bulk-loader import events.jsonl --spec events.import.json --redis redis://10.0.0.1:6379,redis://10.0.0.2:6379
  redis-bulk-loader import users.csv -k 'user:{id}' -v score --redis rediss://cache.internal:6380 --tls-ca ca.pem`,
    )
    .action(async (file: string, flags: ImportFlags) => {
      process.exitCode = await importAction(file, flags);
    });
}

async function importAction(file: string, flags: ImportFlags): Promise<number> {
  const stop = onStopSignals('stopping at the next batch boundary');
  const log = flags.logJson ? createCliLogger('import') : undefined;
  const human = !flags.json && log === undefined;
  try {
    const spec = await resolveSpec(file, flags);
    if (flags.datasetVersion !== undefined && spec.dataset === undefined)
      throw new ConfigError('--dataset-version needs --dataset (or dataset in the spec)');
    if (spec.format.type === 'csv' && spec.format.columns) {
      checkColumns(spec, spec.format.columns, flags.columns ? '--columns' : 'format.columns');
    }
    const redis = flags.redis
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    if (redis.length === 0) throw new ConfigError('--redis needs at least one URL');
    const tls = await tlsOptions(flags, redis);
    const summary = await runImport({
      source: file,
      redis,
      spec,
      rejectsPath: flags.rejects ?? `${basename(file)}.rejects.jsonl`,
      progress: flags.progress && human,
      ...(log ? { onProgress: throttled(log, 'import progress', progressFields) } : {}),
      signal: stop.signal,
      credentials: { username: process.env.REDIS_USERNAME, password: process.env.REDIS_PASSWORD },
      force: flags.force,
      ...(flags.pricePer100k === undefined ? {} : { pricePer100k: flags.pricePer100k }),
      onServerReset: flags.onServerReset,
      ...(flags.maxRequestBytes === undefined ? {} : { maxRequestBytes: flags.maxRequestBytes }),
      ...(flags.reportHtml === undefined ? {} : { reportHtml: flags.reportHtml }),
      ...(flags.tempDir === undefined ? {} : { tempDir: flags.tempDir }),
      ...(flags.groupMemory === undefined ? {} : { groupBytes: flags.groupMemory * 1024 * 1024 }),
      ...(flags.partitionWorkers === undefined ? {} : { partitionWorkers: flags.partitionWorkers }),
      ...(flags.datasetVersion === undefined ? {} : { datasetVersion: flags.datasetVersion }),
      onReset: (note) => {
        if (log) log.warn('server reset', { shard: note.shard, action: note.action, detail: note.message });
        else if (human) process.stderr.write(`\nserver reset: ${note.message}\n`);
      },
      ...(tls ? { tls } : {}),
      cluster: clusterMode(flags),
      inspectSource: (source) =>
        checkSource(source, spec, {
          label: file,
          ...(flags.startOffset === undefined ? {} : { startOffset: flags.startOffset }),
        }),
      ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
      ...(flags.memoryLimit === undefined ? {} : { memoryLimit: flags.memoryLimit }),
      onPreflight: (report) => {
        if (log) {
          const e = report.model.estimate;
          const fields = {
            model: report.model.label,
            keys: e.keys,
            bytes: e.bytes,
            bytesPerKey: e.bytesPerKey,
          };
          if (report.refusal === undefined) log.info('memory pre-flight: proceeding', fields);
          else log.warn('memory pre-flight: refused', { ...fields, detail: formatPreflight(report) });
        }
        if (!human) return;
        if (report.refusal !== undefined)
          process.stderr.write(`memory pre-flight:\n${formatPreflight(report)}\n`);
        else {
          const e = report.model.estimate;
          process.stderr.write(
            `memory pre-flight: ~${e.keys.toLocaleString('en-US')} keys as ${report.model.label} ≈ ` +
              `${(e.bytes / 1048576).toFixed(1)} MiB (${e.bytesPerKey.toFixed(1)} bytes/key): proceeding\n`,
          );
        }
      },
      ...(flags.startOffset !== undefined
        ? { range: { start: flags.startOffset, ...(flags.startLine ? { startLine: flags.startLine } : {}) } }
        : {}),
    });
    if (log) logSummary(log, summary);
    else if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else if (summary.status === 'refused') {
      process.stderr.write('refused by the memory pre-flight: nothing was written (--force loads anyway)\n');
    } else process.stderr.write(`${formatSummary(summary)}\n`);
    if (summary.status === 'refused') return ExitCode.PreflightRefused;
    if (summary.status === 'interrupted') return SIGNAL_EXIT[stop.stoppedBy ?? 'SIGINT'];
    if (summary.status === 'failed') {
      return summary.error?.name === 'RejectBudgetExceededError' ? ExitCode.RejectBudget : ExitCode.Fatal;
    }
    return ExitCode.Ok;
  } catch (err) {
    const e = commandError(err);
    const exitCode = exitCodeFor(e);
    if (log) log.error(e.message, { error: { name: e.name, code: e.code }, exitCode });
    else {
      if (flags.json) process.stdout.write(`${JSON.stringify(errorOutput(e, exitCode), null, 2)}\n`);
      process.stderr.write(`redis-bulk-loader: ${e.message}\n`);
    }
    return exitCode;
  } finally {
    stop.dispose();
  }
}

/** What a `--log-json` progress line carries. */
function progressFields(p: LoadProgress): Record<string, unknown> {
  return {
    ...(p.phase ? { phase: p.phase } : {}),
    read: p.read,
    written: p.written,
    rejected: p.rejected,
    bytes: p.bytes,
    totalBytes: p.totalBytes,
    confirmedOffset: p.confirmedOffset,
  };
}

/** The `--log-json` summary line: info when the load completed, a warning when refused or stopped, else an error. */
function logSummary(log: Logger, summary: ImportSummary): void {
  const message = `import ${summary.status}`;
  if (summary.status === 'completed') log.info(message, { summary });
  else if (summary.status === 'failed') log.error(message, { summary });
  else log.warn(message, { summary });
}

function errorOutput(error: LoaderError, exitCode: number): ImportErrorOutput {
  return {
    status: 'error',
    error: { name: error.name, code: error.code, message: error.message },
    exitCode,
  };
}
