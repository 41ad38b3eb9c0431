import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors/index.js';
import { byteOffset, csv, memory, readAll } from './helpers.js';

describe('readRecords: CSV', () => {
  it('takes the header from the first line and keys values by column', async () => {
    const text = 'key,value\nuser:1,10\nuser:2,20\n';
    const { records, rejects, skipped } = await readAll(memory(text), { format: csv() });
    expect(rejects).toEqual([]);
    expect(skipped).toBe(0);
    expect(records).toEqual([
      { line: 2, offset: 10, raw: 'user:1,10', values: { key: 'user:1', value: '10' } },
      { line: 3, offset: 20, raw: 'user:2,20', values: { key: 'user:2', value: '20' } },
    ]);
  });

  it('reads the first line as data when columns are given', async () => {
    const text = 'user:1,10\nuser:2,20';
    const { records } = await readAll(memory(text), { format: csv({ columns: ['k', 'v'] }) });
    expect(records.map((r) => [r.line, r.offset, r.values])).toEqual([
      [1, 0, { k: 'user:1', v: '10' }],
      [2, 10, { k: 'user:2', v: '20' }],
    ]);
  });

  it('supports a custom delimiter and quote', async () => {
    const text = "a;b\n'x;y';'it''s'\n1;2\n";
    const { records, rejects } = await readAll(memory(text), { format: csv({ delimiter: ';', quote: "'" }) });
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.values)).toEqual([
      { a: 'x;y', b: "it's" },
      { a: '1', b: '2' },
    ]);
    const tabs = await readAll(memory('a\tb\n1\t"2\t3"\n'), { format: csv({ delimiter: '\t' }) });
    expect(tabs.records.map((r) => r.values)).toEqual([{ a: '1', b: '2\t3' }]);
  });

  it('reads quoted fields with delimiters, doubled quotes and newlines, counting physical lines', async () => {
    const text = 'a,b\n"x,y","say ""hi"""\n"multi\nline\r\nfield",2\nlast,3\n';
    const { records, rejects } = await readAll(memory(text), { format: csv() });
    expect(rejects).toEqual([]);
    expect(records).toEqual([
      { line: 2, offset: 4, raw: '"x,y","say ""hi"""', values: { a: 'x,y', b: 'say "hi"' } },
      {
        line: 3,
        offset: byteOffset(text, '"multi'),
        raw: '"multi\nline\r\nfield",2',
        values: { a: 'multi\nline\r\nfield', b: '2' },
      },
      { line: 6, offset: byteOffset(text, 'last'), raw: 'last,3', values: { a: 'last', b: '3' } },
    ]);
  });

  it('strips \\r of CRLF line ends and skips a BOM', async () => {
    const text = '\ufeffid,name\r\n1,é\r\n2,"b\r\nc"\r\n';
    const { records, rejects } = await readAll(memory(text, 2), { format: csv() });
    expect(rejects).toEqual([]);
    expect(records).toEqual([
      { line: 2, offset: byteOffset(text, '1,'), raw: '1,é', values: { id: '1', name: 'é' } },
      { line: 3, offset: byteOffset(text, '2,'), raw: '2,"b\r\nc"', values: { id: '2', name: 'b\r\nc' } },
    ]);
  });

  it('reads a last record without a trailing newline', async () => {
    const { records } = await readAll(memory('a\n1\n2'), { format: csv() });
    expect(records.map((r) => r.raw)).toEqual(['1', '2']);
    const quoted = await readAll(memory('a,b\n1,"x\ny"'), { format: csv() });
    expect(quoted.records.map((r) => r.values)).toEqual([{ a: '1', b: 'x\ny' }]);
  });

  it('counts blank lines as skipped, but not blank lines before the header', async () => {
    const text = '\n\r\na,b\n1,2\n\n\r\n3,4\n\n';
    const { records, skipped, rejects } = await readAll(memory(text), { format: csv() });
    expect(rejects).toEqual([]);
    expect(records.map((r) => [r.line, r.values])).toEqual([
      [4, { a: '1', b: '2' }],
      [7, { a: '3', b: '4' }],
    ]);
    expect(skipped).toBe(3);
  });

  it('skips blank lines even with a single column; a quoted empty value is a record', async () => {
    const { records, skipped } = await readAll(memory('v\nx\n\n""\n'), { format: csv() });
    expect(records.map((r) => r.values)).toEqual([{ v: 'x' }, { v: '' }]);
    expect(skipped).toBe(1);
  });

  it('rejects each malformed record with its line, offset and reason, and reads on', async () => {
    const text = [
      'a,b',
      '1,2',
      '3,x"y', // stray quote
      '"p"q,4', // character after the closing quote
      '5,6,7', // too many columns
      '8', // too few
      '"9","10"',
      '',
    ].join('\n');
    const { records, rejects } = await readAll(memory(text), { format: csv({ multiline: false }) });
    expect(records.map((r) => [r.line, r.values])).toEqual([
      [2, { a: '1', b: '2' }],
      [7, { a: '9', b: '10' }],
    ]);
    expect(rejects).toEqual([
      {
        line: 3,
        offset: byteOffset(text, '3,x'),
        reason: 'quote in unquoted field at column 2',
        raw: '3,x"y',
      },
      {
        line: 4,
        offset: byteOffset(text, '"p"'),
        reason: 'unexpected character after closing quote at column 1',
        raw: '"p"q,4',
      },
      { line: 5, offset: byteOffset(text, '5,6'), reason: 'expected 2 columns, found 3', raw: '5,6,7' },
      { line: 6, offset: byteOffset(text, '8\n'), reason: 'expected 2 columns, found 1', raw: '8' },
    ]);
  });

  it('rejects an unterminated quoted field: per line without multiline, at the end with it', async () => {
    const single = await readAll(memory('a,b\n1,"open\n2,3\n'), { format: csv({ multiline: false }) });
    expect(single.rejects).toEqual([
      { line: 2, offset: 4, reason: 'unterminated quoted field', raw: '1,"open' },
    ]);
    expect(single.records.map((r) => r.values)).toEqual([{ a: '2', b: '3' }]);

    // Multiline: the open quote swallows the rest of the file; framing restarts after its line.
    const multi = await readAll(memory('a,b\n0,1\n1,"open\n2,3'), { format: csv() });
    expect(multi.rejects).toEqual([
      { line: 3, offset: 8, reason: 'unterminated quoted field', raw: '1,"open' },
    ]);
    expect(multi.records.map((r) => [r.line, r.values])).toEqual([
      [2, { a: '0', b: '1' }],
      [4, { a: '2', b: '3' }],
    ]);
  });

  it('multiline: a stray quote costs only its own line', async () => {
    const text = 'name,size\nTV,55" screen\nradio,small\nlamp,"big"\n';
    const { records, rejects } = await readAll(memory(text), { format: csv() });
    expect(rejects).toEqual([
      { line: 2, offset: 10, reason: 'quote in unquoted field at column 2', raw: 'TV,55" screen' },
    ]);
    expect(records.map((r) => [r.line, r.values])).toEqual([
      [3, { name: 'radio', size: 'small' }],
      [4, { name: 'lamp', size: 'big' }],
    ]);
  });

  it('rejects a record with invalid UTF-8 and only that record', async () => {
    const bytes = Buffer.concat([Buffer.from('a,b\n1,é\n2,'), Buffer.from([0xff]), Buffer.from('x\n3,ü\n')]);
    for (const chunkSize of [1, 7, 1000]) {
      const { records, rejects } = await readAll(memory(bytes, chunkSize), { format: csv() });
      expect(records.map((r) => r.values)).toEqual([
        { a: '1', b: 'é' },
        { a: '3', b: 'ü' },
      ]);
      expect(rejects).toEqual([{ line: 3, offset: 9, reason: 'invalid UTF-8', raw: '2,\ufffdx' }]);
    }
  });

  it('rejects a record longer than maxRecordBytes and reads the next ones', async () => {
    const long = `x,${'y'.repeat(100)}`;
    const text = `a,b\n1,2\n${long}\n3,4\n`;
    for (const chunkSize of [3, 7, 1000]) {
      for (const multiline of [true, false]) {
        const { records, rejects } = await readAll(memory(text, chunkSize), {
          format: csv({ multiline }),
          maxRecordBytes: 50,
        });
        expect(records.map((r) => [r.line, r.values])).toEqual([
          [2, { a: '1', b: '2' }],
          [4, { a: '3', b: '4' }],
        ]);
        expect(rejects).toEqual([
          { line: 3, offset: 8, reason: 'record longer than 50 bytes', raw: long.slice(0, 51) },
        ]);
      }
    }
  });

  it('skips an over-long quoted field as a whole, keeping line numbers', async () => {
    const big = `"${'line\n'.repeat(40)}end"`;
    const text = `a,b\n1,${big}\n2,3\n`;
    const { records, rejects } = await readAll(memory(text, 5), { format: csv(), maxRecordBytes: 64 });
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ line: 2, offset: 4, reason: 'record longer than 64 bytes' });
    expect(records.map((r) => [r.line, r.values])).toEqual([[43, { a: '2', b: '3' }]]);
  });

  it('cuts the raw text of a reject to 200 bytes without splitting a character', async () => {
    const wide = 'é'.repeat(150); // 300 bytes
    const { rejects } = await readAll(memory(`a,b\n${wide}\n`), { format: csv() });
    expect(rejects[0]?.reason).toBe('expected 2 columns, found 1');
    expect(rejects[0]?.raw).toBe('é'.repeat(100));
  });

  it('decodes multi-byte characters split across chunks', async () => {
    const text = 'k,v\n😀,ünïcödé\n"日本",語\n';
    const { records } = await readAll(memory(text, 1), { format: csv() });
    expect(records.map((r) => r.values)).toEqual([
      { k: '😀', v: 'ünïcödé' },
      { k: '日本', v: '語' },
    ]);
  });

  it('throws a ConfigError for a header it cannot use', async () => {
    await expect(readAll(memory('a,a\n1,2\n'), { format: csv() })).rejects.toThrow(ConfigError);
    await expect(readAll(memory('a,"b\n'), { format: csv({ multiline: false }) })).rejects.toThrow(
      /header \(line 1\): unterminated quoted field/,
    );
    await expect(
      readAll(memory(`${'h'.repeat(100)}\n1\n`), { format: csv(), maxRecordBytes: 10 }),
    ).rejects.toThrow(/record longer than 10 bytes/);
  });

  it('returns nothing for an empty or blank file', async () => {
    for (const text of ['', '\n\n', '\ufeff', 'a,b\n']) {
      const { records, rejects } = await readAll(memory(text), { format: csv() });
      expect(records).toEqual([]);
      expect(rejects).toEqual([]);
    }
  });

  it('validates options, rejecting unknown keys', async () => {
    const bad = [
      { format: csv(), strat: 1 },
      { format: csv({ delimiter: ',,' }) },
      { format: csv({ quote: '«' }) },
      { format: csv({ delimiter: '"' }) },
      { format: csv({ columns: ['a', 'a'] }) },
      { format: csv(), start: -1 },
      { format: csv(), start: 5, end: 2 },
      { format: csv(), maxRecordBytes: 0 },
      { format: { type: 'xml' } },
    ];
    for (const options of bad) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- deliberately invalid options
      await expect(readAll(memory('a\n1\n'), options as any)).rejects.toThrow(ConfigError);
    }
  });
});
