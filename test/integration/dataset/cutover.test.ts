import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ImportSummary, runImport } from '../../../cli/import-run.js';
import { type ImportSpecInput, parseImportSpec } from '../../../shared/config/index.js';
import {
  allocateVersion,
  cutover,
  type DatasetView,
  openCurrent,
  readCurrent,
} from '../../../shared/dataset/index.js';
import { readKey } from '../../../shared/mapping/index.js';
import { TcpTarget } from '../../../shared/redis/index.js';
import { randomPrefix, useTempDir } from '../../support/files.js';
import { redisCli, useRedis } from '../../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();

/** `id,v` rows whose values carry the load's tag: `<tag>:<i>`. */
function rows(n: number, tag: string): string {
  return `id,v\n${Array.from({ length: n }, (_, i) => `${i},${tag}:${i}`).join('\n')}\n`;
}

async function load(
  p: string,
  tag: string,
  text: string,
  spec: Partial<ImportSpecInput> = {},
  reportHtml?: string,
): Promise<ImportSummary> {
  const source = await tmp.write(`${p}-${tag}.csv`, text);
  return runImport({
    source,
    redis: [redis.server.url],
    spec: parseImportSpec({
      format: { type: 'csv' },
      key: 'user:{id}',
      model: { type: 'string', value: 'v' },
      dataset: { name: p },
      ...spec,
    }),
    rejectsPath: join(tmp.dir, `${p}-${tag}.rejects.jsonl`),
    progress: false,
    ...(reportHtml === undefined ? {} : { reportHtml }),
  });
}

const cli = (...args: string[]) => redisCli(redis.server.port, ...args);

