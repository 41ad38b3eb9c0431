import { describe, expect, it } from 'vitest';
import { type ImportRunOptions, runImport } from '../../../cli/import-run.js';
import { formatSummary } from '../../../cli/summary.js';
import { parseImportSpec } from '../../../shared/config/index.js';
import { bucketOf } from '../../../shared/mapping/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

// A server with small listpack limits, so the clamp and the conversion are easy to see.
const redis = useRedis({ args: ['--hash-max-listpack-entries', '64', '--hash-max-listpack-value', '32'] });
const tmp = useTempDir();

async function csv(name: string, rows: number, value: (i: number) => string = (i) => String(i % 1000)) {
  const lines = Array.from({ length: rows }, (_, i) => `${i},${value(i)}`);
  return tmp.write(name, `id,score\n${lines.join('\n')}\n`);
}

function options(source: string, p: string, model: object): ImportRunOptions {
  return {
    source,
    redis: [redis.server.url],
    spec: parseImportSpec({
      format: { type: source.endsWith('.jsonl') ? 'jsonl' : 'csv' },
      key: `${p}:{id}`,
      model,
    }),
    rejectsPath: `${source}.rejects.jsonl`,
    progress: false,
  };
}

describe('listpack-aware buckets (hash-max-listpack-entries 64, -value 32)', () => {
  it('hash scheme: a bucket size of 100 is lowered to a mean of 34 (34 + 5·√34 ≤ 64); all buckets stay listpack', async () => {
    const p = randomPrefix();
    const rows = 20_000;
    const summary = await runImport(
      options(await csv(`${p}.csv`, rows), p, { type: 'bucketed', value: 'score', bucketSize: 100 }),
    );
    expect(summary.status).toBe('completed');
    expect(summary.preflight?.bucketFit).toMatchObject({ requested: 100, size: 34, lowered: true });
    expect(summary.buckets).toMatchObject({ scheme: 'hash', bucketCount: Math.ceil(rows / 34) });
    expect(summary.encodings).toMatchObject({ checked: 64, listpack: 64, hashtable: 0 });
    const text = formatSummary(summary);
    expect(text).toMatch(
      /bucket size +bucket size lowered from 100 to 34: hash buckets vary around their mean/,
    );
    expect(text).toMatch(/encoding +listpack in 64 of 64 sampled buckets/);
    // Every bucket really is a listpack: the fullest one included.
    const sizes = new Map<string, number>();
    for (let i = 0; i < rows; i++) {
      const a = bucketOf(`${p}:${i}`, summary.buckets!);
      if (typeof a !== 'string') sizes.set(a.bucket, (sizes.get(a.bucket) ?? 0) + 1);
    }
    const fullest = [...sizes].sort((a, b) => b[1] - a[1])[0]!;
    expect(fullest[1]).toBeLessThanOrEqual(64);
    expect(await redisCli(redis.server.port, 'OBJECT', 'ENCODING', fullest[0])).toBe('listpack');
  });

  it('range scheme: a bucket size of 100 is lowered to exactly 64', async () => {
    const p = randomPrefix();
    const summary = await runImport(
      options(await csv(`${p}.csv`, 5000), p, {
        type: 'bucketed',
        value: 'score',
        scheme: 'range',
        bucketSize: 100,
      }),
    );
    expect(summary.preflight?.bucketFit).toMatchObject({ size: 64, lowered: true });
    expect(summary.buckets).toMatchObject({ scheme: 'range', bucketSize: 64 });
    expect(await redisCli(redis.server.port, 'HLEN', `${p}:bkt:0`)).toBe('64');
    expect(await redisCli(redis.server.port, 'OBJECT', 'ENCODING', `${p}:bkt:0`)).toBe('listpack');
  });

  it('a value longer than hash-max-listpack-value is counted, warned about, and found by OBJECT ENCODING', async () => {
    const p = randomPrefix();
    const long = 'L'.repeat(40);
    const summary = await runImport(
      options(await csv(`${p}.csv`, 3000, (i) => (i === 1234 ? long : String(i % 1000))), p, {
        type: 'bucketed',
        value: 'score',
        scheme: 'range',
        bucketSize: 50,
      }),
    );
    expect(summary.status).toBe('completed');
    expect(summary.preflight?.model.estimate.longEntries).toBe(1);
    expect(summary.preflight?.warnings.join('\n')).toMatch(
      /1 of 3,000 sampled records have a field or value longer than hash-max-listpack-value \(32 bytes\)/,
    );
    const bucket = `${p}:bkt:${Math.floor(1234 / 50)}`;
    expect(summary.encodings).toMatchObject({
      checked: 60,
      listpack: 59,
      hashtable: 1,
      hashtableKeys: [bucket],
    });
    expect(await redisCli(redis.server.port, 'OBJECT', 'ENCODING', bucket)).toBe('hashtable');
    const text = formatSummary(summary);
    expect(text).toMatch(/warning +1 of 3,000 sampled records/);
    expect(text).toContain(
      `encoding       listpack in 59 of 60 sampled buckets; 1 hashtable (${bucket}): their memory saving is lost`,
    );
  });

  it('the hash model is checked too: a record with more fields than the limit is a hashtable', async () => {
    const p = randomPrefix();
    const lines = Array.from({ length: 10 }, (_, r) => {
      const fields: Record<string, unknown> = { id: r, name: `n${r}` };
      if (r === 3) for (let i = 0; i < 70; i++) fields[`f${i}`] = i;
      return JSON.stringify(fields);
    });
    const source = await tmp.write(`${p}.jsonl`, `${lines.join('\n')}\n`);
    const summary = await runImport(options(source, p, { type: 'hash' }));
    expect(summary.status).toBe('completed');
    expect(summary.encodings).toMatchObject({
      checked: 10,
      listpack: 9,
      hashtable: 1,
      hashtableKeys: [`${p}:3`],
    });
  });
});
