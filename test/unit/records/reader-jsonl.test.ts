import { describe, expect, it } from 'vitest';
import type { JsonlFormat } from '../../../shared/records/index.js';
import { byteOffset, memory, readAll } from './helpers.js';

const format: JsonlFormat = { type: 'jsonl' };

describe('readRecords: JSONL', () => {
  it('reads one object per line with line numbers and byte offsets', async () => {
    const text = '{"id":1,"tags":["a"]}\n{"id":2,"name":"é"}\r\n{"id":3}';
    const { records, rejects, skipped } = await readAll(memory(text), { format });
    expect(rejects).toEqual([]);
    expect(skipped).toBe(0);
    expect(records).toEqual([
      { line: 1, offset: 0, raw: '{"id":1,"tags":["a"]}', values: { id: 1, tags: ['a'] } },
      {
        line: 2,
        offset: byteOffset(text, '{"id":2'),
        raw: '{"id":2,"name":"é"}',
        values: { id: 2, name: 'é' },
      },
      { line: 3, offset: byteOffset(text, '{"id":3'), raw: '{"id":3}', values: { id: 3 } },
    ]);
  });

  it('rejects bad JSON and lines that are not objects, and reads on', async () => {
    const text = '{"ok":1}\n{"broken":\n[1,2]\n42\nnull\n"text"\n{"ok":2}\n';
    const { records, rejects } = await readAll(memory(text), { format });
    expect(records.map((r) => [r.line, r.values])).toEqual([
      [1, { ok: 1 }],
      [7, { ok: 2 }],
    ]);
    expect(rejects.map((r) => [r.line, r.offset, r.raw])).toEqual([
      [2, byteOffset(text, '{"broken'), '{"broken":'],
      [3, byteOffset(text, '[1,2]'), '[1,2]'],
      [4, byteOffset(text, '42'), '42'],
      [5, byteOffset(text, 'null'), 'null'],
      [6, byteOffset(text, '"text"'), '"text"'],
    ]);
    expect(rejects[0]?.reason).toMatch(/^bad JSON: /);
    expect(rejects.slice(1).map((r) => r.reason)).toEqual(Array(4).fill('JSON line is not an object'));
  });

  it('skips blank lines and a BOM', async () => {
    const text = '\ufeff{"a":1}\n\n\r\n{"a":2}\n\n';
    const { records, skipped } = await readAll(memory(text, 2), { format });
    expect(records.map((r) => [r.line, r.offset, r.values])).toEqual([
      [1, 3, { a: 1 }],
      [4, byteOffset(text, '{"a":2'), { a: 2 }],
    ]);
    expect(skipped).toBe(3);
  });

  it('rejects invalid UTF-8 and over-long lines only', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"a":1}\n{"a":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(`"}\n{"a":"${'x'.repeat(80)}"}\n{"a":4}\n`),
    ]);
    const { records, rejects } = await readAll(memory(bytes), { format, maxRecordBytes: 40 });
    expect(records.map((r) => [r.line, r.values])).toEqual([
      [1, { a: 1 }],
      [4, { a: 4 }],
    ]);
    expect(rejects.map((r) => [r.line, r.offset, r.reason])).toEqual([
      [2, 8, 'invalid UTF-8'],
      [3, 19, 'record longer than 40 bytes'],
    ]);
  });

  it('reads a range: skips the partial first line, finishes the last one past the end', async () => {
    const text = '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n';
    // [10, 17) starts inside line 2 and ends inside line 3: it owns only line 3.
    const { records } = await readAll(memory(text), { format, start: 10, end: 17 });
    expect(records).toEqual([{ line: undefined, offset: 16, raw: '{"n":3}', values: { n: 3 } }]);
    const withLine = await readAll(memory(text), { format, start: 10, end: 17, startLine: 2 });
    expect(withLine.records.map((r) => r.line)).toEqual([3]);
    // A range starting exactly at a line start owns that line.
    const exact = await readAll(memory(text), { format, start: 8, end: 9 });
    expect(exact.records.map((r) => r.values)).toEqual([{ n: 2 }]);
  });
});
