import { DescribeTasksCommand, ListClustersCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../aws/clients';
import { awsErrorCode } from '../aws/errors';
import { parseImageReference } from './image-reference';

export interface TaskUsingImage {
  taskArn: string;
  clusterArn: string;
  service?: string;
  lastStatus?: string;
  containers: string[];
}

/** DescribeTasks takes at most 100 tasks per call. */
const DESCRIBE_BATCH = 100;

async function allClusters(clients: AwsClients): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.ecs.send(new ListClustersCommand({ nextToken }));
    arns.push(...(page.clusterArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return arns;
}

/** A cluster named by the caller may have been deleted since: ListTasks then answers ClusterNotFoundException (API_ListTasks), and it runs nothing. */
async function runningTaskArns(clients: AwsClients, cluster: string): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await clients.ecs.send(new ListTasksCommand({ cluster, desiredStatus: 'RUNNING', nextToken }));
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if (awsErrorCode(error) !== 'ClusterNotFoundException') throw error;
  }
  return arns;
}

/**
 * The tasks that run a digest now, in the given clusters or every cluster of the account. ECS pins digests per
 * deployment, so the digest (not the tag) says what a task runs.
 */
export async function findTasksUsingImage(clients: AwsClients, repository: string, digest: string, clusters?: string[]): Promise<TaskUsingImage[]> {
  const found: TaskUsingImage[] = [];
  for (const cluster of clusters?.length ? clusters : await allClusters(clients)) {
    const arns = await runningTaskArns(clients, cluster);
    for (let i = 0; i < arns.length; i += DESCRIBE_BATCH) {
      const out = await clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + DESCRIBE_BATCH) }));
      for (const task of out.tasks ?? []) {
        const containers = (task.containers ?? []).filter((c) => c.imageDigest === digest && parseImageReference(c.image ?? '').repository === repository);
        if (!containers.length || !task.taskArn) continue;
        found.push({
          taskArn: task.taskArn,
          clusterArn: task.clusterArn ?? cluster,
          service: task.group?.startsWith('service:') ? task.group.slice('service:'.length) : undefined,
          lastStatus: task.lastStatus,
          containers: containers.map((c) => c.name ?? ''),
        });
      }
    }
  }
  return found;
}
