import { describe, expect, it } from 'vitest';
import { createChunkHandler } from '../../functions/import-chunk/handler.js';
import { chunkEnvSchema, parseEnv } from '../../shared/config/index.js';
import type { ChunkState, ImportReport } from '../../shared/import/index.js';
import { TcpTarget } from '../../shared/redis/index.js';
import { LOCAL_S3_CREDENTIALS } from '../../cli/local-stack/local-s3.js';
import { createS3Client } from '../../shared/records/index.js';
import { randomPrefix } from '../support/files.js';
import { execAll } from '../support/read-back.js';
import { redisCli, useRedis } from '../support/redis-server.js';
import {
  eventBridgeEvent,
  getObjectText,
  listKeys,
  putObject,
  s3Event,
  TEST_BUCKET,
  useS3,
} from '../support/s3.js';
import { started, useImportStacks } from '../support/stepfunctions.js';

const redis = useRedis();
const s3 = useS3();
const stacks = useImportStacks();

function csv(n: number, prefix: string) {
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    name: i % 7 === 0 ? `multi "line"\nname ${i}, quoted` : `name-${i}`,
  }));
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return { text: `id,name\n${rows.map((r) => `${r.id},${quote(r.name)}`).join('\n')}`, rows };
}

async function countKeys(pattern: string): Promise<number> {
  return Number(
    await redisCli(redis.server.port, 'EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', pattern),
  );
}

function reconcile(report: ImportReport): void {
  const c = report.counts;
  expect(c.read).toBe(c.written + c.rejected + c.skipped + c.unsettled);
}

describe('S3 → import-start → state machine → import-chunk ×N → import-finish', () => {
  it('loads a multiline CSV in several chunks: every key reads back equal to the source', async () => {
    const p = randomPrefix();
    const { text, rows } = csv(20_000, '');
    const key = `incoming/${p}/users.csv`;
    const etag = await putObject(s3.server, key, text);
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 64 * 1024,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'name' } },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(outcome.chunks).toBeGreaterThan(3);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: rows.length, written: rows.length, rejected: 0 });
    expect(report.chunks).toMatchObject({ planned: outcome.chunks, completed: outcome.chunks, failed: 0 });
    expect(report.notes.join(' ')).toContain('quote parity');
    expect(report.redisMemory.after?.[0]?.usedMemory).toBeGreaterThan(
      report.redisMemory.before[0]!.usedMemory,
    );
    const t = new TcpTarget(redis.server.url);
    const values = await execAll(
      t,
      rows.map((r) => ({ args: ['GET', `${p}:${r.id}`] })),
    );
    await t.close();
    expect(values).toEqual(rows.map((r) => r.name));
    expect(await countKeys(`${p}:*`)).toBe(rows.length);
    expect(await listKeys(s3.server, `rejects/${outcome.importId}/`)).toEqual([]);
  });

  it('the same S3 event delivered twice starts one import', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/twice.jsonl`;
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: i, v: `v${i}` }));
    const etag = await putObject(s3.server, key, `${lines.join('\n')}\n`);
    let invocations = 0;
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 16 * 1024,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
      onChunk: () => {
        invocations++;
      },
    });
    const event = await s3Event(key, etag);
    const [first] = await stack.deliver(event);
    const [second] = await stack.deliver(event);
    const outcome = started(first);
    expect(second).toMatchObject({ status: 'duplicate', importId: outcome.importId });
    await stack.execution(outcome.importId)!.result;
    // A third delivery after the import finished is a duplicate too (in the EventBridge form).
    expect((await stack.deliver(await eventBridgeEvent(key)))[0]).toMatchObject({ status: 'duplicate' });
    expect(stack.started).toHaveLength(1);
    expect(invocations).toBe(outcome.chunks);
    expect(await countKeys(`${p}:*`)).toBe(3000);
  });

  it('a chunk executed twice: the second run writes nothing and returns the recorded stats', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/again.csv`;
    const etag = await putObject(
      s3.server,
      key,
      `id,v\n${Array.from({ length: 500 }, (_, i) => `${i},${i}`).join('\n')}\n`,
    );
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    await stack.execution(outcome.importId)!.result;
    const plan = stack.execution(outcome.importId)!.plan;

    // Tamper with a loaded key and drop another: a second run of the chunk must touch neither.
    await redisCli(redis.server.port, 'SET', `${p}:7`, 'changed');
    await redisCli(redis.server.port, 'DEL', `${p}:8`);
    const env = parseEnv(chunkEnvSchema, {
      REDIS_URL: redis.server.url,
      REPORT_BUCKET: TEST_BUCKET,
      S3_ENDPOINT: s3.server.endpoint,
    });
    const targets = [new TcpTarget(redis.server.url)];
    const client = await createS3Client({ endpoint: s3.server.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    const handler = createChunkHandler(() => ({ env, clients: { s3: client, targets } }));
    const state: ChunkState = {
      importId: plan.importId,
      source: plan.source,
      spec: plan.spec,
      buckets: plan.buckets,
      chunk: plan.chunks[0]!,
    };
    const context = { getRemainingTimeInMillis: () => 900_000 } as never;
    const again = (await handler({ state, attempt: 0 }, context)) as ChunkState;
    await targets[0]!.close();
    client.destroy();
    expect(again.progress).toMatchObject({ status: 'done', replayed: true, stats: { written: 500 } });
    expect(await redisCli(redis.server.port, 'GET', `${p}:7`)).toBe('changed');
    expect(await redisCli(redis.server.port, 'EXISTS', `${p}:8`)).toBe('0');
  });

  it('continues a chunk that runs into the Lambda deadline, at a batch boundary, without loss', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/slow.csv`;
    const n = 60_000;
    const etag = await putObject(
      s3.server,
      key,
      `id,v\n${Array.from({ length: n }, (_, i) => `${i},${i * 2}`).join('\n')}\n`,
    );
    const invocations: ChunkState[] = [];
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      // Every invocation gets 1 ms past the 1 s margin: it stops after its first batch and continues.
      chunkTimeoutMs: 1001,
      env: { 'import-chunk': { TIMEOUT_MARGIN_MS: '1000' } },
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' }, batch: { maxCommands: 500 } },
      onChunk: (s) => {
        invocations.push(s);
      },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'SUCCEEDED' });
    expect(invocations.length).toBeGreaterThan(2);
    expect(invocations.slice(0, -1).every((s) => s.progress?.status === 'continue')).toBe(true);
    const report = await stack.report(outcome.importId);
    expect(report.counts).toMatchObject({ read: n, written: n });
    expect((report.perChunk[0] as { invocations: number }).invocations).toBe(invocations.length);
    expect(await countKeys(`${p}:*`)).toBe(n);
    expect(await redisCli(redis.server.port, 'GET', `${p}:${n - 1}`)).toBe(String((n - 1) * 2));
  });

  it('bad records go to the rejects objects and the counts reconcile (PARTIAL)', async () => {
    const p = randomPrefix();
    const key = `incoming/${p}/mixed.csv`;
    const good = Array.from({ length: 3000 }, (_, i) => `${i},${i}`);
    good[10] = '10,1,extra';
    good[2500] = '2500';
    good[2990] = ',empty-key';
    const etag = await putObject(s3.server, key, `id,v\n${good.join('\n')}\n`);
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      chunkBytes: 8 * 1024,
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const outcome = started((await stack.deliver(await s3Event(key, etag)))[0]);
    expect(await stack.execution(outcome.importId)!.result).toMatchObject({ status: 'PARTIAL' });
    const report = await stack.report(outcome.importId);
    reconcile(report);
    expect(report.counts).toMatchObject({ read: 3000, written: 2997, rejected: 3 });
    expect(report.rejects.count).toBe(3);
    const objects = report.rejects.objects;
    expect(objects.length).toBeGreaterThan(1);
    const rejected: { line?: number; reason: string; raw: string }[] = [];
    for (const uri of objects) {
      const text = await getObjectText(s3.server, uri.replace(`s3://${TEST_BUCKET}/`, ''));
      for (const line of (text ?? '').trim().split('\n')) rejected.push(JSON.parse(line) as never);
    }
    expect(rejected.map((r) => r.raw).sort()).toEqual([',empty-key', '10,1,extra', '2500']);
    expect(await countKeys(`${p}:*`)).toBe(2997);
  });
});

