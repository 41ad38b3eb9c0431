import type { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PROGRESS_LOG_MS, throttled } from '../../../cli/log-json.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('throttled progress logging', () => {
  it('logs at most once per interval, with the fields of the latest progress', () => {
    vi.useFakeTimers({ now: 0 });
    const info = vi.fn();
    const log = { info } as unknown as Logger;
    const onProgress = throttled(log, 'import progress', (n: number) => ({ read: n }));
    for (let t = 0; t <= 3 * PROGRESS_LOG_MS; t += 500) {
      vi.setSystemTime(t);
      onProgress(t);
    }
    expect(info.mock.calls).toEqual([
      ['import progress', { read: PROGRESS_LOG_MS }],
      ['import progress', { read: 2 * PROGRESS_LOG_MS }],
      ['import progress', { read: 3 * PROGRESS_LOG_MS }],
    ]);
  });
});
