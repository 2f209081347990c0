import { DescribeTasksCommand } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../aws/clients';
import type { TaskState } from '../task-state';

/**
 * DescribeTasks alone: enough to decide on and stop a task by its image. Unlike `readTaskState` it reads no network
 * interface, which ECS deletes as soon as an awsvpc task stops (a replacement that failed to pull is already gone).
 */
export async function describeTaskBrief(clients: AwsClients, ref: { arn: string; clusterArn: string }): Promise<TaskState> {
  const out = await clients.ecs.send(new DescribeTasksCommand({ cluster: ref.clusterArn, tasks: [ref.arn] }));
  const task = out.tasks?.[0];
  if (!task) return { found: false, taskArn: ref.arn, clusterArn: ref.clusterArn, containers: [], tags: {}, raw: {} };
  return {
    found: true,
    taskArn: ref.arn,
    clusterArn: task.clusterArn ?? ref.clusterArn,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    service: task.group?.startsWith('service:') ? task.group.slice('service:'.length) : undefined,
    launchType: task.launchType,
    containers: (task.containers ?? []).map((c) => ({ name: c.name ?? '', image: c.image ?? '', imageDigest: c.imageDigest })),
    tags: {},
    raw: { task },
  };
}
