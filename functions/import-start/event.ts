import { z } from 'zod';
import type { StartRequest } from '../../shared/import/index.js';

/** One record of an S3 event notification (`ObjectCreated:*`). Keys arrive URL-encoded, spaces as `+`. */
const s3Record = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string().startsWith('ObjectCreated:', 'only ObjectCreated events start imports'),
  eventTime: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1), eTag: z.string().optional() }),
  }),
  /**
   * Not sent by S3: `redis-bulk-loader trigger --force-new` adds it to ask for a new execution of an object
   * version that was imported before (the run token becomes part of the import id).
   */
  trigger: z
    .strictObject({ run: z.string().regex(/^[a-z0-9]{1,12}$/, 'expected 1-12 of [a-z0-9]') })
    .optional(),
});

/** An S3 notification: one or more records. */
const notification = z.object({ Records: z.array(s3Record).min(1) });

/** The EventBridge form: `detail-type: Object Created` from `aws.s3`; keys are not encoded. */
const eventBridge = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  time: z.string(),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1), etag: z.string().optional() }),
  }),
});

type Notification = z.output<typeof notification>;
type EventBridgeEvent = z.output<typeof eventBridge>;

/** What import-start accepts: an S3 notification or an EventBridge "Object Created" event. */
export type S3CreatedEvent = Notification | EventBridgeEvent;

/** A value as a message names it: `null`, `an array`, `a string`, … */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/** One zod issue as a user reads it: `required` for a missing field, else what was expected and what came. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    return 'required';
  }
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'object' || issue.expected === 'array' ? 'an ' : 'a ';
    return `expected ${expected}${issue.expected}, got ${describeValue(issue.input)}`;
  }
  if (issue.code === 'invalid_value') {
    return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${JSON.stringify(issue.input)}`;
  }
  if (issue.code === 'too_small' && issue.origin === 'string' && Number(issue.minimum) === 1) {
    return 'must not be empty';
  }
  if (issue.code === 'too_small' && issue.origin === 'array') {
    return `needs at least ${issue.minimum} entr${Number(issue.minimum) === 1 ? 'y' : 'ies'}`;
  }
  return issue.message;
}

/** `['Records', 0, 's3']` as `['event', 'Records[0]', 's3']`: joined with dots, the path reads as code. */
function eventPath(path: readonly PropertyKey[]): string[] {
  const out = ['event'];
  for (const part of path) {
    if (typeof part === 'number') out[out.length - 1] += `[${part}]`;
    else out.push(String(part));
  }
  return out;
}

/**
 * The event, checked against the one form it claims to be (an EventBridge event says so with `source`,
 * `detail-type` or `detail`; anything else is read as a notification). A union would report only "invalid
 * input" for `{}`; this names the field and what was wrong with it: `event.Records: required`,
 * `event: expected an object, got null`, `event.Records[0].s3.object.key: must not be empty`.
 */
export const s3EventSchema = z.unknown().transform((input, ctx): S3CreatedEvent => {
  const isEventBridge =
    input !== null &&
    typeof input === 'object' &&
    !('Records' in input) &&
    ('source' in input || 'detail-type' in input || 'detail' in input);
  const result = (isEventBridge ? eventBridge : notification).safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    ctx.addIssue({ code: 'custom', path: eventPath(issue.path), message: issueMessage(issue) });
  }
  return z.NEVER;
});

/** Where a key's %-encoding breaks: a `%` without two hex digits, or escapes that are not UTF-8. */
function encodingProblem(encoded: string): string {
  const bad = /%(?![0-9A-Fa-f]{2})/.exec(encoded);
  if (bad) {
    const escape = encoded.slice(bad.index, bad.index + 3);
    return `a malformed %-escape "${escape}" at character ${bad.index + 1}`;
  }
  return '%-escapes that are not UTF-8';
}

/**
 * A key of an S3 notification, decoded (S3 URL-encodes keys, with `+` for a space), or why it cannot be:
 * then the record alone is refused, not the whole event.
 */
export function decodeS3Key(encoded: string): { key: string } | { invalid: string } {
  const plus = encoded.replace(/\+/g, ' ');
  try {
    return { key: decodeURIComponent(plus) };
  } catch {
    return {
      invalid:
        `the event's object key has ${encodingProblem(encoded)}; S3 notifications URL-encode keys ` +
        '(a space as +), so this record names no object',
    };
  }
}

/** The objects an event names, keys decoded; a record whose key cannot be decoded carries `invalid`. */
export function requestsOf(event: S3CreatedEvent): StartRequest[] {
  if ('Records' in event) {
    return event.Records.map((r) => {
      const decoded = decodeS3Key(r.s3.object.key);
      return {
        bucket: r.s3.bucket.name,
        ...('key' in decoded ? { key: decoded.key } : { key: r.s3.object.key, invalid: decoded.invalid }),
        ...(r.s3.object.eTag ? { etag: r.s3.object.eTag } : {}),
        ...(r.trigger ? { run: r.trigger.run } : {}),
        eventTime: r.eventTime,
      };
    });
  }
  return [
    {
      bucket: event.detail.bucket.name,
      key: event.detail.object.key,
      ...(event.detail.object.etag ? { etag: event.detail.object.etag } : {}),
      eventTime: event.time,
    },
  ];
}
