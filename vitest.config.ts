import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // The Lambda handlers log a summary line per import; show console output only for tests that fail.
    silent: 'passed-only',
    hookTimeout: 60_000,
    pool: 'forks',
    // Each integration file spawns its own redis-server on a free port; two cores, so two at a time.
    maxWorkers: 2,
  },
});
