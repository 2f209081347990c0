import * as z from '../zod-mini';
import { ACCOUNT_ID, assertSameOrigin, assertTaskInCluster, EVENT_ID, IMAGE_DIGEST, matching, parseClusterArn, parseTaskArn, REGION, TASK_STATUSES } from './aws-formats';
import { assertOurs, type Home } from './home';
import { InvalidEventError } from './invalid-event';

/** `ECS Task State Change` (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html). */
export const EcsTaskStateChangeEvent = z.looseObject({
  id: z.optional(matching(EVENT_ID, 'an EventBridge event id (1–256 printable characters)')),
  source: z.literal('aws.ecs'),
  'detail-type': z.literal('ECS Task State Change'),
  account: z.optional(matching(ACCOUNT_ID, 'a 12-digit account id')),
  region: z.optional(matching(REGION, 'an AWS region code')),
  detail: z.looseObject({
    taskArn: z.string(),
    clusterArn: z.string(),
    // Exact case: ECS reports these in upper case; `running` is not a state.
    lastStatus: z.enum(TASK_STATUSES),
    desiredStatus: z.optional(z.enum(['RUNNING', 'PENDING', 'STOPPED'])),
    group: z.optional(z.string().check(z.maxLength(1024))),
    version: z.optional(z.number().check(z.int(), z.minimum(0))),
    stoppedReason: z.optional(z.string()),
    containers: z._default(
      z
        .array(
          z.looseObject({
            name: z.optional(z.string()),
            // An image reference (at most 255 characters in a container definition, API_ContainerDefinition).
            image: z.optional(z.string().check(z.maxLength(1024))),
            imageDigest: z.optional(matching(IMAGE_DIGEST, 'sha256: and 64 lowercase hex characters')),
          }),
        )
        .check(z.maxLength(100)),
      [],
    ),
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
