import { z } from 'zod';
import { InvalidEventError } from './invalid-event';

export const EcsTaskStateChangeEvent = z.looseObject({
  source: z.literal('aws.ecs'),
  'detail-type': z.literal('ECS Task State Change'),
  account: z.string().optional(),
  region: z.string().optional(),
  detail: z.looseObject({
    taskArn: z.string(),
    clusterArn: z.string(),
    lastStatus: z.string(),
    desiredStatus: z.string().optional(),
    group: z.string().optional(),
    version: z.number().optional(),
    stoppedReason: z.string().optional(),
    containers: z
      .array(z.looseObject({ name: z.string().optional(), image: z.string().optional(), imageDigest: z.string().optional() }))
      .default([]),
  }),
});
export type EcsTaskStateChange = z.infer<typeof EcsTaskStateChangeEvent>;

export function parseTaskStateChange(event: unknown): EcsTaskStateChange {
  const parsed = EcsTaskStateChangeEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  return parsed.data;
}