describe('bad input: a FAILED report with the reason, and no writes', () => {
  async function refusedReport(
    key: string,
    body: string,
    options: { allowedSources?: string; maxObjectBytes?: number; sidecar?: string } = {},
  ): Promise<ImportReport> {
    const p = randomPrefix();
    const dbsize = await redisCli(redis.server.port, 'DBSIZE');
    if (options.sidecar !== undefined) await putObject(s3.server, `${key}.import.json`, options.sidecar);
    const etag = await putObject(s3.server, key, body);
    const stack = await stacks.create({
      redisUrls: [redis.server.url],
      s3Endpoint: s3.server.endpoint,
      ...(options.allowedSources ? { allowedSources: options.allowedSources } : {}),
      ...(options.maxObjectBytes ? { maxObjectBytes: options.maxObjectBytes } : {}),
      defaultSpec: { key: `${p}:{id}`, model: { type: 'string', value: 'v' } },
    });
    const [outcome] = await stack.deliver(await s3Event(key, etag));
    expect(outcome).toMatchObject({ status: 'refused' });
    expect(stack.started).toHaveLength(0);
    expect(await redisCli(redis.server.port, 'DBSIZE')).toBe(dbsize);
    const report = await stack.report((outcome as { importId: string }).importId);
    expect(report.status).toBe('FAILED');
    expect(report.counts.written).toBe(0);
    return report;
  }

  it('an object over the size limit', async () => {
    const report = await refusedReport(`incoming/${randomPrefix()}/big.csv`, 'id,v\n1,1\n2,2\n', {
      maxObjectBytes: 8,
    });
    expect(report.reason).toContain('over the limit of 8 bytes');
  });

  it('an object of unknown format', async () => {
    const report = await refusedReport(`incoming/${randomPrefix()}/data.parquet`, 'PAR1');
    expect(report.reason).toContain('unknown format');
  });

  it('an object outside the allowlist', async () => {
    const report = await refusedReport(`elsewhere/${randomPrefix()}.csv`, 'id,v\n1,1\n', {
      allowedSources: `${TEST_BUCKET}/incoming/`,
    });
    expect(report.reason).toContain('outside the allowed sources');
  });

  it('a bad sidecar spec: the zod message is in the report', async () => {
    const report = await refusedReport(`incoming/${randomPrefix()}/spec.csv`, 'id,v\n1,1\n', {
      sidecar: JSON.stringify({ model: { type: 'string', value: 'v' }, ttl: { seconds: -5 }, colour: 'red' }),
    });
    expect(report.reason).toContain('sidecar s3://');
    expect(report.reason).toContain('ttl.seconds');
    expect(report.reason).toMatch(/colour/);
  });
});
