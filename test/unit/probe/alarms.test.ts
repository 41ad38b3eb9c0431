import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { assessShard, healthMetrics } from '../../../shared/probe/index.js';
import { parseInfo } from '../../../shared/redis/index.js';

// The alarms watch metrics the probe must really emit, under the namespace and dimension the function is
// configured with. (Packaging itself is checked by `npm run package:check` and test/unit/infra.)
let alarms: string;
let serverless: string;

beforeAll(async () => {
  alarms = await readFile(new URL('../../../infra/alarms.yml', import.meta.url), 'utf8');
  serverless = await readFile(new URL('../../../serverless.yml', import.meta.url), 'utf8');
});

/** The metric names of the aggregate metrics (service dimension) the probe writes for a measured shard. */
function aggregateMetricNames(): string[] {
  const info = parseInfo(
    '# Memory\r\nused_memory:2000\r\nused_memory_startup:1000\r\nmaxmemory:10000\r\n' +
      '# Stats\r\nevicted_keys:0\r\nrejected_connections:0\r\n# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\n',
  );
  const shard = assessShard({ shard: 'redis://a:6379/0', pings: [0.5], info });
  const thresholds = { warnPercent: 85, criticalPercent: 95, pingWarnMs: 100 };
  const { aggregate } = healthMetrics({ status: 'ok', checkedAt: '', thresholds, shards: [shard] });
  return aggregate.map((m) => m.name);
}

describe('infra/alarms.yml', () => {
  it('every resource is referenced from serverless.yml resources', () => {
    const names = [...alarms.matchAll(/^([A-Za-z0-9]+):$/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThanOrEqual(8);
    for (const name of names) expect(serverless).toContain(`    ${name}: \${file(infra/alarms.yml):${name}}`);
  });

  it('alarms watch metrics the probe emits, in its namespace, on its service dimension', () => {
    const emitted = aggregateMetricNames();
    const watched = [...alarms.matchAll(/MetricName: (\w+)/g)].map((m) => m[1]!);
    expect(watched.length).toBeGreaterThanOrEqual(7);
    for (const name of watched) expect(emitted, name).toContain(name);
    for (const m of alarms.matchAll(/Namespace: (.+)/g)) expect(m[1]).toBe('${param:healthMetricsNamespace}');
    const dimensions = [...alarms.matchAll(/- Name: (\w+)\n\s+Value: (.+)/g)];
    expect(dimensions.length).toBeGreaterThanOrEqual(7);
    for (const m of dimensions) expect(m[1]).toBe('service');
    for (const m of alarms.matchAll(/- Name: service\n\s+Value: (.+)/g))
      expect(m[1]).toBe('${self:service}-${sls:stage}');
  });

  it('the function is scheduled and configured with the same namespace, service and thresholds', () => {
    const fn = /\n {2}health-probe:\n([\s\S]*?)\n\n/.exec(serverless)?.[1] ?? '';
    expect(fn).toContain('handler: functions/health-probe/handler.handler');
    expect(fn).toMatch(/events:\n\s+- schedule:\n\s+rate: \$\{param:healthProbeRate\}/);
    expect(fn).toContain('METRICS_NAMESPACE: ${param:healthMetricsNamespace}');
    expect(fn).toContain('METRICS_SERVICE: ${self:service}-${sls:stage}');
    expect(fn).toContain('PROBE_WARN_PERCENT: ${param:healthWarnPercent}');
    expect(fn).toContain('PROBE_CRITICAL_PERCENT: ${param:healthCriticalPercent}');
    expect(alarms).toContain('Threshold: ${param:healthWarnPercent}');
    expect(alarms).toContain('Threshold: ${param:healthCriticalPercent}');
    expect(serverless).toMatch(/healthProbeRate: rate\(1 minute\)/);
  });
});
