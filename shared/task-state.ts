import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand, type NetworkInterface } from '@aws-sdk/client-ec2';
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { AwsClients } from './aws/clients';
import { awsErrorCode } from './aws/errors';
import type { TaskReference } from './finding';

export interface InterfaceState {
  id: string;
  vpcId: string;
  subnetId: string;
  privateIp: string;
  groups: string[];
  /** ECS/Fargate-created interfaces are requester-managed: AWS refuses security-group changes on them. */
  requesterManaged: boolean;
  tags: Record<string, string>;
}

/** What the responder knows about a task before it plans: read-only, gathered once per event. */
export interface TaskState {
  found: boolean;
  /** When not found: why, in words for the notification (the task is gone, or its cluster is). */
  notFoundReason?: string;
  taskArn: string;
  clusterArn: string;
  lastStatus?: string;
  desiredStatus?: string;
  service?: string;
  launchType?: string;
  networkMode?: string;
  containers: { name: string; image: string; imageDigest?: string }[];
  /** The task's own interface (awsvpc). */
  taskInterface?: InterfaceState;
  /** The container instance's primary interface (EC2 launch type, bridge/host mode). */
  hostInterface?: InterfaceState & { instanceId: string };
  tags: Record<string, string>;
  /** Raw API output, kept as evidence. */
  raw: { task?: Task; taskDefinition?: TaskDefinition };
}

function interfaceState(eni: NetworkInterface): InterfaceState {
  return {
    id: eni.NetworkInterfaceId ?? '',
    vpcId: eni.VpcId ?? '',
    subnetId: eni.SubnetId ?? '',
    privateIp: eni.PrivateIpAddress ?? '',
    groups: (eni.Groups ?? []).map((g) => g.GroupId ?? '').filter(Boolean),
    requesterManaged: eni.RequesterManaged === true,
    tags: Object.fromEntries((eni.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
  };
}

async function describeInterface(clients: AwsClients, id: string): Promise<InterfaceState | undefined> {
  try {
    const out = await clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
    const eni = out.NetworkInterfaces?.[0];
    return eni ? interfaceState(eni) : undefined;
  } catch (error) {
    // A stopped awsvpc task's interface is deleted while DescribeTasks still lists the attachment.
    if (awsErrorCode(error) === 'InvalidNetworkInterfaceID.NotFound') return undefined;
    throw error;
  }
}

async function describeHostInterface(clients: AwsClients, clusterArn: string, containerInstanceArn: string) {
  const ci = await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster: clusterArn, containerInstances: [containerInstanceArn] }));
  const instanceId = ci.containerInstances?.[0]?.ec2InstanceId;
  if (!instanceId) return undefined;
  const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.Reservations?.[0]?.Instances?.[0];
  const primary = instance?.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === 0) ?? instance?.NetworkInterfaces?.[0];
  if (!primary?.NetworkInterfaceId) return undefined;
  const eni = await describeInterface(clients, primary.NetworkInterfaceId);
  return eni ? { ...eni, instanceId } : undefined;
}

/**
 * A cluster's tags, for protection on paths that have no GuardDuty finding to carry them (the runbook, the launch
 * guard, tasks running a quarantined image). Unknown clusters have none.
 */
export async function clusterTagsOf(clients: AwsClients, clusterArn: string): Promise<Record<string, string>> {
  const out = await clients.ecs.send(new DescribeClustersCommand({ clusters: [clusterArn], include: ['TAGS'] }));
  return Object.fromEntries((out.clusters?.[0]?.tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
}

/** The IAM actions `readTaskState` needs; the template test checks the roles grant them. */
export const TASK_STATE_READS = [
  'ecs:DescribeTasks',
  'ecs:DescribeTaskDefinition',
  'ecs:DescribeContainerInstances',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeInstances',
] as const;

function notFound(ref: Pick<TaskReference, 'arn' | 'clusterArn'>, notFoundReason: string): TaskState {
  return { found: false, notFoundReason, taskArn: ref.arn, clusterArn: ref.clusterArn, containers: [], tags: {}, raw: {} };
}

const TASK_GONE = 'DescribeTasks did not find the task: it has already stopped and been cleaned up.';

/**
 * DescribeTasks for one task; undefined when ECS no longer has it. A cluster that no longer exists (or never did:
 * GuardDuty's sample findings name one) is ClusterNotFoundException
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html), and means the same: no task.
 */
async function describeOneTask(clients: AwsClients, ref: Pick<TaskReference, 'arn' | 'clusterArn'>): Promise<{ task?: Task; notFoundReason: string }> {
  try {
    const out = await clients.ecs.send(new DescribeTasksCommand({ cluster: ref.clusterArn, tasks: [ref.arn], include: ['TAGS'] }));
    return { task: out.tasks?.[0], notFoundReason: TASK_GONE };
  } catch (error) {
    if (awsErrorCode(error) !== 'ClusterNotFoundException') throw error;
    return { notFoundReason: `ECS has no cluster ${ref.clusterArn} (ClusterNotFoundException): the task is not found.` };
  }
}

/** What DescribeTasks alone says about a task. */
function describedTask(ref: Pick<TaskReference, 'arn' | 'clusterArn'>, task: Task): TaskState {
  return {
    found: true,
    taskArn: ref.arn,
    clusterArn: task.clusterArn ?? ref.clusterArn,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    service: task.group?.startsWith('service:') ? task.group.slice('service:'.length) : undefined,
    launchType: task.launchType,
    containers: (task.containers ?? []).map((c) => ({ name: c.name ?? '', image: c.image ?? '', imageDigest: c.imageDigest })),
    tags: Object.fromEntries((task.tags ?? []).map((t) => [t.key ?? '', t.value ?? ''])),
    raw: { task },
  };
}

/**
 * DescribeTasks alone: enough to decide on and stop a task by its image (the launch guard, tasks using an image).
 * It reads no interface or task definition.
 */
export async function describeTaskBrief(clients: AwsClients, ref: Pick<TaskReference, 'arn' | 'clusterArn'>): Promise<TaskState> {
  const { task, notFoundReason } = await describeOneTask(clients, ref);
  return task ? describedTask(ref, task) : notFound(ref, notFoundReason);
}

/** GuardDuty names the task but not its interface, IP or image digest: DescribeTasks and friends give those. */
export async function readTaskState(clients: AwsClients, ref: Pick<TaskReference, 'arn' | 'clusterArn'>): Promise<TaskState> {
  const { task, notFoundReason } = await describeOneTask(clients, ref);
  if (!task) return notFound(ref, notFoundReason);

  const definition = task.taskDefinitionArn
    ? (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }))).taskDefinition
    : undefined;
  const eniId = task.attachments
    ?.find((a) => a.type === 'ElasticNetworkInterface')
    ?.details?.find((d) => d.name === 'networkInterfaceId')?.value;

  return {
    ...describedTask(ref, task),
    networkMode: definition?.networkMode ?? (eniId ? 'awsvpc' : undefined),
    taskInterface: eniId ? await describeInterface(clients, eniId) : undefined,
    hostInterface: !eniId && task.containerInstanceArn ? await describeHostInterface(clients, ref.clusterArn, task.containerInstanceArn) : undefined,
    raw: { task, taskDefinition: definition },
  };
}
