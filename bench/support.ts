import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI (`dist/cli/main.js`, next to `dist/bench/`). */
export const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

/** The node flags of the CLI's shebang line: benchmarks run the loader exactly as its installed bin does. */
export const cliFlags = readFileSync(cli, 'utf8')
  .split('\n', 1)[0]!
  .split(' ')
  .filter((a) => a.startsWith('--'));

export { median, medianInterval } from './stats.js';

/** Wall-clock seconds of `fn`. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}
