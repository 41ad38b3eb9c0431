import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatNumber,
  formatPercent,
  formatTimestamp,
  plural,
  truncate,
} from '../../../shared/report/format.js';
import { byteTicks, countTicks, timeTicks } from '../../../shared/report/scale.js';

describe('report number formatting', () => {
  it('counts with thousands separators', () => {
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999.6)).toBe('1,000');
    expect(formatCount(Number.NaN)).toBe('–');
    expect(formatNumber(1234.56, 1)).toBe('1,234.6');
    expect(plural(1, 'chunk')).toBe('1 chunk');
    expect(plural(1200, 'retry', 'retries')).toBe('1,200 retries');
  });

  it('bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(56_412_160)).toBe('53.8 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatBytes(-2 * 1024 ** 2)).toBe('-2.0 MiB');
  });

  it('percentages never hide a small non-zero share', () => {
    expect(formatPercent(0.872)).toBe('87.2 %');
    expect(formatPercent(0)).toBe('0.0 %');
    expect(formatPercent(12 / 1_666_668)).toBe('0.0007 %');
    expect(formatPercent(1_666_656 / 1_666_668)).toBe('> 99.9 %');
    expect(formatPercent(1)).toBe('100.0 %');
  });

  it('durations, clocks and timestamps', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_400)).toBe('12.4 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
    expect(formatClock(5_000)).toBe('0:05');
    expect(formatClock(750_000)).toBe('12:30');
    expect(formatClock(3_720_000)).toBe('1:02:00');
    expect(formatTimestamp('2024-05-01T12:00:03.250Z')).toBe('2024-05-01 12:00:03 UTC');
    expect(formatTimestamp('not a date')).toBe('not a date');
  });

  it('truncates without splitting a surrogate pair', () => {
    expect(truncate('abcdef', 10)).toBe('abcdef');
    expect(truncate('abcdef', 3)).toBe('abc…');
    expect(truncate('ab🚀cd', 3)).toBe('ab…');
  });

  it('axis ticks are round and cover the maximum', () => {
    expect(countTicks(89_814).map((t) => t.label)).toEqual(['0', '20 k', '40 k', '60 k', '80 k', '100 k']);
    const bytes = byteTicks(50 * 1024 ** 2, 4);
    expect(bytes.at(-1)!.value).toBeGreaterThanOrEqual(50 * 1024 ** 2);
    expect(bytes.map((t) => t.label)).toEqual(['0', '20 MiB', '40 MiB', '60 MiB']);
    expect(timeTicks(72_000).map((t) => t.label)).toEqual(['0:00', '0:15', '0:30', '0:45', '1:00']);
    expect(timeTicks(86_400_000).at(-1)!.label).toBe('24:00:00');
    expect(timeTicks(0).length).toBeGreaterThan(1);
  });
});
