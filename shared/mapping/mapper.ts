import type { ImportSpec } from '../config/index.js';
import type { SourceRecord } from '../records/index.js';
import { ASSIGN_SKIP, createBucketAssigner, emptyAssignment } from './bucket-assigner.js';
import type { BucketParams } from './buckets.js';
import { createRecordChecks } from './record-checks.js';
import { createTtl } from './ttl.js';
import type { LoadCommand, Mapper, MapReject, MapResult } from './types.js';

/**
 * Builds the mapper of a spec. `buckets` is required for the bucketed model (its parameters are fixed before
 * the load: see `resolveBucketParams` in shared/import).
 *
 * - `string`: `SET key value [EX ttl]`; the value is one field, or several fields as a JSON object.
 * - `hash`: `HSET key f1 v1 …` per record, then `EXPIRE key ttl` when a TTL is set.
 * - `bucketed`: the records of a batch are grouped by bucket into one `HSET bucket field value …` each, and
 *   the first time a bucket is touched in this load an `EXPIRE bucket ttl` follows.
 *
 * @example
 * const mapper = createMapper(spec);
 * const { commands, rejects } = mapper.map(batch.records);
 */
export function createMapper(spec: ImportSpec, buckets?: BucketParams): Mapper {
  const checks = createRecordChecks(spec);
  const ttl = createTtl(spec.ttl);
  const model = spec.model;

  if (model.type === 'string') {
    const single = typeof model.value === 'string' ? model.value : undefined;
    const many = typeof model.value === 'string' ? undefined : model.value;
    return {
      map(records) {
        const commands: LoadCommand[] = [];
        const rejects: MapReject[] = [];
        let skipped = 0;
        for (const record of records) {
          const key = checks.key(record);
          if (typeof key !== 'string') {
            rejects.push({ record, reason: key.reason });
            continue;
          }
          const value =
            single === undefined
              ? checks.sized(jsonOf(record, many!), 'value')
              : checks.value(record, single);
          if (value === null) {
            skipped++;
            continue;
          }
          if (typeof value !== 'string') {
            rejects.push({ record, reason: value.reason });
            continue;
          }
          const args = ttl ? ['SET', key, value, 'EX', ttl(key)] : ['SET', key, value];
          commands.push({ key, args, records: [record] });
        }
        return { commands, rejects, skipped };
      },
    };
  }

  if (model.type === 'hash') {
    const keep = model.nulls === 'empty';
    const only = model.fields;
    return {
      map(records) {
        const commands: LoadCommand[] = [];
        const rejects: MapReject[] = [];
        let skipped = 0;
        next: for (const record of records) {
          const key = checks.key(record);
          if (typeof key !== 'string') {
            rejects.push({ record, reason: key.reason });
            continue;
          }
          const args: string[] = ['HSET', key];
          for (const field of only ?? Object.keys(record.values)) {
            // A field that is absent or JSON null is left out (or kept empty); only oversize is an error.
            const value = record.values[field] === undefined ? null : checks.value(record, field);
            if (value === null) {
              if (keep) args.push(field, '');
              continue;
            }
            if (typeof value !== 'string') {
              rejects.push({ record, reason: value.reason });
              continue next;
            }
            args.push(field, value);
          }
          if (args.length === 2) {
            // HSET needs at least one field: a record whose fields are all null has nothing to write.
            skipped++;
            continue;
          }
          commands.push({ key, args, records: [record] });
          if (ttl) commands.push({ key, args: ['EXPIRE', key, ttl(key)], records: [] });
        }
        return { commands, rejects, skipped };
      },
    };
  }

  if (!buckets) throw new TypeError('the bucketed model needs its bucket parameters');
  const assign = createBucketAssigner(spec, buckets);
  const bucketPrefix = buckets.prefix;
  const slot = emptyAssignment();
  // Buckets already given their TTL in this load: a bitmap for the bounded hash scheme, a set for ranges.
  const expiredBits =
    buckets.scheme === 'hash' ? new Uint8Array(Math.ceil(buckets.bucketCount / 8)) : undefined;
  const expiredSet = buckets.scheme === 'range' ? new Set<number>() : undefined;
  const firstTouch = (index: number): boolean => {
    if (expiredBits) {
      const byte = index >>> 3;
      const bit = 1 << (index & 7);
      if (expiredBits[byte]! & bit) return false;
      expiredBits[byte]! |= bit;
      return true;
    }
    if (expiredSet!.has(index)) return false;
    expiredSet!.add(index);
    return true;
  };

  return {
    map(records): MapResult {
      const rejects: MapReject[] = [];
      const commands: LoadCommand[] = [];
      let skipped = 0;
      // Group the batch by bucket so each bucket gets one multi-field HSET (fewer, larger commands) — unless
      // there are so many hash buckets that a batch almost never hits one twice: then grouping only costs.
      const direct = buckets.scheme === 'hash' && buckets.bucketCount >= 4 * records.length;
      const groups = new Map<number, { bucket: string; args: string[]; records: SourceRecord[] }>();
      for (const record of records) {
        const index = assign(record, slot);
        if (index === ASSIGN_SKIP) {
          skipped++;
          continue;
        }
        if (index < 0) {
          rejects.push({ record, reason: slot.reason });
          continue;
        }
        const value = slot.value;
        if (direct) {
          const bucket = bucketPrefix + index;
          commands.push({ key: bucket, args: ['HSET', bucket, slot.field, value], records: [record] });
          if (ttl && firstTouch(index))
            commands.push({ key: bucket, args: ['EXPIRE', bucket, ttl(bucket)], records: [] });
          continue;
        }
        let group = groups.get(index);
        if (group === undefined) {
          const bucket = bucketPrefix + index;
          group = { bucket, args: ['HSET', bucket], records: [] };
          groups.set(index, group);
        }
        group.args.push(slot.field, value);
        group.records.push(record);
      }
      for (const [index, group] of groups) {
        commands.push({ key: group.bucket, args: group.args, records: group.records });
        if (ttl && firstTouch(index)) {
          commands.push({
            key: group.bucket,
            args: ['EXPIRE', group.bucket, ttl(group.bucket)],
            records: [],
          });
        }
      }
      return { commands, rejects, skipped };
    },
  };
}

/** Several fields of a record as one JSON object (absent fields as null): the string model's multi-field value. */
function jsonOf(record: SourceRecord, fields: readonly string[]): string {
  const picked: Record<string, unknown> = {};
  for (const f of fields) picked[f] = record.values[f] ?? null;
  return JSON.stringify(picked);
}
