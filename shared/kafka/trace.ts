import type { KafkaMessage } from './types.js';

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}/;

/** Whitespace `String.prototype.trim` would remove at either end (checked first: trimming allocates). */
const PADDED = /^\s|\s$/;

/**
 * The trace id of a record: from a W3C `traceparent` header its trace-id part, from any other configured
 * header its whole text (cut to 128 characters). `undefined` when the record has no such header. Runs once
 * per record: no match arrays, no copies unless the text is padded.
 *
 * @example
 * traceIdOf(message, 'traceparent') // '4bf92f3577b34da6a3ce929d0e0e4736'
 */
export function traceIdOf(message: KafkaMessage, header: string): string | undefined {
  for (const h of message.headers) {
    if (h.key !== header && h.key.toLowerCase() !== header.toLowerCase()) continue;
    let text = h.value.toString('utf8');
    if (PADDED.test(text)) text = text.trim();
    if (text.length === 0) continue;
    return TRACEPARENT.test(text) ? text.slice(3, 35) : text.slice(0, 128);
  }
  return undefined;
}
