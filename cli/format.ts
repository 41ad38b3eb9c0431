/** `1234567` → `1,234,567`. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes in binary units with one decimal: `1.5 MiB`. */
export function bytes(n: number): string {
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB', 'TiB']) {
    if (v < 1024 || unit === 'TiB') return unit === 'B' ? `${sign}${v} B` : `${sign}${v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return `${n} B`;
}

/** Milliseconds as `850 ms`, `12.3 s` or `4 min 05 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** `1,000,000 (100.0 per 100 keys)`: the commands a load sent and how many per 100 keys (records) it wrote. */
export function commandsText(commands: number, per100: number | null, unit = 'keys'): string {
  return `${int(commands)}${per100 === null ? '' : ` (${per100.toFixed(1)} per 100 ${unit})`}`;
}
