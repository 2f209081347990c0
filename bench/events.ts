import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository (npm run bench and vitest run from it). */
export const ROOT = process.cwd();

/** The sample every benchmark event is made from: a Critical reverse shell in a Fargate task of prod-cluster. */
const CRITICAL = JSON.parse(readFileSync(join(ROOT, 'events/guardduty/gd-ecs-fargate-reverse-shell-critical.json'), 'utf8')) as GuardDutyEvent;
const TASK_STATE = JSON.parse(readFileSync(join(ROOT, 'events/ecs/ecs-task-state-change-running-fargate.json'), 'utf8')) as TaskStateEvent;

export interface GuardDutyEvent {
  id: string;
  detail: {
    id: string;
    arn: string;
    resource: { ecsClusterDetails: { name: string; arn: string; taskDetails: { arn: string; containers: { name: string; image: string }[] } } };
    service: { count: number };
    description: string;
  };
}

interface TaskStateEvent {
  resources: string[];
  detail: Record<string, unknown> & { attachments: { details: { name: string; value: string }[] }[]; containers: Record<string, unknown>[] };
}

/** Where a benchmark task runs: its cluster, its id (32 hex digits) and, for a task of its own network, subnet and address. */
export interface BenchTask {
  cluster: string;
  id: string;
  subnetId?: string;
  ip?: string;
}

export const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const taskArn = (task: BenchTask) => `arn:aws:ecs:us-east-1:111122223333:task/${task.cluster}/${task.id}`;

/** The sample itself (its own task in prod-cluster, its own finding id). */
export function criticalSample(): GuardDutyEvent {
  return structuredClone(CRITICAL);
}

/** The critical sample about another task and finding: ids and ARNs changed, everything else (type, severity) kept. */
export function criticalFinding(task: BenchTask, findingId: string, count = 1, eventId?: string): GuardDutyEvent {
  const event = criticalSample();
  const cluster = event.detail.resource.ecsClusterDetails;
  cluster.name = task.cluster;
  cluster.arn = cluster.arn.replace(/[^/]+$/, task.cluster);
  cluster.taskDetails.arn = taskArn(task);
  event.detail.id = findingId;
  event.detail.arn = event.detail.arn.replace(/[^/]+$/, findingId);
  event.detail.service.count = count;
  event.detail.description = `A process in a container has established a reverse shell. Task ${task.id} in cluster ${task.cluster}.`;
  if (eventId) event.id = eventId;
  return event;
}

/**
 * An ECS Task State Change (RUNNING) that seeds the task into the simulated account in its own subnet and address
 * (seedFromEvent places a task seeded from a GuardDuty finding in the default subnet).
 */
export function runningTask(task: BenchTask, eni: string): TaskStateEvent {
  const event = structuredClone(TASK_STATE);
  const arn = taskArn(task);
  const container = CRITICAL.detail.resource.ecsClusterDetails.taskDetails.containers[0]!;
  event.resources = [arn];
  Object.assign(event.detail, {
    clusterArn: `arn:aws:ecs:us-east-1:111122223333:cluster/${task.cluster}`,
    taskArn: arn,
    group: 'service:checkout-api',
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:111122223333:task-definition/checkout-api:9',
    containers: [{ ...event.detail.containers[0], name: container.name, image: container.image, imageDigest: undefined, taskArn: arn, networkInterfaces: [{ privateIpv4Address: task.ip }] }],
  });
  event.detail.attachments[0]!.details = [
    { name: 'subnetId', value: task.subnetId! },
    { name: 'networkInterfaceId', value: eni },
    { name: 'privateIPv4Address', value: task.ip! },
  ];
  return event;
}
