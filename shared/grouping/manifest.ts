import { z } from 'zod';

/** Who a server was when it confirmed writes (see `ServerIdentity` in shared/redis). */
const serverIdentity = z.strictObject({
  runId: z.string(),
  replId: z.string().optional(),
  uptimeSeconds: z.number().optional(),
});

const count = z.number().int().min(0);

/**
 * The manifest of a grouped load, kept with its spill files and replaced atomically as the load advances. It
 * says what the spill holds (for which source, spec, range and bucket parameters) and how far the load got,
 * so a rerun of the same command continues where a stopped one ended instead of starting over.
 *
 * - `run`: a hash of everything that decides the spill's contents; a manifest with another `run` is ignored.
 * - `partitioned`: the partition pass finished, with these counts and files; until then the spill is useless
 *   to a rerun (it starts the partition pass over).
 * - `load.completed`: partitions `0 … completed-1` are settled — every record confirmed written by Redis or
 *   rejected — by the servers in `load.servers` (per shard; a shard that is another server on the rerun may
 *   have lost them, and the load pass starts again from partition 0).
 */
export const manifestSchema = z.strictObject({
  version: z.literal(1),
  run: z.string(),
  source: z.strictObject({ name: z.string(), size: count, version: z.string().optional() }),
  range: z.strictObject({ start: count, end: count }),
  partitions: z.number().int().min(1),
  segments: z.number().int().min(1),
  partitioned: z
    .strictObject({
      read: count,
      rejected: count,
      skipped: count,
      /** Records in each segment's partition files: `records[segment][partition]`. */
      records: z.array(z.array(count)),
      /** Bytes of each segment's partition files. */
      bytes: z.array(z.array(count)),
      /** `[offset, line]` at record starts every ~1 MiB of source: the line of a reject found at load time. */
      lines: z.array(z.tuple([count, count])),
      /** Line number at the end of the range, when known. */
      endLine: count.optional(),
    })
    .optional(),
  load: z.strictObject({
    completed: count,
    written: count,
    rejected: count,
    servers: z.array(serverIdentity.nullable()),
  }),
});

/** A grouped load's manifest: see {@link manifestSchema}. */
export type GroupedManifest = z.output<typeof manifestSchema>;

/**
 * Parses a manifest's text; undefined when it is unreadable or of another version (then the spill is not
 * trusted and the load starts clean).
 */
export function parseManifest(text: string | undefined): GroupedManifest | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
