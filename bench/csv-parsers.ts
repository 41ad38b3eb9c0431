/**
 * Our CSV reader against csv-parse on the same seeded file.
 * Run: node --import tsx bench/csv-parsers.ts [--keys N]   (default 2,000,000 rows)
 *
 * Cases run A B C, A B C, … (3 rounds) so drift hits every case alike; each reports its median.
 * csv-parse `info: true` is the fair reference: like our reader it gives each record's line and offset.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { FileSource, readRecords } from '../shared/records/index.js';

const ROUNDS = 3;

function keysArg(argv: string[]): number {
  const at = argv.indexOf('--keys');
  const keys = at === -1 ? 2_000_000 : Number(argv[at + 1]);
  if (!Number.isSafeInteger(keys) || keys < 1)
    throw new Error(`--keys wants a positive integer, got ${argv[at + 1]}`);
  return keys;
}

/** mulberry32: a tiny seeded PRNG, so every run reads the same bytes. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writeCsv(path: string, rows: number): Promise<void> {
  const random = prng(42);
  const out = createWriteStream(path);
  let block = 'key,value\n';
  for (let i = 0; i < rows; i++) {
    block += `user:${i},${Math.floor(random() * 1_000_000_000)}\n`;
    if (block.length > 1 << 20) {
      if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      block = '';
    }
  }
  out.end(block);
  await finished(out);
}

async function csvParse(path: string, info: boolean): Promise<number> {
  let rows = 0;
  const parser = createReadStream(path).pipe(parse({ columns: true, info }));
  parser.on('data', () => {
    rows++;
  });
  await finished(parser);
  return rows;
}

async function ours(path: string): Promise<number> {
  let rows = 0;
  const format = { type: 'csv', delimiter: ',', quote: '"', multiline: true } as const;
  for await (const batch of readRecords(new FileSource(path), { format })) rows += batch.records.length;
  return rows;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const keys = keysArg(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'bench-csv-'));
  try {
    const path = join(dir, 'users.csv');
    await writeCsv(path, keys);
    const cases: [string, () => Promise<number>][] = [
      ['csv-parse', () => csvParse(path, false)],
      ['csv-parse-info', () => csvParse(path, true)],
      ['ours', () => ours(path)],
    ];
    const rps = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of cases) {
        const t0 = performance.now();
        const rows = await run();
        const seconds = (performance.now() - t0) / 1000;
        if (rows !== keys) throw new Error(`${name} read ${rows} rows, expected ${keys}`);
        rps.get(name)!.push(rows / seconds);
      }
    }
    console.log(`rows=${keys} rounds=${ROUNDS} (median rows/s)`);
    for (const [name] of cases)
      console.log(
        `  ${name.padEnd(16)} ${Math.round(median(rps.get(name)!))
          .toLocaleString('en-US')
          .padStart(12)}`,
      );
    const mine = median(rps.get('ours')!);
    for (const ref of ['csv-parse-info', 'csv-parse']) {
      const theirs = median(rps.get(ref)!);
      const label = ref === 'csv-parse-info' ? 'csv-reader' : 'csv-reader-vs-bare';
      console.log(
        `BENCH case=${label} rows=${keys} ours_rps=${Math.round(mine)} ref=${ref} ref_rps=${Math.round(theirs)} ratio=${(mine / theirs).toFixed(2)}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
