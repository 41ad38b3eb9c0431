import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;
type Path = readonly PropertyKey[];

/** Levenshtein distance between `a` and `b` (insert, delete, substitute: 1 each). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `word` — ignoring case, at most a third of the word's letters away (at least one;
 * words shorter than three letters only match ignoring case) — or undefined when none is that close. Ties go
 * to the earlier candidate.
 *
 * @example
 * closestMatch('valu', ['type', 'value']); // 'value'
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length < 3 ? 0 : Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** What a value is, in words: `the string "86400"`, `the number 0`, `an object`, `nothing`. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const TYPE_WORDS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
};

function typeWords(expected: string): string {
  return TYPE_WORDS[expected] ?? `a ${expected}`;
}

function literal(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function oneOf(values: readonly unknown[]): string {
  return values.length === 1 ? literal(values[0]) : `one of ${values.map(literal).join(', ')}`;
}

function got(input: unknown, expected: string): string {
  return input === undefined
    ? `required (expected ${expected})`
    : `expected ${expected}, got ${describe(input)}`;
}

/** A did-you-mean for a mistyped string among `values`, e.g. `; did you mean string?`. */
function suggestion(input: unknown, values: readonly unknown[]): string {
  if (typeof input !== 'string') return '';
  const near = closestMatch(
    input,
    values.filter((v): v is string => typeof v === 'string'),
  );
  return near === undefined ? '' : `; did you mean ${near}?`;
}

function bound(issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, min: boolean): string {
  const limit = String(min ? issue.minimum : issue.maximum);
  return `${min ? '>' : '<'}${issue.inclusive ? '=' : ''} ${limit}`;
}

/** The allowed keys of the strict object that raised an `unrecognized_keys` issue. */
function allowedKeys(issue: RawIssue): string[] {
  const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod
    ?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

/** The unknown-key messages, one line per key: `valu: unknown key; did you mean value?`. */
function unknownKeys(keys: readonly string[], allowed: readonly string[]): string {
  return keys
    .map((key) => {
      const near = closestMatch(key, allowed);
      if (near !== undefined) return `${key}: unknown key; did you mean ${near}?`;
      return `${key}: unknown key${allowed.length > 0 ? `; expected one of ${allowed.join(', ')}` : ''}`;
    })
    .join('\n');
}

/** A union issue every branch of which failed on the value's own type (no branch got further in). */
function shallowUnion(issue: { errors: Issue[][] }): boolean {
  return (
    issue.errors.length > 0 &&
    issue.errors.every((branch) =>
      branch.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')),
    )
  );
}

function unionAlternatives(issue: { errors: Issue[][] }): string {
  const words = issue.errors.flat().map((i) => {
    if (i.code === 'invalid_type') return typeWords(i.expected);
    if (i.code === 'invalid_value') return i.values.map(literal).join(' or ');
    return i.message;
  });
  return [...new Set(words)].join(' or ');
}

/**
 * A zod error map for specs and configuration: each message names the expected type and what was given
 * (`expected a number, got the string "86400"`), ranges say their bound, and an unknown key suggests the
 * closest allowed key of its object. Messages a schema sets itself win over these. Pass it to `safeParse`
 * (`schema.safeParse(input, { error: specErrorMap })`) and format the issues with {@link formatZodError}.
 */
export const specErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return got(issue.input, typeWords(issue.expected));
    case 'invalid_value':
      return `${got(issue.input, oneOf(issue.values))}${suggestion(issue.input, issue.values)}`;
    case 'too_small':
    case 'too_big': {
      const min = issue.code === 'too_small';
      const size = min ? issue.minimum : issue.maximum;
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return `expected a number ${bound(issue, min)}, got ${describe(issue.input)}`;
      }
      const unit = issue.origin === 'string' ? 'characters' : 'items';
      return `expected ${min ? 'at least' : 'at most'} ${String(size)} ${unit}`;
    }
    case 'unrecognized_keys':
      return unknownKeys(issue.keys, allowedKeys(issue));
    case 'invalid_union': {
      if ('note' in issue && issue.note === 'No matching discriminator') {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const key = (issue as { discriminator?: string }).discriminator ?? 'type';
        const input = (issue.input as Record<string, unknown> | undefined)?.[key];
        return `${got(input, oneOf(options))}${suggestion(input, options)}`;
      }
      if ('errors' in issue && shallowUnion(issue)) return got(issue.input, unionAlternatives(issue));
      return undefined;
    }
    default:
      return undefined;
  }
};

/** `model.value`, `format.columns[1]`; the root is `(spec)`. */
function pathText(path: Path): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(spec)' : text;
}

/** One `path: message` line per problem, unions opened up to the branch that got furthest. */
function lines(issue: Issue, prefix: Path): string[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const messages = issue.message.split('\n');
    return issue.keys.map((key, i) => {
      const own = messages[i]?.startsWith(`${key}: `) ? messages[i].slice(key.length + 2) : 'unknown key';
      return `${pathText([...path, key])}: ${own}`;
    });
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0 && !shallowUnion(issue)) {
    // The branch that failed deepest is the one the user meant (an object for `ttl`, not `false`).
    const deep = issue.errors.filter(
      (branch) => !branch.every((i) => i.path.length === 0 && i.code === 'invalid_type'),
    );
    const branch = deep.filter((b) => !b.every((i) => i.code === 'invalid_value' && i.path.length === 0));
    const chosen = (branch.length > 0 ? branch : deep).reduce((a, b) => (b.length < a.length ? b : a));
    return chosen.flatMap((i) => lines(i, path));
  }
  return [`${pathText(path)}: ${issue.message}`];
}

/**
 * Every problem of a zod error on one line, `path: message` joined by `; `, so a user sees every mistake at
 * once. With {@link specErrorMap} the messages name the expected type and what was given, and unknown keys
 * get a did-you-mean.
 *
 * @example
 * formatZodError(error); // 'ttl.seconds: expected a number, got the string "86400"; model.valu: unknown key; did you mean value?'
 */
export function formatZodError(error: z.ZodError): string {
  return error.issues.flatMap((issue) => lines(issue, [])).join('; ');
}
