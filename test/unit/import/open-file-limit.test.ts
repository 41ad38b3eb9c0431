import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openFileLimit } from '../../../shared/import/partition-segments.js';

describe('openFileLimit', () => {
  it("is this process's soft limit on open files, as a shell it starts reports it", () => {
    const shell = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    expect(openFileLimit()).toBe(shell === 'unlimited' ? 1 << 20 : Number(shell));
  });
});
