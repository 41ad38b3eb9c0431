import cliProgress from 'cli-progress';
import type { LoadProgress } from '../shared/import/index.js';
import { int } from './format.js';

/** Shows load progress on stderr: a live bar on a terminal, a line every 5 s otherwise (CI logs). */
export interface ProgressView {
  update(p: LoadProgress): void;
  stop(): void;
}

/** A view that shows nothing (`--no-progress`, `--json`). */
export const silentProgress: ProgressView = { update() {}, stop() {} };

/** Creates the progress view for a load of `totalBytes`. */
export function createProgress(label: string, totalBytes: number, stream = process.stderr): ProgressView {
  let started = performance.now();
  let phase: LoadProgress['phase'];
  // Grouped writes go through the range twice: first sorting into partitions, then writing them.
  const rate = (p: LoadProgress) => {
    if (p.phase !== phase) {
      phase = p.phase;
      started = performance.now();
    }
    const done = p.phase === 'load' ? p.written + p.rejected : p.read;
    return done / Math.max(0.001, (performance.now() - started) / 1000);
  };
  const what = (p: LoadProgress) =>
    p.phase === 'partition' ? 'partitioning' : p.phase === 'load' ? 'writing' : 'records';
  if (!stream.isTTY) {
    let last = started;
    return {
      update(p) {
        const now = performance.now();
        if (now - last < 5000) return;
        last = now;
        const pct = totalBytes > 0 ? ((p.bytes / totalBytes) * 100).toFixed(1) : '100.0';
        const n = p.phase === 'load' ? p.written : p.read;
        stream.write(
          `${label}: ${pct} % | ${int(n)} ${what(p)} | ${int(rate(p))} records/s | rejected ${int(p.rejected)}\n`,
        );
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} {bar} {percentage}% | {records} {what} | {rate} rec/s | ETA {eta_formatted} | rejected {rejected}`,
      hideCursor: true,
      barsize: 24,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, totalBytes), 0, { records: '0', rate: '0', rejected: '0', what: 'records' });
  return {
    update(p) {
      const n = p.phase === 'load' ? p.written : p.read;
      bar.update(p.bytes, { records: int(n), rate: int(rate(p)), rejected: int(p.rejected), what: what(p) });
    },
    stop() {
      bar.stop();
    },
  };
}
