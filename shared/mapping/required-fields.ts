import type { ImportSpec } from '../config/index.js';
import { compileTemplate } from './template.js';

/** A field a spec reads from every record, and which setting reads it. */
export interface RequiredField {
  readonly field: string;
  /** The setting that needs it, as a user names it: `key template 'user:{id}'`, `model.value`, `model.fields`. */
  readonly by: string;
}

/**
 * The fields every record must have for the spec's key template and model: the template's placeholders, the
 * value field(s) of the string and bucketed models, the listed `fields` of the hash model (a hash model
 * without `fields` writes whatever the record has, and needs nothing more than its key).
 */
export function requiredFields(spec: ImportSpec): RequiredField[] {
  const template = `key template '${spec.key}'`;
  const needs: RequiredField[] = compileTemplate(spec.key).fields.map((field) => ({ field, by: template }));
  const model = spec.model;
  if (model.type === 'hash') {
    for (const field of model.fields ?? []) needs.push({ field, by: 'model.fields' });
  } else {
    const values = typeof model.value === 'string' ? [model.value] : model.value;
    for (const field of values) needs.push({ field, by: 'model.value' });
  }
  return needs;
}

/**
 * What is wrong with loading records of `columns` with `spec`: one problem per field the key template, the
 * value or the hash fields need that `columns` lacks (`where` names the columns' origin, e.g. `the header of
 * users.csv` or `--columns`). Empty when every needed field is there. Pure: run it before the first write, so
 * a misnamed field is one clear error instead of every record rejected.
 *
 * @example
 * missingFields(spec, ['id', 'name', 'score'], 'the header of users.csv');
 * // ["key template 'user:{uid}' needs field 'uid', but the header of users.csv has: id, name, score"]
 */
export function missingFields(spec: ImportSpec, columns: readonly string[], where: string): string[] {
  const have = new Set(columns);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { field, by } of requiredFields(spec)) {
    if (have.has(field) || seen.has(`${by}\0${field}`)) continue;
    seen.add(`${by}\0${field}`);
    problems.push(`${by} needs field '${field}', but ${where} has: ${columns.join(', ')}`);
  }
  return problems;
}
