import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** A temp directory for the enclosing test file, removed afterwards; `write` puts a file in it. */
export function useTempDir(): {
  readonly dir: string;
  write(name: string, content: string | Buffer): Promise<string>;
} {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rbl-test-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      if (!dir) throw new Error('useTempDir: use inside tests');
      return dir;
    },
    async write(name, content) {
      const path = join(this.dir, name);
      await writeFile(path, content);
      return path;
    },
  };
}

/** Random key prefix, so tests sharing a server never see each other's keys. */
export function randomPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 8)}`;
}
