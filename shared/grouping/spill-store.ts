import { mkdir, open, readFile, rename, rm, type FileHandle, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpillPart } from './group.js';

/** One spill file being written: appends go out in order. */
export interface SpillFile {
  /** Appends `bytes`; resolves once written (the caller may reuse `bytes` then). */
  append(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where a grouped load keeps its partitions and manifest: a local directory for the CLI; S3 objects for the
 * Lambda path (a later driver of the same interface). Files are named by (segment, partition): a segment is
 * one source range partitioned on its own (the whole file for the CLI; a chunk for Step Functions), and a
 * partition's records are its segments' files read in segment order.
 */
export interface SpillStore {
  /** Shown in messages: a directory or an `s3://` prefix. */
  readonly location: string;
  /** Creates (or truncates) the file of `(segment, partition)`. */
  create(segment: number, partition: number): Promise<SpillFile>;
  /** The whole file of `(segment, partition)`; an empty buffer when it does not exist. */
  read(segment: number, partition: number): Promise<Buffer>;
  /** The manifest's text, or undefined when there is none. */
  readManifest(): Promise<string | undefined>;
  /** Replaces the manifest atomically: a reader sees the old text or the new, never a mix. */
  writeManifest(text: string): Promise<void>;
  /** Removes every file, the manifest included (a new load starts clean). */
  clear(): Promise<void>;
  /** Removes the store itself. */
  remove(): Promise<void>;
}

/** The name of one spill file inside a store. */
export function spillFileName(segment: number, partition: number): string {
  return `s${segment}-p${partition}.spill`;
}

const MANIFEST = 'manifest.json';

/**
 * One partition's spill files, in segment order, each named for errors: what `PartitionIndexer` indexes.
 *
 * @example
 * const index = indexPartition(await readPartition(store, 2, 7), locate);
 */
export async function readPartition(
  store: SpillStore,
  segments: number,
  partition: number,
): Promise<SpillPart[]> {
  const parts: SpillPart[] = [];
  for (let s = 0; s < segments; s++) {
    parts.push({
      name: `${store.location}/${spillFileName(s, partition)}`,
      bytes: await store.read(s, partition),
    });
  }
  return parts;
}

/**
 * A {@link SpillStore} in a local directory (created on first use).
 *
 * @example
 * const store = new LocalSpillStore('/tmp/rbl-grouped-3f2a…');
 * const file = await store.create(0, 7);
 * await file.append(bytes);
 * await file.close();
 */
export class LocalSpillStore implements SpillStore {
  private made: Promise<void> | undefined;

  constructor(readonly location: string) {}

  private ensure(): Promise<void> {
    this.made ??= mkdir(this.location, { recursive: true }).then(() => undefined);
    return this.made;
  }

  async create(segment: number, partition: number): Promise<SpillFile> {
    await this.ensure();
    const handle = await open(join(this.location, spillFileName(segment, partition)), 'w');
    return new LocalSpillFile(handle);
  }

  async read(segment: number, partition: number): Promise<Buffer> {
    try {
      return await readFile(join(this.location, spillFileName(segment, partition)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw err;
    }
  }

  async readManifest(): Promise<string | undefined> {
    try {
      return await readFile(join(this.location, MANIFEST), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeManifest(text: string): Promise<void> {
    await this.ensure();
    const path = join(this.location, MANIFEST);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  }

  async clear(): Promise<void> {
    await rm(this.location, { recursive: true, force: true });
    this.made = undefined;
    await this.ensure();
  }

  async remove(): Promise<void> {
    await rm(this.location, { recursive: true, force: true });
    this.made = undefined;
  }
}

class LocalSpillFile implements SpillFile {
  constructor(private readonly handle: FileHandle) {}

  async append(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
