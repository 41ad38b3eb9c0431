import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('demo kafka', () => {
  it('runs both Kafka paths on its own servers and finds every counter exact', async () => {
    const result = await runCli(['demo', 'kafka', '--rows', '80000']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/produced 80,000 click records/);
    expect(result.stderr).toMatch(/responses lost and their batches delivered again/);
    expect(result.stderr).toMatch(
      /replay from the beginning .*: 40,000 records .* applied 0, duplicates skipped 39,99\d/,
    );
    expect(result.stderr).toMatch(/value is not valid JSON/);
    expect(result.stderr).toMatch(/counter totals: exact on the Lambda path, exact with consume/);
  }, 120_000);
});
