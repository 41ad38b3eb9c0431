import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The CLI's output and exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `redis-bulk-loader <args>` from source (tsx) with the given extra environment. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a started CLI's output until it exits. */
export async function finish(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': at 'exit' the child's stdout and stderr may still hold unread output (Node's
  // docs say so), which under load gave an exit code with empty output.
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs `redis-bulk-loader <args>` to completion. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return finish(spawnCli(args, env));
}

/**
 * Starts `redis-bulk-loader <args>` and resolves once `reached()` says the run got far enough (polled every
 * 20 ms) or the CLI exited, whichever comes first: where a fault test strikes a load that is under way.
 * `running` is false when the CLI was already done; `done` is its result.
 */
export async function spawnCliUntil(
  args: readonly string[],
  reached: () => Promise<boolean>,
): Promise<{ running: boolean; done: Promise<CliResult> }> {
  const done = finish(spawnCli(args));
  let exited = false;
  void done.then(() => (exited = true));
  while (!exited && !(await reached())) await new Promise((r) => setTimeout(r, 20));
  return { running: !exited, done };
}
