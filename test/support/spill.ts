import type { SpillFile, SpillStore } from '../../shared/grouping/index.js';

/** A {@link SpillStore} in memory, for unit tests of the spill format and the partition writer. */
export class MemorySpillStore implements SpillStore {
  readonly location = 'memory:';
  readonly files = new Map<string, Buffer[]>();
  manifest: string | undefined;

  async create(segment: number, partition: number): Promise<SpillFile> {
    const chunks: Buffer[] = [];
    this.files.set(`${segment}/${partition}`, chunks);
    return {
      append: async (bytes) => {
        // A copy: the writer reuses its buffers once an append resolves.
        chunks.push(Buffer.from(bytes));
      },
      close: async () => {},
    };
  }

  async read(segment: number, partition: number): Promise<Buffer> {
    return Buffer.concat(this.files.get(`${segment}/${partition}`) ?? []);
  }

  async readManifest(): Promise<string | undefined> {
    return this.manifest;
  }

  async writeManifest(text: string): Promise<void> {
    this.manifest = text;
  }

  async clear(): Promise<void> {
    this.files.clear();
    this.manifest = undefined;
  }

  async remove(): Promise<void> {
    await this.clear();
  }
}
