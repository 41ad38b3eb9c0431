import { byteUnit, formatClock, formatCount, formatNumber } from './format.js';

/** One labelled tick on an axis. */
export interface Tick {
  readonly value: number;
  readonly label: string;
}

/** A round step (1, 2, 2.5, 5 × 10ⁿ) that cuts `max` into about `count` parts. */
function niceStep(max: number, count: number): number {
  const raw = max / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

/** Ticks from 0 up to the first round value at or above `max`; the last tick is the axis top. */
export function niceTicks(max: number, count = 5, label: (v: number) => string = formatNumber): Tick[] {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const step = niceStep(top, count);
  const ticks: Tick[] = [];
  for (let i = 0; i * step < top + step / 2 && ticks.length <= count + 2; i++)
    ticks.push({ value: i * step, label: label(i * step) });
  if (ticks.at(-1)!.value < top)
    ticks.push({ value: ticks.length * step, label: label(ticks.length * step) });
  return ticks;
}

/** Count ticks: `1,200`, `1.5 M`, for keys/s axes. */
export function countTicks(max: number, count = 5): Tick[] {
  return niceTicks(max, count, (v) =>
    v >= 1e6 ? `${formatNumber(v / 1e6, 2)} M` : v >= 1e4 ? `${formatNumber(v / 1e3, 1)} k` : formatCount(v),
  );
}

/** Byte ticks in the one binary unit that suits the maximum: `0`, `256 MiB`, `512 MiB`. */
export function byteTicks(max: number, count = 5): Tick[] {
  const unit = byteUnit(max);
  return niceTicks(max / unit.size, count, (v) => (v === 0 ? '0' : `${formatNumber(v, 1)} ${unit.name}`)).map(
    (t) => ({ value: t.value * unit.size, label: t.label }),
  );
}

const TIME_STEPS_MS = [
  1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3,
  43200e3, 86400e3,
];

/** Time ticks from 0 to `maxMs` at a clock-friendly step (seconds, minutes, hours), labelled `m:ss`. */
export function timeTicks(maxMs: number, count = 7): Tick[] {
  const top = Number.isFinite(maxMs) && maxMs > 0 ? maxMs : 1000;
  if (top < 5000) return niceTicks(top, count, (v) => `${formatNumber(v / 1000, 2)} s`);
  const step = TIME_STEPS_MS.find((s) => top / s <= count) ?? Math.ceil(top / count / 86400e3) * 86400e3;
  const ticks: Tick[] = [];
  for (let v = 0; v <= top; v += step) ticks.push({ value: v, label: formatClock(v) });
  return ticks;
}
