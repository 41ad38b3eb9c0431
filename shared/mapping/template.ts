import { ConfigError } from '../errors/index.js';

/** A compiled key template such as `user:{id}`. */
export interface KeyTemplate {
  readonly source: string;
  /** Field names the template reads, in order. */
  readonly fields: readonly string[];
  /** Literal text before the first placeholder (`user:` for `user:{id}`). */
  readonly literalPrefix: string;
  /**
   * The one field of a template that is its literal prefix followed by that field and nothing else
   * (`id` for `user:{id}`): the key is then `literalPrefix + keyPart(values, suffixField)`.
   */
  readonly suffixField?: string;
  /**
   * Renders the key, or returns a {@link RenderFailure} when a field is missing, null, empty or not a scalar
   * (returning instead of throwing keeps the per-record hot path cheap).
   */
  render(values: Record<string, unknown>): string | RenderFailure;
}

/** Why a template could not be rendered for a record. */
export interface RenderFailure {
  readonly reason: string;
}

/** Turns a scalar field value into the text stored in Redis; objects and arrays become JSON. */
export function valueToString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

/**
 * The text one key field contributes to a key, or why it cannot (missing, null, empty, not a scalar): what
 * {@link KeyTemplate.render} puts in place of `{field}`.
 */
export function keyPart(values: Record<string, unknown>, field: string): string | RenderFailure {
  const v = values[field];
  if (typeof v === 'string') return v.length > 0 ? v : { reason: `key field '${field}' is empty` };
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return { reason: `missing key field '${field}'` };
  return { reason: `key field '${field}' is not a scalar` };
}

/**
 * Compiles `text` (literal text with `{field}` placeholders; `{{` and `}}` are literal braces).
 *
 * @example
 * compileTemplate('user:{id}').render({ id: '7' }) // 'user:7'
 */
export function compileTemplate(text: string): KeyTemplate {
  const literals: string[] = [];
  const fields: string[] = [];
  let lit = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' && text[i + 1] === '{') {
      lit += '{';
      i++;
    } else if (c === '}' && text[i + 1] === '}') {
      lit += '}';
      i++;
    } else if (c === '{') {
      const close = text.indexOf('}', i);
      if (close === -1) throw new ConfigError(`key template "${text}": unclosed "{" at position ${i}`);
      const name = text.slice(i + 1, close).trim();
      if (name.length === 0) throw new ConfigError(`key template "${text}": empty {} placeholder`);
      literals.push(lit);
      fields.push(name);
      lit = '';
      i = close;
    } else if (c === '}') {
      throw new ConfigError(
        `key template "${text}": unmatched "}" at position ${i} (write "}}" for a literal brace)`,
      );
    } else {
      lit += c;
    }
  }
  literals.push(lit);
  if (fields.length === 0) throw new ConfigError(`key template "${text}" has no {field} placeholder`);

  const prefix = literals[0]!;
  let render: KeyTemplate['render'];
  if (fields.length === 1) {
    // The common case (`user:{id}`) gets a closure without loops.
    const f = fields[0]!;
    const suffix = literals[1]!;
    render = (values) => {
      const v = keyPart(values, f);
      return typeof v === 'string' ? prefix + v + suffix : v;
    };
  } else {
    render = (values) => {
      let out = prefix;
      for (let k = 0; k < fields.length; k++) {
        const v = keyPart(values, fields[k]!);
        if (typeof v !== 'string') return v;
        out += v + literals[k + 1]!;
      }
      return out;
    };
  }
  const suffixField = fields.length === 1 && literals[1] === '' ? fields[0] : undefined;
  return { source: text, fields, literalPrefix: prefix, render, ...(suffixField ? { suffixField } : {}) };
}
