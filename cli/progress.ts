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
  const started = performance.now();
  const rate = (p: LoadProgress) => p.read / Math.max(0.001, (performance.now() - started) / 1000);
  if (!stream.isTTY) {
    let last = started;
    return {
      update(p) {
        const now = performance.now();
        if (now - last < 5000) return;
        last = now;
        const pct = totalBytes > 0 ? ((p.bytes / totalBytes) * 100).toFixed(1) : '100.0';
        stream.write(
          `${label}: ${pct} % | ${int(p.read)} records | ${int(rate(p))} records/s | rejected ${int(p.rejected)}\n`,
        );
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} {bar} {percentage}% | {records} records | {rate} rec/s | ETA {eta_formatted} | rejected {rejected}`,
      hideCursor: true,
      barsize: 24,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, totalBytes), 0, { records: '0', rate: '0', rejected: '0' });
  return {
    update(p) {
      bar.update(p.bytes, { records: int(p.read), rate: int(rate(p)), rejected: int(p.rejected) });
    },
    stop() {
      bar.stop();
    },
  };
}
