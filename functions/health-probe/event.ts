import { z } from 'zod';

/**
 * What starts the probe: the EventBridge scheduled event (`detail-type: Scheduled Event` from `aws.events`), or
 * an empty object for a manual invocation (`aws lambda invoke --payload '{}'`). AWS may add fields to its
 * events, so unknown keys of a scheduled event are kept, not refused.
 */
export const probeEventSchema = z
  .looseObject({
    source: z.literal('aws.events').optional(),
    'detail-type': z.literal('Scheduled Event').optional(),
    time: z.string().optional(),
  })
  .refine((event) => Object.keys(event).length === 0 || (event.source && event['detail-type']), {
    error: 'expected an EventBridge "Scheduled Event" from aws.events, or {} for a manual run',
  });

export type ProbeEvent = z.output<typeof probeEventSchema>;
