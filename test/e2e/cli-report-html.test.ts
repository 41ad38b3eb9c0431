import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inkRatio, loadPage } from '../support/chromium.js';
import { runCli } from '../support/cli.js';
import { randomPrefix, useTempDir } from '../support/files.js';
import { useRedis } from '../support/redis-server.js';

const redis = useRedis();
const tmp = useTempDir();

describe('import --report-html', () => {
  it('writes a report that renders in Chromium with the run numbers and the rejects by reason', async () => {
    const p = randomPrefix();
    const rows = Array.from({ length: 50_000 }, (_, i) =>
      i % 5000 === 7 ? `${i},<img src=x onerror=alert(1)>,extra` : `${i},${i % 100}`,
    );
    const file = await tmp.write(`${p}.csv`, `id,score\n${rows.join('\n')}\n`);
    const html = join(tmp.dir, `${p}.html`);
    const result = await runCli([
      'import',
      file,
      '--redis',
      redis.server.url,
      '--key',
      `${p}:{id}`,
      '--value',
      'score',
      '--model',
      'bucketed',
      '--report-html',
      html,
      '--rejects',
      join(tmp.dir, `${p}.rejects.jsonl`),
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { counts: { written: number; rejected: number } };
    expect(summary.counts).toMatchObject({ written: 49_990, rejected: 10 });

    const page = await loadPage(html, join(tmp.dir, `${p}.png`), { width: 1280, height: 2000 });
    expect(page.console).toEqual([]);
    expect(inkRatio(page.image)).toBeGreaterThan(0.02);
    expect(page.dom).toContain('PARTIAL');
    expect(page.dom).toContain('49,990');
    expect(page.dom).toContain('expected 2 columns, found 3');
    // The rejected line is shown as text, never as markup.
    expect(page.dom).not.toMatch(/<img[^>]*onerror/);
    expect(page.dom).toContain(`127.0.0.1:${redis.server.port}`);
  });
});
