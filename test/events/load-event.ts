import { readFile } from 'node:fs/promises';

/**
 * A fresh copy of an event fixture in test/events/ (`name` without `.json`), for a test to adjust.
 *
 * @example
 * const event = await loadEvent<{ Records: unknown[] }>('s3-object-created-bad-key');
 */
export async function loadEvent<T = unknown>(name: string): Promise<T> {
  return JSON.parse(await readFile(new URL(`./${name}.json`, import.meta.url), 'utf8')) as T;
}
