import { vi } from 'vitest';

/**
 * Runs `fn` and returns the lines it wrote to stdout and stderr, in order, without letting them through.
 * Powertools writes its JSON logs (errors and warnings to stderr) and EMF documents there through its own
 * `Console`.
 */
export async function captureStdout(fn: () => unknown): Promise<string[]> {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    await fn();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** The JSON documents among `lines` (others, such as a warning of the runtime, are left out). */
export function jsonLines(lines: readonly string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return value !== null && typeof value === 'object' ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}
