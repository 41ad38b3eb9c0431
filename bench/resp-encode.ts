/**
 * Micro-benchmark of the RESP encoder: 1M `SET user:<n> <v>` commands, as one call and in pipelines of 1000.
 * Run with `node --import tsx bench/resp-encode.ts`.
 */
import { type Command, encodeCommands } from '../shared/redis/index.js';

const TOTAL = 1_000_000;
const ROUNDS = 5;

function time(label: string, run: () => number): void {
  const times: number[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    bytes = run();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const best = times[0]!;
  const median = times[Math.floor(ROUNDS / 2)]!;
  const rate = (TOTAL / best / 1000).toFixed(1);
  console.log(
    `${label}: best ${best.toFixed(1)} ms, median ${median.toFixed(1)} ms (${rate}M cmds/s, ${bytes} bytes)`,
  );
}

const cmds: Command[] = [];
for (let i = 0; i < TOTAL; i++) {
  const key = `user:${100_000 + (i % 900_000)}`;
  cmds.push({ key, args: ['SET', key, String(i % 1000)] });
}
const pipelines: Command[][] = [];
for (let i = 0; i < TOTAL; i += 1000) pipelines.push(cmds.slice(i, i + 1000));

time('1M commands, one call', () => encodeCommands(cmds).length);
time('1M commands, 1000 calls of 1000', () => {
  let bytes = 0;
  for (const pipeline of pipelines) bytes += encodeCommands(pipeline).length;
  return bytes;
});
