/** Human number formatting for the HTML report: `1,234,567`, `53.8 MiB`, `2 min 05 s`, `87.2 %`. */

/** `1234567` → `1,234,567` (rounded; `–` for a number that is not finite). */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** A number with at most `digits` decimals and thousands separators: `1,234.5`. */
export function formatNumber(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : '–';
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Bytes in binary units with one decimal: `53.8 MiB`, `512 B`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  let unit = 0;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return unit === 0 ? `${sign}${Math.round(v)} B` : `${sign}${v.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** The binary unit (1, 1024, 1024², …) and its name that suit a maximum, for chart axes. */
export function byteUnit(max: number): { size: number; name: string } {
  let size = 1;
  let unit = 0;
  while (max / size >= 1024 && unit < BYTE_UNITS.length - 1) {
    size *= 1024;
    unit++;
  }
  return { size, name: BYTE_UNITS[unit]! };
}

/**
 * A ratio as a percentage with one decimal: `0.872` → `87.2 %`. A share too small to show at one decimal keeps
 * one significant digit (`0.0007 %`), and one just short of whole says so (`> 99.9 %`), so 12 rejects in
 * millions never read as 0.
 */
export function formatPercent(ratio: number): string {
  if (!Number.isFinite(ratio)) return '–';
  const pct = ratio * 100;
  if (pct > 0 && pct < 0.05) return `${Number(pct.toPrecision(1))} %`;
  if (pct < 100 && pct >= 99.95) return '> 99.9 %';
  return `${pct.toFixed(1)} %`;
}

/** A duration for people: `850 ms`, `12.4 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** An offset from the import start as a clock for chart axes: `0:05`, `12:30`, `1:02:00`. */
export function formatClock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** An ISO time as `2024-05-01 12:00:03 UTC`; anything unparseable is returned as given (the caller escapes). */
export function formatTimestamp(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `1 chunk`, `3 chunks`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** Cuts text to `max` characters (not splitting a surrogate pair), marking the cut with `…`. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
