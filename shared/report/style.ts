/** The report's stylesheet, inlined: system fonts only, nothing fetched when the file is opened. */
export const STYLE = `
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --card: #fff; --bg: #f1f5f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 22px; margin: 0; font-weight: 650; }
h1 .id { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 18px; word-break: break-all; }
h2 { font-size: 17px; margin: 0 0 12px; font-weight: 650; }
h3 { font-size: 14px; margin: 16px 0 8px; font-weight: 650; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.head, section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin-bottom: 16px; }
.title-row { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; }
.badge { font-weight: 700; font-size: 13px; letter-spacing: .06em; padding: 4px 12px; border-radius: 999px; color: #fff; }
.badge-ok { background: #16a34a; } .badge-partial { background: #d97706; } .badge-failed { background: #dc2626; }
.badge-unknown { background: #64748b; }
.reason { margin: 10px 0 0; padding: 8px 12px; background: #fef2f2; border-left: 4px solid #dc2626; border-radius: 4px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 12px 0 0; }
.meta div { display: flex; gap: 8px; min-width: 0; } .meta dt { color: var(--muted); } .meta dd { margin: 0; overflow-wrap: anywhere; }
.tiles { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; margin-top: 16px; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tile-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.tile-value { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tile-detail { color: var(--muted); font-size: 12px; }
.equation { margin: 0 0 10px; } .equation code { font-size: 14px; }
.ok { color: #15803d; font-weight: 600; } .bad { color: #b91c1c; font-weight: 600; }
.stack { display: flex; height: 14px; border-radius: 7px; overflow: hidden; background: var(--line); margin: 6px 0 14px; }
.stack span { display: block; height: 100%; }
.two-col { display: grid; grid-template-columns: 1fr 1.4fr; gap: 24px; align-items: start; }
table.numbers { border-collapse: collapse; width: 100%; }
table.numbers th, table.numbers td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
table.numbers th:first-child, table.numbers td:first-child { text-align: left; }
table.numbers thead th { color: var(--muted); font-weight: 600; font-size: 12px; }
table.numbers td, table.numbers thead th { font-variant-numeric: tabular-nums; white-space: nowrap; }
table.numbers tbody th { font-weight: 500; overflow-wrap: anywhere; }
table.numbers tr.total th, table.numbers tr.total td { font-weight: 650; }
table.numbers td.why { text-align: left; color: var(--muted); font-size: 12.5px; white-space: normal; }
table.rejects td, table.errors td, table.rejects th, table.errors th { text-align: left; }
table.rejects td.reason-text, table.errors td.message { white-space: normal; overflow-wrap: anywhere; max-width: 380px; }
table.rejects td:last-child { white-space: normal; }
table.rejects td:nth-child(2), table.rejects td:nth-child(3) { text-align: right; white-space: nowrap; }
.example { margin: 0 0 6px; } .example .where { color: var(--muted); font-size: 12px; }
.example pre { margin: 2px 0 0; padding: 4px 8px; background: #f8fafc; border: 1px solid var(--line); border-radius: 4px;
  white-space: pre-wrap; overflow-wrap: anywhere; max-width: 560px; }
.swatch { display: inline-block; vertical-align: middle; margin-right: 6px; }
.swatch.line, .swatch.dashed { width: 18px; height: 0; border-top: 3px solid var(--c); }
.swatch.dashed { border-top-style: dashed; }
.swatch.box { width: 14px; height: 10px; border-radius: 2px; background: var(--c); }
.swatch.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--c); }
.swatch.diamond { width: 8px; height: 8px; margin: 0 7px 0 2px; transform: rotate(45deg); background: var(--c); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 12.5px; color: #334155; margin: 4px 0 2px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart .grid { stroke: #e2e8f0; stroke-width: 1; }
svg.chart .axis { stroke: #94a3b8; stroke-width: 1; }
svg.chart text { font-size: 12px; fill: #475569; font-variant-numeric: tabular-nums; }
svg.chart text.ref { font-size: 11.5px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.shards { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 20px; }
figure.shard { margin: 10px 0 0; } figure.shard figcaption { font-size: 13px; overflow-wrap: anywhere; }
.lead { margin: 0 0 8px; } .note, .muted { color: var(--muted); } .note { margin: 8px 0; font-size: 13px; }
ul.notes, ul.objects { margin: 0; padding-left: 20px; } ul.notes li, ul.objects li { overflow-wrap: anywhere; margin: 2px 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
@media (max-width: 900px) { .tiles { grid-template-columns: repeat(3, 1fr); } .two-col, .shards { grid-template-columns: 1fr; } }
@media print { body { background: #fff; } .head, section { break-inside: avoid; } }
`;
