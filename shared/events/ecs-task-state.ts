import * as z from 'zod';
import { ACCOUNT_ID, assertSameOrigin, assertTaskInCluster, EVENT_ID, IMAGE_DIGEST, matching, parseClusterArn, parseTaskArn, REGION, TASK_STATUSES } from './aws-formats';
import { assertOurs, type Home } from './home';
import { InvalidEventError } from './invalid-event';

/** `ECS Task State Change` (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html). */
export const EcsTaskStateChangeEvent = z.looseObject({
  id: matching(EVENT_ID, 'an EventBridge event id (1–256 printable characters)').optional(),
  source: z.literal('aws.ecs'),
  'detail-type': z.literal('ECS Task State Change'),
  account: matching(ACCOUNT_ID, 'a 12-digit account id').optional(),
  region: matching(REGION, 'an AWS region code').optional(),
  detail: z.looseObject({
    taskArn: z.string(),
    clusterArn: z.string(),
    // Exact case: ECS reports these in upper case; `running` is not a state.
    lastStatus: z.enum(TASK_STATUSES),
    desiredStatus: z.enum(['RUNNING', 'PENDING', 'STOPPED']).optional(),
    group: z.string().max(1024).optional(),
    version: z.number().int().min(0).optional(),
    stoppedReason: z.string().optional(),
    containers: z
      .array(
        z.looseObject({
          name: z.string().optional(),
          // An image reference (at most 255 characters in a container definition, API_ContainerDefinition).
          image: z.string().max(1024).optional(),
          imageDigest: matching(IMAGE_DIGEST, 'sha256: and 64 lowercase hex characters').optional(),
        }),
      )
      .max(100)
      .default([]),
  }),
});
export type EcsTaskStateChange = z.infer<typeof EcsTaskStateChangeEvent>;

/** A task state change whose task and cluster ARNs agree with each other and with the event's account and region. */
export function parseTaskStateChange(event: unknown, home?: Home): EcsTaskStateChange {
  const parsed = EcsTaskStateChangeEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const change = parsed.data;
  const task = parseTaskArn(change.detail.taskArn, 'detail.taskArn');
  const cluster = parseClusterArn(change.detail.clusterArn, 'detail.clusterArn');
  // The task ARN says where the task is; the envelope, when present, must say the same.
  const origin = { account: change.account ?? task.account, region: change.region ?? task.region, partition: task.partition };
  assertSameOrigin(task, origin, 'detail.taskArn');
  assertTaskInCluster(task, cluster, 'detail.taskArn');
  if (home) assertOurs(origin, home, { account: 'account', region: 'region' });
  return change;
}
