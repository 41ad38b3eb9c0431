import { type CommandBill, describeBill, UPSTASH_PRICE_PER_100K } from '../shared/import/index.js';
import type { ImportSummary } from './import-run.js';
import { bytes, commandsText, duration, int } from './format.js';

/** The human summary printed after an import (to stderr, so stdout stays clean for `--json`). */
export function formatSummary(s: ImportSummary): string {
  const c = s.counts;
  const rows: [string, string][] = [
    ['status', s.status + (s.error ? ` — ${s.error.name}: ${s.error.message}` : '')],
    ['source', `${s.source} (${bytes(s.bytesRead)} read)`],
    ['redis', s.shards.length === 1 ? s.shards[0]! : `${s.shards.length} shards: ${s.shards.join(', ')}`],
    ['model', s.model + (s.buckets ? ` (${describeBuckets(s)})` : '')],
    ...(s.writePath ? [['write path', describeWritePath(s)] as [string, string]] : []),
    ...memoryRows(s),
    ...(s.dataset ? [['dataset', describeDataset(s)] as [string, string]] : []),
    ['read', int(c.read)],
    ['written', int(c.written)],
    ['rejected', int(c.rejected) + (s.rejectsFile ? `  → ${s.rejectsFile}` : '')],
    ['skipped', int(c.skipped)],
    ['commands', commandsText(c.commands, s.commandsPer100Keys)],
  ];
  if (s.bill) rows.push(['bill', `${describeBill(s.bill)}${billBasis(s.bill)}`]);
  if (c.unsettled > 0) {
    const why = s.writePath?.grouped
      ? 'in partitions Redis has not confirmed yet'
      : 'in flight when the load failed; not confirmed';
    rows.push(['unsettled', `${int(c.unsettled)} (${why})`]);
  }
  if (c.retries > 0) rows.push(['retries', int(c.retries)]);
  for (const r of s.resets) {
    const did = r.action === 'replayed' ? 'loaded the range again from its start' : 'stopped';
    rows.push(['server reset', `${r.message}: ${did}`]);
  }
  if (s.redirects && s.redirects.moved + s.redirects.ask > 0)
    rows.push([
      'redirects',
      `${int(s.redirects.moved)} MOVED, ${int(s.redirects.ask)} ASK (slots moved during the load)`,
    ]);
  if (c.commandErrors > 0) rows.push(['expire errors', int(c.commandErrors)]);
  rows.push(['duration', `${duration(s.durationMs)}  (${int(s.keysPerSecond)} keys/s)`]);
  const before = s.memoryBefore.reduce((a, m) => a + m.usedMemory, 0);
  if (s.memoryBefore.length === 0) {
    rows.push(['redis memory', 'unreadable (INFO unavailable)']);
  } else if (s.memoryAfter) {
    const after = s.memoryAfter.reduce((a, m) => a + m.usedMemory, 0);
    const perKey = s.bytesPerKey === undefined ? '' : `, ${s.bytesPerKey.toFixed(1)} bytes/key`;
    rows.push(['redis memory', `${bytes(before)} → ${bytes(after)} (+${bytes(after - before)}${perKey})`]);
  } else {
    rows.push(['redis memory', `${bytes(before)} before; unreadable after the load`]);
  }
  rows.push(['loader memory', `${bytes(s.peakRssBytes)} peak RSS`]);
  const grouped = s.writePath?.grouped;
  // A stopped dataset load continues the version it started, never a fresh one.
  const version = s.dataset && !s.dataset.flipped ? ` --dataset-version ${s.dataset.version}` : '';
  if (s.status !== 'completed' && grouped?.kept) {
    const line = s.nextLine === undefined ? '' : ` --start-line ${s.nextLine}`;
    rows.push([
      'resume',
      `run the same command again (same --temp-dir${version ? `, with${version}` : ''}) to continue after partition ${grouped.settled} of ` +
        `${grouped.partitions}, confirmed by Redis; the spill stays in ${grouped.spill}. ` +
        `Or --start-offset ${s.nextOffset}${line}${version} to load the range again (grouped writes confirm no earlier offset)`,
    ]);
  } else if (s.status !== 'completed') {
    const line = s.nextLine === undefined ? '' : ` --start-line ${s.nextLine}`;
    rows.push([
      'resume',
      `--start-offset ${s.nextOffset}${line}${version}  (every record before it is confirmed by Redis or rejected)`,
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

/** Pre-flight projection, bucket-size and encoding notes, and what an out-of-memory stop means. */
function memoryRows(s: ImportSummary): [string, string][] {
  const rows: [string, string][] = [];
  const p = s.preflight;
  if (p) {
    const e = p.model.estimate;
    const forced = p.forced ? ' — forced past the pre-flight refusal' : '';
    rows.push([
      'pre-flight',
      `≈ ${bytes(e.bytes)} projected (${e.bytesPerKey.toFixed(1)} bytes/key)${forced}`,
    ]);
    if (p.bucketFit?.lowered) rows.push(['bucket size', p.bucketFit.reason!]);
    for (const w of p.warnings) if (!w.startsWith('bucket size lowered')) rows.push(['warning', w]);
  }
  const enc = s.encodings;
  if (enc) {
    const what = s.model === 'bucketed' ? 'buckets' : 'hashes';
    let text = `listpack in ${enc.listpack} of ${enc.checked} sampled ${what}`;
    if (enc.hashtable > 0) {
      text += `; ${enc.hashtable} hashtable (${enc.hashtableKeys.join(', ')}): their memory saving is lost`;
    }
    if (enc.missing > 0) text += `; ${enc.missing} missing`;
    if (enc.other > 0) text += `; ${enc.other} other`;
    if (enc.error) text += ` (check incomplete: ${enc.error})`;
    rows.push(['encoding', text]);
  }
  if (s.error?.name === 'RedisOutOfMemoryError') {
    rows.push([
      'out of memory',
      `Redis refused writes at maxmemory: the ${int(s.counts.written)} rows written before stay in Redis; nothing was retried. ` +
        'Free memory or raise maxmemory (or use --model bucketed), then resume as below',
    ]);
  }
  return rows;
}

/** `direct (why)`, or the grouped load's partitions, temp disk and passes. */
function describeWritePath(s: ImportSummary): string {
  const w = s.writePath!;
  const g = w.grouped;
  if (w.path === 'direct' || g === undefined) return `${w.path} (${w.reason})`;
  const b = w.bucketWrite;
  const each =
    b?.write === 'restore'
      ? `one RESTORE of its listpack per bucket (${b.reason})`
      : `one HSET per bucket${b?.fallback ? ` (${b.reason})` : ''}`;
  const parts = [`grouped (${w.reason}), ${each}`, `${int(g.partitions)} partitions`];
  const disk = `temp disk ${bytes(g.tempBytes)} in ${g.spill}`;
  parts.push(g.kept ? `${disk}, kept for a rerun` : `${disk}, removed`);
  if (g.reusedSpill) parts.push('partition pass done by an earlier run');
  else {
    const threads = g.segments > 1 ? ` in ${g.segments} worker threads` : '';
    parts.push(`partition pass ${duration(g.partitionMs)}${threads}`);
  }
  parts.push(`load pass ${duration(g.loadMs)}`);
  if (g.resumedAt > 0) parts.push(`continued at partition ${int(g.resumedAt + 1)}`);
  return parts.join('; ');
}

/** `users v4 loaded into users:v4:…; users v4 is current (was v3); v2 expires in 60 s`, or why not. */
function describeDataset(s: ImportSummary): string {
  const d = s.dataset!;
  const keys = d.expiredKeys > 0 ? ` (${int(d.expiredKeys)} keys)` : '';
  return `v${d.version} loaded into ${d.name}:v${d.version}:…; ${d.message}${keys}`;
}

function describeBuckets(s: ImportSummary): string {
  const b = s.buckets!;
  return b.scheme === 'hash'
    ? `${int(b.bucketCount)} hash buckets ${b.prefix}0…`
    : `range buckets of ${int(b.bucketSize)} ids, ${b.prefix}<id/${b.bucketSize}>`;
}

/** Where the price comes from, when it is Upstash's list price (a `--price-per-100k` needs no note). */
export function billBasis(bill: CommandBill): string {
  return bill.pricePer100k === UPSTASH_PRICE_PER_100K ? ' (Upstash pay-as-you-go list price)' : '';
}
