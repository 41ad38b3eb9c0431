import type { DecodeFailure, RecordDecoder } from './decoder.js';

/** The record was valid JSON but not an object. */
const NOT_AN_OBJECT: DecodeFailure = { reason: 'JSON line is not an object', index: -1 };

/** Decodes JSON Lines records: each line must be a JSON object (not an array, string, number or null). */
export class JsonlDecoder implements RecordDecoder {
  readonly needsHeader = false;
  failure: DecodeFailure | null = null;

  decode(raw: string): Record<string, unknown> | undefined {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      this.failure = { reason: `bad JSON: ${err instanceof Error ? err.message : String(err)}`, index: -1 };
      return undefined;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.failure = NOT_AN_OBJECT;
      return undefined;
    }
    return value as Record<string, unknown>;
  }
}
