/** Bytes in binary units with one decimal (`53.8 MiB`), for messages. */
export function formatBytes(n: number): string {
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB', 'TiB']) {
    if (v < 1024 || unit === 'TiB')
      return unit === 'B' ? `${sign}${Math.round(v)} B` : `${sign}${v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return `${n} B`;
}

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A percentage with one decimal: `87.2 %`. */
export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}
