import type { KafkaMessage } from './types.js';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;

/**
 * The trace id of a record: from a W3C `traceparent` header its trace-id part, from any other configured
 * header its whole text (cut to 128 characters). `undefined` when the record has no such header.
 *
 * @example
 * traceIdOf(message, 'traceparent') // '4bf92f3577b34da6a3ce929d0e0e4736'
 */
export function traceIdOf(message: KafkaMessage, header: string): string | undefined {
  const wanted = header.toLowerCase();
  for (const h of message.headers) {
    if (h.key.toLowerCase() !== wanted) continue;
    const text = h.value.toString('utf8').trim();
    if (text.length === 0) continue;
    const w3c = TRACEPARENT.exec(text);
    return w3c ? w3c[1] : text.slice(0, 128);
  }
  return undefined;
}
