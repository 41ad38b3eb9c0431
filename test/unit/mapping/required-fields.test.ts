import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { missingFields, requiredFields } from '../../../shared/mapping/index.js';

const csv = { type: 'csv' } as const;
const header = ['id', 'name', 'score'];
const where = 'the header of users.csv';

describe('missingFields', () => {
  it('names the key template field the header lacks, and the header it saw', () => {
    const spec = parseImportSpec({
      format: csv,
      key: 'user:{uid}',
      model: { type: 'string', value: 'score' },
    });
    expect(missingFields(spec, header, where)).toEqual([
      "key template 'user:{uid}' needs field 'uid', but the header of users.csv has: id, name, score",
    ]);
  });

  it('checks the value fields of the string and bucketed models and the listed hash fields', () => {
    const many = parseImportSpec({
      format: csv,
      key: 'order:{shop}:{id}',
      model: { type: 'string', value: ['name', 'scor'] },
    });
    expect(missingFields(many, header, '--columns')).toEqual([
      "key template 'order:{shop}:{id}' needs field 'shop', but --columns has: id, name, score",
      "model.value needs field 'scor', but --columns has: id, name, score",
    ]);
    const bucketed = parseImportSpec({ format: csv, key: 'u:{id}', model: { type: 'bucketed', value: 'v' } });
    expect(missingFields(bucketed, header, where)).toEqual([
      "model.value needs field 'v', but the header of users.csv has: id, name, score",
    ]);
    const hash = parseImportSpec({
      format: csv,
      key: 'u:{id}',
      model: { type: 'hash', fields: ['name', 'email'] },
    });
    expect(missingFields(hash, header, where)).toEqual([
      "model.fields needs field 'email', but the header of users.csv has: id, name, score",
    ]);
  });

  it('is empty when every needed field is there; a hash without fields needs only its key', () => {
    const spec = parseImportSpec({
      format: csv,
      key: 'u:{id}:{name}',
      model: { type: 'string', value: 'score' },
    });
    expect(missingFields(spec, header, where)).toEqual([]);
    const hash = parseImportSpec({ format: csv, key: 'u:{id}', model: { type: 'hash' } });
    expect(requiredFields(hash)).toEqual([{ field: 'id', by: "key template 'u:{id}'" }]);
    expect(missingFields(hash, header, where)).toEqual([]);
  });

  it('names a field used twice by the template once', () => {
    const spec = parseImportSpec({ format: csv, key: '{uid}:{uid}', model: { type: 'hash' } });
    expect(missingFields(spec, header, where)).toHaveLength(1);
  });
});
