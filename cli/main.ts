#!/usr/bin/env -S node --max-semi-space-size=32
// A 32 MiB young generation lets records die young while their pipelines are in flight: measured 20-25 %
// less CPU per record than the default (bench/RESULTS.md). The shebang sets it for the installed bin.
import './quiet-functions.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerConsume } from './consume-command.js';
import { registerDemo } from './demo-command.js';
import { ExitCode } from './exit-codes.js';
import { registerImport } from './import-command.js';
import { registerPlan } from './plan-command.js';
import { registerProbe } from './probe-command.js';
import { registerRedrive } from './redrive-command.js';
import { registerTrigger } from './trigger-command.js';

function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // dist/cli/main.js sits one level deeper than cli/main.ts
    }
  }
  return '0.0.0';
}

// `redis-bulk-loader … | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command('redis-bulk-loader')
  .description(
    'Load hundreds of millions of keys into Redis from CSV/JSONL files and Kafka topics: streaming, ' +
      'memory-safe, every reply checked, rejects recorded with line and offset, Kafka records applied ' +
      'exactly once.',
  )
  .version(version())
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

registerImport(program);
registerConsume(program);
registerDemo(program);
registerPlan(program);
registerProbe(program);
registerTrigger(program);
registerRedrive(program);
for (const cmd of program.commands) cmd.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; every other parse error is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : ExitCode.Usage;
  } else {
    process.stderr.write(`redis-bulk-loader: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = ExitCode.Internal;
  }
}
