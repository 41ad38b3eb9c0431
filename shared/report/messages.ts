import { formatCount, formatNumber, plural, truncate } from './format.js';
import { markup, type SafeHtml } from './html.js';
import { note, REPORT_LIMITS, type RenderContext, section } from './layout.js';

/** Commands per 100 keys and cluster redirects: how much Redis traffic the load cost. */
export function trafficSection({ timeline }: RenderContext): SafeHtml {
  const per100 = timeline.commandsPer100Keys;
  const lines: SafeHtml[] = [];
  if (typeof per100 === 'number' && Number.isFinite(per100))
    lines.push(
      markup`<p class="lead"><strong>${formatNumber(per100, 1)} commands per 100 keys</strong> written <span class="muted">(100 = one command per key; SET plus EXPIRE per key makes 200; grouped bucket writes go below 100)</span>.</p>`,
    );
  else lines.push(note('Commands per 100 keys were not recorded.'));
  const redirects = timeline.redirects;
  if (redirects) {
    const moved = redirects.moved + redirects.ask > 0 ? ' (slots moved during the load)' : '';
    lines.push(
      markup`<p>Cluster redirects followed: <strong>${formatCount(redirects.moved)}</strong> MOVED, <strong>${formatCount(redirects.ask)}</strong> ASK${moved}.</p>`,
    );
  }
  return section('traffic', 'Redis commands', lines);
}

/** `N more errors not listed.` when a list was cut. */
function cut(total: number, shown: number, what: string): SafeHtml | '' {
  return total > shown ? note(`${plural(total - shown, `more ${what}`)} not listed.`) : '';
}

/** The errors (with their chunk) and the notes of the report. */
export function messagesSection({ report }: RenderContext): SafeHtml {
  const errors = report.errors ?? [];
  const notes = report.notes ?? [];
  const max = REPORT_LIMITS.listItems;
  const errorRows = errors.slice(0, max).map((e) => {
    const chunk = typeof e.chunk === 'number' ? formatCount(e.chunk) : '–';
    const message = truncate(String(e.message), REPORT_LIMITS.textChars);
    return markup`<tr><td><code>${String(e.name)}</code></td><td>${chunk}</td><td class="message">${message}</td></tr>`;
  });
  const errorsHtml =
    errors.length === 0
      ? note('No errors.')
      : markup`<table class="numbers wide errors"><thead><tr><th>error</th><th>chunk</th><th>message</th></tr></thead><tbody>
${errorRows}
</tbody></table>${cut(errors.length, max, 'error')}`;
  const noteItems = notes
    .slice(0, max)
    .map((n) => markup`<li>${truncate(String(n), REPORT_LIMITS.textChars)}</li>`);
  const notesHtml =
    notes.length === 0
      ? note('No notes.')
      : markup`<ul class="notes">${noteItems}</ul>${cut(notes.length, max, 'note')}`;
  const count = (n: number) => (n > 0 ? ` (${formatCount(n)})` : '');
  return section(
    'messages',
    'Errors and notes',
    markup`<h3>Errors${count(errors.length)}</h3>
${errorsHtml}
<h3>Notes${count(notes.length)}</h3>
${notesHtml}`,
  );
}
