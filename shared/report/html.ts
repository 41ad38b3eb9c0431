/**
 * Markup built only through the {@link markup} tag: every interpolated string is escaped, so report data (object
 * keys, reasons, raw records, error messages) can never become a tag or an attribute. Only fragments the tag
 * itself produced pass through unescaped.
 *
 * (The tag is not called `html` on purpose: Prettier reformats `html`-tagged templates as embedded HTML, which
 * would change the page's whitespace, and so its text, whenever the code is formatted.)
 */

/** A fragment of markup built by {@link markup} (never from a plain string). */
export class SafeHtml {
  /** @internal Use {@link markup}; the constructor is not for report data. */
  constructor(readonly html: string) {}

  toString(): string {
    return this.html;
  }
}

/** What may be interpolated: fragments pass through, strings are escaped, nothing else is rendered. */
export type MarkupValue = SafeHtml | string | number | null | undefined | false | readonly MarkupValue[];

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML text and double- or single-quoted attribute values (SVG inline included). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(value: MarkupValue): string {
  if (value instanceof SafeHtml) return value.html;
  if (typeof value === 'string') return escapeHtml(value);
  // Numbers carry no markup, but NaN or Infinity in a coordinate would break a chart silently: draw 0.
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '0';
  if (Array.isArray(value)) return (value as readonly MarkupValue[]).map(render).join('');
  return '';
}

/**
 * Builds markup from a template: the literal parts are trusted, every value is escaped unless it is itself a
 * {@link SafeHtml}. Attribute values in templates are always double-quoted.
 *
 * @example
 * markup`<td title="${reason}">${count}</td>` // reason `"><script>` stays text
 */
export function markup(strings: TemplateStringsArray, ...values: MarkupValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Joins fragments (or escaped strings) with an optional literal separator. */
export function joinMarkup(values: readonly MarkupValue[], separator = ''): SafeHtml {
  return new SafeHtml(values.map(render).join(separator));
}
