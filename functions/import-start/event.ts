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

/** What import-start accepts: an S3 notification or an EventBridge "Object Created" event. */
export const s3EventSchema = z.union([notification, eventBridge]);
export type S3CreatedEvent = z.output<typeof s3EventSchema>;

/** The objects an event names, keys decoded. */
export function requestsOf(event: S3CreatedEvent): StartRequest[] {
  if ('Records' in event) {
    return event.Records.map((r) => ({
      bucket: r.s3.bucket.name,
      key: decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')),
      ...(r.s3.object.eTag ? { etag: r.s3.object.eTag } : {}),
      eventTime: r.eventTime,
    }));
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
