import { describe, expect, it } from 'vitest';
import { parseImportSpec } from '../../../shared/config/index.js';
import { ConfigError } from '../../../shared/errors/index.js';

const base = { format: { type: 'csv' }, key: 'user:{id}', model: { type: 'string', value: 'v' } } as const;

function problem(dataset: unknown): string {
  try {
    parseImportSpec({ ...base, dataset }, 'spec file users.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the spec was accepted');
}

describe('import spec: dataset', () => {
  it('fills the documented defaults', () => {
    const spec = parseImportSpec({ ...base, dataset: { name: 'app:users' } });
    expect(spec.dataset).toEqual({ name: 'app:users', keep: 2, allowPartial: false, graceSeconds: 60 });
    expect(parseImportSpec(base).dataset).toBeUndefined();
  });

  it('refuses a name with spaces, naming the path', () => {
    expect(problem({ name: 'my users' })).toMatch(
      /^spec file users\.json is invalid: dataset\.name: a dataset name is letters, digits.*" " is not allowed/,
    );
  });

  it('refuses braces: they would pin the whole dataset to one cluster slot', () => {
    expect(problem({ name: 'users{a}' })).toMatch(
      /dataset\.name: .*"\{" is not allowed \(a brace would make a Redis Cluster hash tag/,
    );
  });

  it('refuses glob characters, empty parts and parts that read as a version', () => {
    expect(problem({ name: 'users*' })).toMatch(/dataset\.name: .*"\*" is not allowed/);
    expect(problem({ name: 'users:' })).toMatch(/dataset\.name: a dataset name has no empty parts/);
    expect(problem({ name: 'a::b' })).toMatch(/dataset\.name: a dataset name has no empty parts/);
    expect(problem({ name: 'users:v2' })).toMatch(
      /dataset\.name: no part of a dataset name may look like a version \("v2"\)/,
    );
    expect(problem({ name: '' })).toMatch(/dataset\.name: a dataset name cannot be empty/);
  });

  it('refuses keep below 1, unknown keys and a reject share without allowPartial', () => {
    expect(problem({ name: 'users', keep: 0 })).toMatch(
      /dataset\.keep: expected a number >= 1, got the number 0/,
    );
    expect(problem({ name: 'users', keeps: 2 })).toMatch(/dataset\.keeps: unknown key; did you mean keep\?/);
    expect(problem({ name: 'users', graceSeconds: -1 })).toMatch(/dataset\.graceSeconds: /);
    expect(problem({ name: 'users', maxRejectedFraction: 0.1 })).toMatch(
      /dataset\.maxRejectedFraction: applies only with dataset\.allowPartial: true/,
    );
    expect(
      parseImportSpec({ ...base, dataset: { name: 'users', allowPartial: true, maxRejectedFraction: 0.1 } })
        .dataset,
    ).toMatchObject({ allowPartial: true, maxRejectedFraction: 0.1 });
  });
});