describe('dataset cutover', () => {
  it('readers running during a re-load always see one complete version, never a mix', async () => {
    const p = randomPrefix();
    const n = 20_000;
    // Small pipelines: the re-load takes many round trips, and the readers run between them.
    const batch = { maxCommands: 100 };
    const first = await load(p, 'v1', rows(n, 'v1'), { batch });
    expect(first.dataset).toMatchObject({ version: 1, flipped: true, current: 1 });
    const target = new TcpTarget(redis.server.url);
    let loading = true;
    const reload = load(p, 'v2', rows(n, 'v2'), { batch }).finally(() => {
      loading = false;
    });
    const seen: number[] = [];
    let readsWhileLoading = 0;
    const reader = async (): Promise<void> => {
      let last = 0;
      // Until the re-load is done and this reader has seen its version: no sleeping, every turn reads.
      while (loading || last < 2) {
        const view: DatasetView | undefined = await openCurrent(target, p);
        expect(view).toBeDefined();
        const ids = Array.from({ length: 8 }, () => Math.floor(Math.random() * n));
        const values = await view!.readMany(ids.map((i) => `user:${i}`));
        // One snapshot: every key present, all from the version `current` named.
        expect(values).toEqual(ids.map((i) => `v${view!.version}:${i}`));
        const one = await readCurrent(target, p, `user:${ids[0]}`);
        expect(one).toMatch(new RegExp(`^v[12]:${ids[0]}$`));
        // Versions only move forward.
        expect(view!.version).toBeGreaterThanOrEqual(last);
        expect(Number(one!.slice(1, 2))).toBeGreaterThanOrEqual(view!.version);
        last = view!.version;
        seen.push(last);
        if (loading) readsWhileLoading++;
      }
    };
    await Promise.all([reader(), reader(), reader(), reload]);
    const second = await reload;
    await target.close();
    expect(second.status).toBe('completed');
    expect(second.dataset).toMatchObject({ version: 2, flipped: true, previous: 1, current: 2 });
    // The pre-flight projected v2 on top of a used_memory that holds the live v1.
    expect(second.preflight?.warnings.join('\n')).toMatch(`dataset ${p}: v2 loads beside the live v1`);
    expect(readsWhileLoading).toBeGreaterThan(10);
    expect(seen).toContain(1);
    expect(seen).toContain(2);
    expect(await cli('GET', `${p}:current`)).toBe('2');
  });

  it('keep 2: after three loads v1 is expiring, v2 and v3 stay, current is v3', async () => {
    const p = randomPrefix();
    for (const tag of ['v1', 'v2', 'v3']) {
      const s = await load(p, tag, rows(50, tag));
      expect(s.dataset).toMatchObject({ flipped: true, current: Number(tag.slice(1)) });
    }
    expect(await cli('GET', `${p}:current`)).toBe('3');
    const t = new TcpTarget(redis.server.url);
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const ttl = (v: number) => t.exec(ids.map((i) => ({ args: ['TTL', `${p}:v${v}:user:${i}`] })));
    for (const left of await ttl(1)) {
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(60);
    }
    expect(await ttl(2)).toEqual(ids.map(() => -1));
    expect(await t.exec(ids.map((i) => ({ args: ['GET', `${p}:v3:user:${i}`] })))).toEqual(
      ids.map((i) => `v3:${i}`),
    );
    expect(Number(await cli('TTL', `${p}:v1`))).toBeGreaterThan(0);
    expect(await cli('ZRANGE', `${p}:versions`, '0', '-1')).toBe('2\n3');
    expect(await readCurrent(t, p, 'user:7')).toBe('v3:7');
    await t.close();
  });

  it('graceSeconds 0 unlinks old versions at once', async () => {
    const p = randomPrefix();
    for (const tag of ['v1', 'v2'])
      await load(p, tag, rows(30, tag), { dataset: { name: p, keep: 1, graceSeconds: 0 } });
    expect(Number(await cli('EXISTS', `${p}:v1:user:0`, `${p}:v1`))).toBe(0);
    expect(await cli('GET', `${p}:v2:user:0`)).toBe('v2:0');
  });

  it('a FAILED load (reject budget exceeded) leaves current untouched, and the summary says so', async () => {
    const p = randomPrefix();
    await load(p, 'v1', rows(100, 'v1'));
    // Every other value is too long: far over the 1 % budget.
    const bad = `id,v\n${Array.from({ length: 100 }, (_, i) => `${i},${i % 2 ? 'x'.repeat(50) : `v2:${i}`}`).join('\n')}\n`;
    const html = join(tmp.dir, `${p}-v2.html`);
    const failed = await load(
      p,
      'v2',
      bad,
      { limits: { maxValueBytes: 20 }, rejectBudget: { fraction: 0.01, minRecords: 0 } },
      html,
    );
    expect(failed.status).toBe('failed');
    expect(failed.error?.name).toBe('RejectBudgetExceededError');
    expect(failed.dataset).toMatchObject({
      version: 2,
      flipped: false,
      current: 1,
      message: 'cutover skipped: import FAILED; current stays at v1',
    });
    expect(await cli('GET', `${p}:current`)).toBe('1');
    expect(await readFile(html, 'utf8')).toContain('cutover skipped: import FAILED; current stays at v1');
    const t = new TcpTarget(redis.server.url);
    expect(await readCurrent(t, p, 'user:0')).toBe('v1:0');
    await t.close();
    // The next good load cuts over, and the failed v2 (never current) goes with the grace period.
    const good = await load(p, 'v3', rows(100, 'v3'));
    expect(good.dataset).toMatchObject({ version: 3, flipped: true, previous: 1, expired: [2] });
    expect(await cli('TTL', `${p}:v1:user:0`)).toBe('-1');
  });

  it('a PARTIAL load cuts over only with allowPartial, within maxRejectedFraction', async () => {
    const p = randomPrefix();
    const some = `id,v\n${Array.from({ length: 100 }, (_, i) => `${i},${i === 5 ? 'x'.repeat(50) : `ok:${i}`}`).join('\n')}\n`;
    const limits = { maxValueBytes: 20 };
    const strict = await load(p, 'a', some, { limits });
    expect(strict.status).toBe('completed');
    expect(strict.dataset).toMatchObject({ flipped: false, current: null });
    expect(strict.dataset?.message).toBe(
      `cutover skipped: import PARTIAL (1 of 100 records rejected) and dataset.allowPartial is off; ${p} has no current version`,
    );
    const lenient = await load(p, 'b', some, { limits, dataset: { name: p, allowPartial: true } });
    expect(lenient.dataset).toMatchObject({ version: 2, flipped: true, current: 2 });
  });

  it('a bucketed dataset: readKey works with the version parameters, and a new version gets its own meta', async () => {
    const p = randomPrefix();
    const model = { type: 'bucketed', value: 'v', bucketSize: 10 } as const;
    await load(p, 'v1', rows(200, 'v1'), { model });
    const s2 = await load(p, 'v2', rows(500, 'v2'), { model });
    expect(s2.buckets).toMatchObject({ prefix: `${p}:v2:user:bkt:`, bucketCount: 50 });
    const t = new TcpTarget(redis.server.url);
    const view = await openCurrent(t, p);
    expect(view?.buckets).toEqual(s2.buckets);
    expect(await readKey(t, 'user:321', view!.buckets!)).toBe('v2:321');
    expect(await readCurrent(t, p, 'user:321')).toBe('v2:321');
    await t.close();
    expect(await cli('HGET', `${p}:v1:user:bkt:meta`, 'bucketCount')).toBe('20');
    expect(await cli('HGET', `${p}:v2:user:bkt:meta`, 'bucketCount')).toBe('50');
  });

  it('two loads started at once get two versions; the slower one never takes current back', async () => {
    const p = randomPrefix();
    const t = new TcpTarget(redis.server.url);
    const dataset = { name: p, keep: 2, allowPartial: false, graceSeconds: 60 };
    const input = { dataset, model: 'string', rejectFraction: 0.01, source: 'test' } as const;
    const [a, b] = await Promise.all([allocateVersion(t, input), allocateVersion(t, input)]);
    expect(new Set([a.version, b.version])).toEqual(new Set([1, 2]));
    const [older, newer] = a.version < b.version ? [a, b] : [b, a];
    await t.exec([{ args: ['SET', `${p}:v1:user:1`, 'old'] }, { args: ['SET', `${p}:v2:user:1`, 'new'] }]);
    const done = { status: 'SUCCEEDED', read: 1, rejected: 0 } as const;
    expect(await cutover([t], newer, done)).toMatchObject({ flipped: true, current: 2 });
    const late = await cutover([t], older, done);
    expect(late).toMatchObject({ flipped: false, current: 2, expired: [1] });
    expect(late.message).toBe(
      'cutover skipped: v2 became current meanwhile (a newer load finished first); v1 is removed; current stays at v2',
    );
    expect(await cli('GET', `${p}:current`)).toBe('2');
    expect(await cli('EXISTS', `${p}:v1:user:1`)).toBe('0');
    expect(await readCurrent(t, p, 'user:1')).toBe('new');
    await t.close();
  });
});
