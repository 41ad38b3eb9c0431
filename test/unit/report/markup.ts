/** The elements the report is made of; anything else in its markup came from data. */
// prettier-ignore
export const REPORT_ELEMENTS = new Set([
  'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'header', 'footer', 'section', 'figure', 'figcaption',
  'h1', 'h2', 'h3', 'p', 'div', 'span', 'strong', 'code', 'pre', 'br', 'i', 'dl', 'dt', 'dd', 'ul', 'li',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'svg', 'g', 'line', 'polyline', 'path', 'rect', 'circle', 'text',
]);

/** One tag of a document: its name (`/name` when closing) and its attribute names. */
export interface Tag {
  readonly name: string;
  readonly attributes: readonly string[];
}

const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][a-zA-Z0-9_:.-]*(?:="[^"]*")?)*)\s*\/?>/y;
const ATTRIBUTE = /\s+([a-zA-Z_:][a-zA-Z0-9_:.-]*)/g;
const DOCTYPE = /<!doctype html>/iy;

/**
 * Every tag of `markup`, in order, where every `<` must open a tag written in the strict form the renderer
 * writes (and Chromium serializes): double-quoted attribute values, text `<` escaped. Throws at a `<` that does
 * not, with the text around it: that `<` came from data.
 */
export function tagsOf(markup: string): Tag[] {
  const tags: Tag[] = [];
  for (let at = markup.indexOf('<'); at !== -1; at = markup.indexOf('<', at + 1)) {
    DOCTYPE.lastIndex = at;
    if (DOCTYPE.test(markup)) continue;
    TAG.lastIndex = at;
    const m = TAG.exec(markup);
    if (!m)
      throw new Error(
        `a "<" that opens no well-formed tag: …${markup.slice(Math.max(0, at - 40), at + 60)}…`,
      );
    const attrs = (m[3] ?? '').replace(/="[^"]*"/g, '');
    tags.push({
      name: `${m[1]}${m[2]!.toLowerCase()}`,
      attributes: [...attrs.matchAll(ATTRIBUTE)].map((a) => a[1]!),
    });
  }
  return tags;
}

/** The problems in a document's tags: foreign elements and event-handler attributes. */
export function foreignMarkup(markup: string): string[] {
  const problems: string[] = [];
  for (const t of tagsOf(markup)) {
    const name = t.name.replace(/^\//, '');
    if (!REPORT_ELEMENTS.has(name)) problems.push(`element <${name}>`);
    for (const a of t.attributes) if (/^on/i.test(a)) problems.push(`attribute ${a} on <${name}>`);
  }
  return problems;
}
