import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand, type NetworkAcl, type NetworkInterface } from '@aws-sdk/client-ec2';
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { AwsClients } from './aws/clients';
import { networkAclForSubnet } from './aws/network-acl';
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

/**
 * An awsvpc task's interface as DescribeTasks names it (its attachment's details). ECS creates and manages it: "they
 * cannot be detached manually or modified by your account"
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-networking-awsvpc.html), so its groups cannot be
 * swapped, which is known without asking EC2.
 */
export interface TaskInterface {
  id: string;
  subnetId: string;
  privateIp: string;
}

/**
 * What is read only when an action needs it, once per event and never before the network cut: the task definition and
 * the interface as EC2 describes it (groups, VPC, tags), for evidence, tags and the security-group swap.
 */
export interface TaskDetails {
  taskDefinition(): Promise<TaskDefinition | undefined>;
  /** The awsvpc interface as EC2 describes it; undefined once it is deleted (a stopped task) or without one. */
  taskInterface(): Promise<InterfaceState | undefined>;
  /** The network ACL of the awsvpc interface's subnet: what a network-ACL deny is planned from. */
  networkAcl(): Promise<NetworkAcl | undefined>;
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
  /** The task's own interface (awsvpc), from DescribeTasks alone. */
  taskInterface?: TaskInterface;
  /** The container instance's primary interface (EC2 launch type, bridge/host mode). */
  hostInterface?: InterfaceState & { instanceId: string };
  tags: Record<string, string>;
  /** Raw API output, kept as evidence. */
  raw: { task?: Task };
  details: TaskDetails;
}

/** A read made at most once, on first use (and its failure kept for every caller). */
function once<T>(read: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= read());
}

const NO_DETAILS: TaskDetails = { taskDefinition: () => Promise.resolve(undefined), taskInterface: () => Promise.resolve(undefined), networkAcl: () => Promise.resolve(undefined) };

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
  return { found: false, notFoundReason, taskArn: ref.arn, clusterArn: ref.clusterArn, containers: [], tags: {}, raw: {}, details: NO_DETAILS };
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

function attachmentDetail(task: Task, name: string): string | undefined {
  return task.attachments?.find((a) => a.type === 'ElasticNetworkInterface')?.details?.find((d) => d.name === name)?.value;
}

/** What DescribeTasks alone says about a task; the rest is read on first use. */
function describedTask(clients: AwsClients, ref: Pick<TaskReference, 'arn' | 'clusterArn'>, task: Task): TaskState {
  const eniId = attachmentDetail(task, 'networkInterfaceId');
  const subnetId = attachmentDetail(task, 'subnetId');
  const privateIp = attachmentDetail(task, 'privateIPv4Address');
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
    networkMode: eniId ? 'awsvpc' : undefined,
    taskInterface: eniId && subnetId && privateIp ? { id: eniId, subnetId, privateIp } : undefined,
    raw: { task },
    details: {
      taskDefinition: once(async () =>
        task.taskDefinitionArn ? (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }))).taskDefinition : undefined,
      ),
      taskInterface: once(async () => (eniId ? describeInterface(clients, eniId) : undefined)),
      networkAcl: once(async () => (subnetId ? networkAclForSubnet(clients, subnetId) : undefined)),
    },
  };
}

/**
 * DescribeTasks alone: enough to decide on and stop a task by its image (the launch guard, tasks using an image).
 * It reads no interface or task definition.
 */
export async function describeTaskBrief(clients: AwsClients, ref: Pick<TaskReference, 'arn' | 'clusterArn'>): Promise<TaskState> {
  const { task, notFoundReason } = await describeOneTask(clients, ref);
  return task ? describedTask(clients, ref, task) : notFound(ref, notFoundReason);
}

/**
 * GuardDuty names the task but not its interface, IP or image digest: DescribeTasks gives those, and is the only read
 * before a Fargate task's network cut (its attachment names subnet and address). Bridge/host mode on EC2 shares the
 * container instance's interface, found through the instance.
 */
export async function readTaskState(clients: AwsClients, ref: Pick<TaskReference, 'arn' | 'clusterArn'>): Promise<TaskState> {
  const { task, notFoundReason } = await describeOneTask(clients, ref);
  if (!task) return notFound(ref, notFoundReason);
  const state = describedTask(clients, ref, task);
  if (state.taskInterface || !task.containerInstanceArn) return state;
  const hostInterface = await describeHostInterface(clients, ref.clusterArn, task.containerInstanceArn);
  return { ...state, hostInterface, networkMode: (await state.details.taskDefinition())?.networkMode };
}
