import type * as ECS from '@aws-sdk/client-ecs';
import type { Ec2Model } from './ec2';
import type { EcrModel } from './ecr';
import { IdSource, hashHex, sha256Digest } from './ids';
import { checkBatchSize, pageOf } from './pagination';
import { notModelledError, serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;
type Tags = Record<string, string>;

export type NetworkMode = 'awsvpc' | 'bridge' | 'host' | 'none';
export type LaunchType = 'FARGATE' | 'EC2';
export type TaskLastStatus = 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'DEPROVISIONING' | 'STOPPED';

/**
 * How a stop unfolds (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html):
 * desiredStatus STOPPED at once, then lastStatus DEACTIVATING (load balancer deregistration), STOPPING (SIGTERM, and
 * SIGKILL after the stop timeout, 30 s by default), DEPROVISIONING (an awsvpc task's interface is detached and
 * deleted), STOPPED. The order is documented; the durations between steps are the simulator's choice.
 */
const STOP_STEPS: readonly { status: Exclude<TaskLastStatus, 'RUNNING'>; afterMs: number }[] = [
  { status: 'DEACTIVATING', afterMs: 1_000 },
  { status: 'STOPPING', afterMs: 1_000 },
  { status: 'DEPROVISIONING', afterMs: 30_000 },
  { status: 'STOPPED', afterMs: 5_000 },
];

/** "Up to 255 characters are allowed in this message." (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html) */
const MAX_STOP_REASON = 255;

export interface ClusterState {
  clusterName: string;
  clusterArn: string;
  tags: Tags;
}

export interface ServiceState {
  serviceName: string;
  serviceArn: string;
  clusterArn: string;
  desiredCount: number;
  taskDefinitionArn?: string;
  launchType: LaunchType;
  /** The `ecs-svc/<id>` of the current deployment. */
  deploymentId: string;
  tags: Tags;
}

export interface ContainerDefinitionState {
  name: string;
  image: string;
  essential?: boolean;
}

export interface TaskDefinitionState {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  networkMode: NetworkMode;
  containerDefinitions: ContainerDefinitionState[];
}

export interface ContainerState {
  containerArn: string;
  name: string;
  image: string;
  imageDigest?: string;
  runtimeId: string;
  lastStatus: string;
}

export interface TaskState {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  group: string;
  startedBy?: string;
  launchType: LaunchType;
  networkMode: NetworkMode;
  lastStatus: TaskLastStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  /** While stopping: the simulated time (ms, see EcsModel.advance) of its next lifecycle step. */
  nextStepAtMs?: number;
  stopCode?: string;
  stoppedReason?: string;
  containers: ContainerState[];
  /** awsvpc tasks: their ECS-managed interface. */
  eni?: { attachmentId: string; networkInterfaceId: string; subnetId: string; privateIpAddress: string; macAddress: string; status: 'ATTACHED' | 'DELETED' };
  containerInstanceArn?: string;
  availabilityZone: string;
  tags: Tags;
  createdAt: Date;
  startedAt?: Date;
  stoppingAt?: Date;
  stoppedAt?: Date;
  version: number;
}

export interface ContainerInstanceState {
  containerInstanceArn: string;
  clusterArn: string;
  ec2InstanceId: string;
}

export interface RunTaskOptions {
  cluster: string;
  service?: string;
  taskDefinitionArn: string;
  launchType: LaunchType;
  taskArn?: string;
  containers: { name: string; image: string; imageDigest?: string }[];
  tags?: Tags;
  /** awsvpc: where the task's interface lives (defaults: the account's default subnet, a fresh address). */
  subnetId?: string;
  securityGroupIds?: string[];
  networkInterfaceId?: string;
  privateIpAddress?: string;
  macAddress?: string;
  /** EC2 launch type: the container instance to place on (default: the cluster's first, created if none). */
  containerInstanceArn?: string;
  startedBy?: string;
}

export type EcsEmitter = (detailType: 'ECS Task State Change', resources: string[], detail: Record<string, unknown>) => void;

export class EcsModel {
  readonly clusters = new Map<string, ClusterState>();
  readonly services = new Map<string, ServiceState>();
  readonly taskDefinitions = new Map<string, TaskDefinitionState>();
  readonly tasks = new Map<string, TaskState>();
  readonly containerInstances = new Map<string, ContainerInstanceState>();
  /**
   * Simulated time (ms) that task lifecycles run on. It moves only through `advance` and `settle`, never with the
   * wall clock, so a test decides exactly when a stopping task takes its next step; timestamps still come from `now`.
   */
  private elapsedMs = 0;

  constructor(
    private readonly ids: IdSource,
    private readonly accountId: string,
    private readonly region: string,
    private readonly now: () => Date,
    private readonly ec2: Ec2Model,
    private readonly ecr: EcrModel,
    private readonly emit: EcsEmitter,
  ) {}

  private arn(resource: string): string {
    return `arn:aws:ecs:${this.region}:${this.accountId}:${resource}`;
  }

  // ---- seeding ----

  addCluster(options: { name: string; tags?: Tags }): ClusterState {
    const clusterArn = this.arn(`cluster/${options.name}`);
    const existing = this.clusters.get(clusterArn);
    if (existing) {
      Object.assign(existing.tags, options.tags);
      return existing;
    }
    const cluster = { clusterName: options.name, clusterArn, tags: { ...options.tags } };
    this.clusters.set(clusterArn, cluster);
    return cluster;
  }

  addService(options: { cluster: string; name: string; desiredCount: number; taskDefinitionArn?: string; launchType?: LaunchType; deploymentId?: string; tags?: Tags }): ServiceState {
    const cluster = this.clusterOrCreate(options.cluster);
    const serviceArn = this.arn(`service/${cluster.clusterName}/${options.name}`);
    const existing = this.services.get(serviceArn);
    if (existing) {
      existing.taskDefinitionArn ??= options.taskDefinitionArn;
      return existing;
    }
    const service: ServiceState = {
      serviceName: options.name,
      serviceArn,
      clusterArn: cluster.clusterArn,
      desiredCount: options.desiredCount,
      taskDefinitionArn: options.taskDefinitionArn,
      launchType: options.launchType ?? 'FARGATE',
      deploymentId: options.deploymentId ?? `ecs-svc/${BigInt(`0x${hashHex(serviceArn, 15)}`).toString().slice(0, 19)}`,
      tags: { ...options.tags },
    };
    this.services.set(serviceArn, service);
    return service;
  }

  registerTaskDefinition(options: { family: string; revision?: number; networkMode?: NetworkMode; containers: ContainerDefinitionState[] }): TaskDefinitionState {
    const revision = options.revision ?? 1 + Math.max(0, ...[...this.taskDefinitions.values()].filter((d) => d.family === options.family).map((d) => d.revision));
    const taskDefinitionArn = this.arn(`task-definition/${options.family}:${revision}`);
    const existing = this.taskDefinitions.get(taskDefinitionArn);
    if (existing) return existing;
    const definition: TaskDefinitionState = {
      taskDefinitionArn,
      family: options.family,
      revision,
      networkMode: options.networkMode ?? 'awsvpc',
      containerDefinitions: options.containers.map((c) => ({ essential: true, ...c })),
    };
    this.taskDefinitions.set(taskDefinitionArn, definition);
    return definition;
  }

  /** An ECS container instance, backed by an EC2 instance with its own, account-owned interface. */
  addContainerInstance(options: { cluster: string; ec2InstanceId?: string; subnetId?: string; securityGroupIds?: string[] }): ContainerInstanceState {
    const cluster = this.clusterOrCreate(options.cluster);
    const instance = this.ec2.addInstance({
      instanceId: options.ec2InstanceId,
      name: options.ec2InstanceId ?? `${cluster.clusterName}-container-instance-${[...this.containerInstances.values()].filter((c) => c.clusterArn === cluster.clusterArn).length + 1}`,
      subnetId: options.subnetId,
      groupIds: options.securityGroupIds,
    });
    const existing = [...this.containerInstances.values()].find((c) => c.ec2InstanceId === instance.instanceId);
    if (existing) return existing;
    const containerInstance = {
      containerInstanceArn: this.arn(`container-instance/${cluster.clusterName}/${hashHex(`ci/${instance.instanceId}`, 32)}`),
      clusterArn: cluster.clusterArn,
      ec2InstanceId: instance.instanceId,
    };
    this.containerInstances.set(containerInstance.containerInstanceArn, containerInstance);
    return containerInstance;
  }

  runTask(options: RunTaskOptions): TaskState {
    const cluster = this.clusterOrCreate(options.cluster);
    if (options.taskArn && this.tasks.has(options.taskArn)) return this.tasks.get(options.taskArn)!;
    const definition = this.taskDefinitions.get(options.taskDefinitionArn);
    const networkMode = definition?.networkMode ?? (options.launchType === 'FARGATE' ? 'awsvpc' : 'bridge');
    const service = options.service ? this.addService({ cluster: cluster.clusterName, name: options.service, desiredCount: 1, taskDefinitionArn: options.taskDefinitionArn, launchType: options.launchType }) : undefined;
    const taskId = options.taskArn?.split('/').pop() ?? this.ids.id('', 32, `${cluster.clusterName}/${options.service ?? options.taskDefinitionArn}`);
    const taskArn = options.taskArn ?? this.arn(`task/${cluster.clusterName}/${taskId}`);
    const now = this.now();
    const task: TaskState = {
      taskArn,
      clusterArn: cluster.clusterArn,
      taskDefinitionArn: options.taskDefinitionArn,
      group: service ? `service:${service.serviceName}` : `family:${definition?.family ?? options.taskDefinitionArn.split('/').pop()?.split(':')[0]}`,
      startedBy: options.startedBy ?? service?.deploymentId,
      launchType: options.launchType,
      networkMode,
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      containers: options.containers.map((c, index) => ({
        containerArn: this.arn(`container/${cluster.clusterName}/${taskId}/${this.ids.uuid(`${taskArn}/${c.name}`)}`),
        name: c.name,
        image: c.image,
        imageDigest: c.imageDigest,
        runtimeId: `${taskId}-${parseInt(hashHex(`${taskArn}/${index}`, 8), 16) % 4_294_967_296}`,
        lastStatus: 'RUNNING',
      })),
      availabilityZone: '',
      tags: { ...options.tags },
      createdAt: now,
      startedAt: now,
      version: 2,
    };
    if (networkMode === 'awsvpc') {
      const subnet = options.subnetId ? this.ec2.subnets.get(options.subnetId) ?? this.ec2.addSubnet({ subnetId: options.subnetId }) : this.ec2.defaultNetwork().subnet;
      const attachmentId = this.ids.uuid(`attachment/${taskArn}`);
      // The interface ECS creates for an awsvpc task is requester-managed (aws-facts §1.1).
      const eni = this.ec2.addNetworkInterface({
        subnetId: subnet.subnetId,
        networkInterfaceId: options.networkInterfaceId,
        privateIpAddress: options.privateIpAddress,
        macAddress: options.macAddress,
        groupIds: options.securityGroupIds,
        requesterManaged: true,
        description: `arn:aws:ecs:${this.region}:${this.accountId}:attachment/${attachmentId}`,
        tags: { 'aws:ecs:clusterName': cluster.clusterName, ...(service ? { 'aws:ecs:serviceName': service.serviceName } : {}) },
        seed: taskArn,
      });
      task.eni = { attachmentId, networkInterfaceId: eni.networkInterfaceId, subnetId: eni.subnetId, privateIpAddress: eni.privateIpAddress, macAddress: eni.macAddress, status: 'ATTACHED' };
      task.availabilityZone = subnet.availabilityZone;
    } else {
      const containerInstance = options.containerInstanceArn
        ? this.containerInstances.get(options.containerInstanceArn)
        : [...this.containerInstances.values()].find((c) => c.clusterArn === cluster.clusterArn) ?? this.addContainerInstance({ cluster: cluster.clusterName });
      if (!containerInstance) throw new Error(`simulated ECS: unknown container instance ${options.containerInstanceArn}`);
      task.containerInstanceArn = containerInstance.containerInstanceArn;
      task.availabilityZone = this.ec2.subnets.get(this.ec2.instances.get(containerInstance.ec2InstanceId)!.subnetId)!.availabilityZone;
    }
    this.tasks.set(taskArn, task);
    this.emitTaskState(task);
    return task;
  }

  // ---- simulated time ----

  /** Lets `ms` of simulated time pass: stopping tasks take the lifecycle steps that fall due, in order. */
  advance(ms: number): void {
    this.runUntil(this.elapsedMs + ms);
  }

  /** Lets every stopping task finish (and the service scheduler start its replacements): `account.ecs.settle()`. */
  settle(): void {
    this.runUntil(Number.POSITIVE_INFINITY);
  }

  private runUntil(until: number): void {
    for (;;) {
      const due = [...this.tasks.values()].filter((t) => t.nextStepAtMs !== undefined && t.nextStepAtMs <= until);
      const next = due.sort((a, b) => a.nextStepAtMs! - b.nextStepAtMs!)[0];
      if (!next) break;
      this.elapsedMs = next.nextStepAtMs!;
      this.takeStopStep(next);
    }
    if (until !== Number.POSITIVE_INFINITY) this.elapsedMs = until;
  }

  // ---- API ----

  handle(operation: string, input: OperationInput): unknown {
    switch (operation) {
      case 'DescribeTasks': return this.describeTasks(input as ECS.DescribeTasksRequest);
      case 'DescribeTaskDefinition': return this.describeTaskDefinition(input as ECS.DescribeTaskDefinitionRequest);
      case 'StopTask': return this.stopTask(input as ECS.StopTaskRequest);
      case 'TagResource': return this.tagResource(input as ECS.TagResourceRequest);
      case 'UntagResource': return this.untagResource(input as ECS.UntagResourceRequest);
      case 'ListTagsForResource': return { tags: toTagList(this.taggable((input as ECS.ListTagsForResourceRequest).resourceArn).tags) };
      case 'DescribeContainerInstances': return this.describeContainerInstances(input as ECS.DescribeContainerInstancesRequest);
      case 'DescribeServices': return this.describeServices(input as ECS.DescribeServicesRequest);
      case 'UpdateService': return this.updateService(input as ECS.UpdateServiceRequest);
      case 'ListTasks': return this.listTasks(input);
      case 'ListClusters': return this.listClusters(input);
      case 'DescribeClusters': return this.describeClusters(input);
      default: return undefined;
    }
  }

  private clusterOrCreate(nameOrArn: string): ClusterState {
    const name = nameOrArn.split('/').pop()!;
    return this.clusters.get(this.arn(`cluster/${name}`)) ?? this.addCluster({ name });
  }

  /**
   * A cluster by short name or full ARN; "If you do not specify a cluster, the default cluster is assumed" (every
   * API reference that takes `cluster`). An ARN names a cluster of its own account and region, so an ARN of another
   * account or region, or of another resource type, finds nothing here.
   */
  private findCluster(nameOrArn: string | undefined): ClusterState | undefined {
    const id = nameOrArn ?? 'default';
    return this.clusters.get(id.startsWith('arn:') ? id : this.arn(`cluster/${id}`));
  }

  /** ClusterNotFoundException: "The specified cluster wasn't found" (API_DescribeTasks, API_StopTask, API_ListTasks, API_TagResource, ...). */
  private cluster(nameOrArn: string | undefined): ClusterState {
    const cluster = this.findCluster(nameOrArn);
    if (!cluster) throw serviceError('ecs', 'ClusterNotFoundException', 400, 'Cluster not found.');
    return cluster;
  }

  private findTask(cluster: ClusterState, id: string): TaskState | undefined {
    const arn = id.startsWith('arn:') ? id : this.arn(`task/${cluster.clusterName}/${id}`);
    const task = this.tasks.get(arn);
    return task && task.clusterArn === cluster.clusterArn ? task : undefined;
  }

  private describeTask(task: TaskState, withTags: boolean): ECS.Task {
    return {
      taskArn: task.taskArn,
      clusterArn: task.clusterArn,
      taskDefinitionArn: task.taskDefinitionArn,
      group: task.group,
      startedBy: task.startedBy,
      launchType: task.launchType,
      lastStatus: task.lastStatus,
      desiredStatus: task.desiredStatus,
      stopCode: task.stopCode as ECS.TaskStopCode | undefined,
      stoppedReason: task.stoppedReason,
      availabilityZone: task.availabilityZone,
      containerInstanceArn: task.containerInstanceArn,
      createdAt: task.createdAt,
      startedAt: task.startedAt,
      stoppingAt: task.stoppingAt,
      stoppedAt: task.stoppedAt,
      platformVersion: task.launchType === 'FARGATE' ? '1.4.0' : undefined,
      version: task.version,
      attachments: task.eni
        ? [
            {
              id: task.eni.attachmentId,
              type: 'ElasticNetworkInterface',
              status: task.eni.status,
              details: [
                { name: 'subnetId', value: task.eni.subnetId },
                { name: 'networkInterfaceId', value: task.eni.networkInterfaceId },
                { name: 'macAddress', value: task.eni.macAddress },
                { name: 'privateDnsName', value: `ip-${task.eni.privateIpAddress.replaceAll('.', '-')}.ec2.internal` },
                { name: 'privateIPv4Address', value: task.eni.privateIpAddress },
              ],
            },
          ]
        : [],
      containers: task.containers.map((c) => ({
        containerArn: c.containerArn,
        taskArn: task.taskArn,
        name: c.name,
        image: c.image,
        imageDigest: c.imageDigest,
        runtimeId: c.runtimeId,
        lastStatus: c.lastStatus,
        networkInterfaces: task.eni ? [{ attachmentId: task.eni.attachmentId, privateIpv4Address: task.eni.privateIpAddress }] : [],
      })),
      tags: withTags ? toTagList(task.tags) : undefined,
    };
  }

  private describeTasks(input: ECS.DescribeTasksRequest): Result<ECS.DescribeTasksResponse> {
    const cluster = this.cluster(input.cluster);
    // "A list of up to 100 task IDs or full ARN entries." (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html)
    checkBatchSize('ecs', 'tasks', input.tasks, 100);
    const withTags = input.include?.includes('TAGS') ?? false;
    const result: Result<ECS.DescribeTasksResponse> = { tasks: [], failures: [] };
    for (const id of input.tasks ?? []) {
      const task = this.findTask(cluster, id);
      if (task) result.tasks!.push(this.describeTask(task, withTags));
      else result.failures!.push({ arn: id.startsWith('arn:') ? id : this.arn(`task/${cluster.clusterName}/${id}`), reason: 'MISSING' });
    }
    return result;
  }

  private describeTaskDefinition(input: ECS.DescribeTaskDefinitionRequest): Result<ECS.DescribeTaskDefinitionResponse> {
    const ref = input.taskDefinition ?? '';
    const [family, revision] = ref.split('/').pop()!.split(':');
    const candidates = [...this.taskDefinitions.values()].filter((d) => d.family === family && (revision === undefined || d.revision === Number(revision)));
    const definition = candidates.sort((a, b) => b.revision - a.revision)[0];
    if (!definition) throw serviceError('ecs', 'ClientException', 400, 'Unable to describe task definition.');
    return {
      taskDefinition: {
        taskDefinitionArn: definition.taskDefinitionArn,
        family: definition.family,
        revision: definition.revision,
        networkMode: definition.networkMode,
        status: 'ACTIVE',
        requiresCompatibilities: definition.networkMode === 'awsvpc' ? ['FARGATE'] : ['EC2'],
        containerDefinitions: definition.containerDefinitions.map((c) => ({ name: c.name, image: c.image, essential: c.essential })),
      },
      tags: input.include?.includes('TAGS') ? [] : undefined,
    };
  }

  private stopTask(input: ECS.StopTaskRequest): Result<ECS.StopTaskResponse> {
    const cluster = this.cluster(input.cluster);
    if ((input.reason?.length ?? 0) > MAX_STOP_REASON) {
      throw serviceError('ecs', 'InvalidParameterException', 400, `Reason must be at most ${MAX_STOP_REASON} characters.`);
    }
    const task = input.task ? this.findTask(cluster, input.task) : undefined;
    if (!task) throw serviceError('ecs', 'InvalidParameterException', 400, 'The referenced task was not found.');
    // Stopping a task already stopping or stopped is not an error here (undocumented): ECS returns it as it is.
    if (task.desiredStatus !== 'STOPPED') {
      this.requestStop(task, 'UserInitiated', input.reason ?? 'Task stopped by the user');
      // "Stops a running task. Any tags associated with the task will be deleted." (API_StopTask)
      task.tags = {};
    }
    return { task: this.describeTask(task, false) };
  }

  /** desiredStatus STOPPED now; the lifecycle steps follow as simulated time passes (STOP_STEPS). */
  private requestStop(task: TaskState, stopCode: string, reason: string): void {
    task.desiredStatus = 'STOPPED';
    task.stopCode = stopCode;
    task.stoppedReason = reason;
    task.version++;
    task.nextStepAtMs = this.elapsedMs + STOP_STEPS[0]!.afterMs;
    // A change of desired status is a task state change (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html).
    this.emitTaskState(task);
  }

  private takeStopStep(task: TaskState): void {
    const index = STOP_STEPS.findIndex((s) => s.status === task.lastStatus) + 1;
    const step = STOP_STEPS[index]!;
    const following = STOP_STEPS[index + 1];
    task.lastStatus = step.status;
    task.nextStepAtMs = following ? this.elapsedMs + following.afterMs : undefined;
    task.version++;
    if (step.status === 'STOPPING') task.stoppingAt = this.now();
    if (step.status === 'DEPROVISIONING') this.releaseResources(task);
    if (step.status === 'STOPPED') task.stoppedAt = this.now();
    this.emitTaskState(task);
    if (step.status === 'STOPPED') this.replaceIfServiceTask(task);
  }

  /** Containers have exited; "for tasks that use the awsvpc network mode, the elastic network interface needs to be detached and deleted" (task-lifecycle-explanation.html). */
  private releaseResources(task: TaskState): void {
    for (const c of task.containers) c.lastStatus = 'STOPPED';
    if (task.eni) {
      this.ec2.deleteNetworkInterface(task.eni.networkInterfaceId);
      task.eni.status = 'DELETED';
    }
  }

  /** A task whose image cannot be pulled never runs: it ends STOPPED with TaskFailedToStart. */
  private failToStart(task: TaskState, reason: string): void {
    task.desiredStatus = 'STOPPED';
    task.lastStatus = 'STOPPED';
    task.stopCode = 'TaskFailedToStart';
    task.stoppedReason = reason;
    task.stoppingAt = task.stoppedAt = this.now();
    task.version++;
    this.releaseResources(task);
    this.emitTaskState(task);
  }

  /**
   * The service scheduler replaces a stopped service task, from the image digests pinned for the deployment
   * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerImage.html, aws-facts §4.4), once the task
   * has stopped: never inside StopTask. A digest that ECR no longer serves (archived, restoring, deleted) makes the
   * replacement fail with CannotPullContainerError.
   */
  private replaceIfServiceTask(stopped: TaskState): void {
    if (!stopped.group.startsWith('service:')) return;
    const service = this.services.get(stopped.clusterArn.replace(':cluster/', ':service/') + `/${stopped.group.slice('service:'.length)}`);
    if (service && this.active(service).length < service.desiredCount) this.startServiceTask(service, stopped);
  }

  private startServiceTask(service: ServiceState, template: TaskState): void {
    const pullFailure = template.containers.map((c) => this.pull(c.image, c.imageDigest)).find((reason) => reason !== undefined);
    const task = this.runTask({
      cluster: service.clusterArn,
      service: service.serviceName,
      taskDefinitionArn: template.taskDefinitionArn,
      launchType: template.launchType,
      startedBy: service.deploymentId,
      containers: template.containers.map((c) => ({ name: c.name, image: c.image, imageDigest: c.imageDigest })),
      subnetId: template.eni?.subnetId,
      containerInstanceArn: template.containerInstanceArn,
    });
    if (pullFailure) this.failToStart(task, pullFailure);
  }

  /** The failure reason when the image cannot be pulled; images outside this account's ECR always pull. */
  private pull(image: string, digest: string | undefined): string | undefined {
    const match = new RegExp(`^${this.accountId}\\.dkr\\.ecr\\.${this.region}\\.amazonaws\\.com/([^:@]+)(?::([^@]+))?(?:@(sha256:[0-9a-f]+))?$`).exec(image);
    if (!match) return undefined;
    const repository = match[1]!;
    const resolved = digest ?? match[3] ?? (match[2] ? [...(this.ecr.images.get(repository)?.values() ?? [])].find((i) => i.imageTags.includes(match[2]!))?.imageDigest : undefined);
    if (!resolved) return `CannotPullContainerError: ${image}: not found`;
    const result = this.ecr.pull(repository, resolved);
    return result.ok ? undefined : result.reason;
  }

  private serviceTasks(service: ServiceState): TaskState[] {
    return [...this.tasks.values()].filter((t) => t.clusterArn === service.clusterArn && t.group === `service:${service.serviceName}`);
  }

  /** What DescribeServices counts as running. */
  private running(service: ServiceState): TaskState[] {
    return this.serviceTasks(service).filter((t) => t.lastStatus === 'RUNNING');
  }

  /** What the scheduler counts against desiredCount: tasks not asked to stop. */
  private active(service: ServiceState): TaskState[] {
    return this.serviceTasks(service).filter((t) => t.desiredStatus === 'RUNNING');
  }

  /**
   * The task, cluster or service an ARN names. A task or service ARN carries its cluster's name, and TagResource
   * lists ClusterNotFoundException (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TagResource.html);
   * any other unknown resource answers InvalidParameterException (the code AWS uses there is not documented).
   */
  private taggable(arn: string | undefined): { tags: Tags; task?: TaskState } {
    const match = arn ? /^arn:aws:ecs:[^:]+:\d{12}:(task|service)\/([^/]+)\/[^/]+$/.exec(arn) : null;
    if (match && !this.findCluster(this.arn(`cluster/${match[2]}`))) throw serviceError('ecs', 'ClusterNotFoundException', 400, 'Cluster not found.');
    const task = arn ? this.tasks.get(arn) : undefined;
    const resource = task ?? (arn ? this.clusters.get(arn) ?? this.services.get(arn) : undefined);
    if (!resource) throw serviceError('ecs', 'InvalidParameterException', 400, `The specified resource ${arn} could not be found.`);
    return { tags: resource.tags, task };
  }

  /**
   * Tagging a task asked to stop: StopTask deletes its tags (API_StopTask), and what TagResource answers afterwards is
   * not documented. The simulator refuses it, the strict choice, so nothing can come to rely on a stopped task's tags.
   */
  private taggableTags(arn: string | undefined): Tags {
    const { tags, task } = this.taggable(arn);
    if (task?.desiredStatus === 'STOPPED') throw serviceError('ecs', 'InvalidParameterException', 400, `The task ${arn} is stopped: its tags were deleted and cannot be changed.`);
    return tags;
  }

  private tagResource(input: ECS.TagResourceRequest): Result<ECS.TagResourceResponse> {
    const tags = this.taggableTags(input.resourceArn);
    for (const tag of input.tags ?? []) {
      if (tag.key?.startsWith('aws:')) throw serviceError('ecs', 'InvalidParameterException', 400, "Tag keys starting with 'aws:' are reserved");
    }
    for (const tag of input.tags ?? []) tags[tag.key!] = tag.value ?? '';
    return {};
  }

  private untagResource(input: ECS.UntagResourceRequest): Result<ECS.UntagResourceResponse> {
    const tags = this.taggableTags(input.resourceArn);
    for (const key of input.tagKeys ?? []) delete tags[key];
    return {};
  }

  private describeContainerInstances(input: ECS.DescribeContainerInstancesRequest): Result<ECS.DescribeContainerInstancesResponse> {
    const cluster = this.cluster(input.cluster);
    // "A list of up to 100 container instance IDs or full ARN entries." (API_DescribeContainerInstances)
    checkBatchSize('ecs', 'containerInstances', input.containerInstances, 100);
    const result: Result<ECS.DescribeContainerInstancesResponse> = { containerInstances: [], failures: [] };
    for (const id of input.containerInstances ?? []) {
      const arn = id.startsWith('arn:') ? id : this.arn(`container-instance/${cluster.clusterName}/${id}`);
      const instance = this.containerInstances.get(arn);
      if (!instance || instance.clusterArn !== cluster.clusterArn) {
        result.failures!.push({ arn, reason: 'MISSING' });
        continue;
      }
      result.containerInstances!.push({
        containerInstanceArn: instance.containerInstanceArn,
        ec2InstanceId: instance.ec2InstanceId,
        status: 'ACTIVE',
        agentConnected: true,
        runningTasksCount: [...this.tasks.values()].filter((t) => t.containerInstanceArn === arn && t.lastStatus === 'RUNNING').length,
        pendingTasksCount: 0,
      });
    }
    return result;
  }

  private findService(cluster: ClusterState, nameOrArn: string): ServiceState | undefined {
    return this.services.get(nameOrArn.startsWith('arn:') ? nameOrArn : this.arn(`service/${cluster.clusterName}/${nameOrArn}`));
  }

  private describeServices(input: ECS.DescribeServicesRequest): Result<ECS.DescribeServicesResponse> {
    const cluster = this.cluster(input.cluster);
    // "You may specify up to 10 services to describe in a single operation." (API_DescribeServices)
    checkBatchSize('ecs', 'services', input.services, 10);
    const result: Result<ECS.DescribeServicesResponse> = { services: [], failures: [] };
    for (const id of input.services ?? []) {
      const service = this.findService(cluster, id);
      if (!service) {
        result.failures!.push({ arn: id.startsWith('arn:') ? id : this.arn(`service/${cluster.clusterName}/${id}`), reason: 'MISSING' });
        continue;
      }
      const runningCount = this.running(service).length;
      result.services!.push({
        serviceName: service.serviceName,
        serviceArn: service.serviceArn,
        clusterArn: service.clusterArn,
        status: 'ACTIVE',
        desiredCount: service.desiredCount,
        runningCount,
        pendingCount: 0,
        launchType: service.launchType,
        taskDefinition: service.taskDefinitionArn,
        deployments: [
          { id: service.deploymentId, status: 'PRIMARY', taskDefinition: service.taskDefinitionArn, desiredCount: service.desiredCount, runningCount, pendingCount: 0 },
        ],
        tags: input.include?.includes('TAGS') ? toTagList(service.tags) : undefined,
      });
    }
    return result;
  }

  /**
   * Only desiredCount is modelled: the scheduler asks surplus tasks to stop (newest first; they stop over simulated
   * time) and starts missing ones.
   */
  private updateService(input: ECS.UpdateServiceRequest): Result<ECS.UpdateServiceResponse> {
    const cluster = this.cluster(input.cluster);
    const service = input.service ? this.findService(cluster, input.service) : undefined;
    if (!service) throw serviceError('ecs', 'ServiceNotFoundException', 400, 'Service not found.');
    const unsupported = Object.keys(input).filter((k) => !['cluster', 'service', 'desiredCount'].includes(k));
    if (unsupported.length) throw notModelledError(`ecs:UpdateService models desiredCount only, got ${unsupported.join(', ')}`);
    if (input.desiredCount !== undefined) {
      service.desiredCount = input.desiredCount;
      const active = this.active(service);
      for (const task of active.slice(service.desiredCount).reverse()) this.requestStop(task, 'ServiceSchedulerInitiated', 'Scaling activity initiated by (deployment ecs-svc)');
      for (let i = active.length; active[0] && i < service.desiredCount; i++) this.startServiceTask(service, active[0]);
    }
    return { service: this.describeServices({ cluster: cluster.clusterArn, services: [service.serviceArn] }).services![0] };
  }

  /**
   * Clusters by name or ARN, up to 100; none named means the default cluster. Unknown ones come back as failures with
   * reason MISSING (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html,
   * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html).
   */
  private describeClusters(input: ECS.DescribeClustersRequest): Result<ECS.DescribeClustersResponse> {
    const ids = input.clusters?.length ? input.clusters : ['default'];
    checkBatchSize('ecs', 'clusters', ids, 100);
    const result: Result<ECS.DescribeClustersResponse> = { clusters: [], failures: [] };
    for (const id of ids) {
      const cluster = this.findCluster(id);
      if (!cluster) {
        result.failures!.push({ arn: id.startsWith('arn:') ? id : this.arn(`cluster/${id}`), reason: 'MISSING' });
        continue;
      }
      result.clusters!.push({
        clusterArn: cluster.clusterArn,
        clusterName: cluster.clusterName,
        status: 'ACTIVE',
        tags: input.include?.includes('TAGS') ? toTagList(cluster.tags) : undefined,
      });
    }
    return result;
  }

  /** Up to 100 per page, 100 by default (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListClusters.html). */
  private listClusters(input: ECS.ListClustersRequest): Result<ECS.ListClustersResponse> {
    const { page, nextToken } = pageOf('ecs', [...this.clusters.keys()], input, { defaultSize: 100, maxSize: 100 });
    return { clusterArns: page, nextToken };
  }

  /**
   * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html: up to 100 per page (the default);
   * desiredStatus defaults to RUNNING; "When you specify startedBy as the filter, it must be the only filter that you
   * use"; an unknown serviceName is ServiceNotFoundException.
   */
  private listTasks(input: ECS.ListTasksRequest): Result<ECS.ListTasksResponse> {
    const cluster = this.cluster(input.cluster);
    const otherFilters = (['containerInstance', 'family', 'serviceName', 'desiredStatus', 'launchType'] as const).filter((f) => input[f] !== undefined);
    if (input.startedBy !== undefined && otherFilters.length) {
      throw serviceError('ecs', 'InvalidParameterException', 400, `startedBy must be the only filter, got also ${otherFilters.join(', ')}.`);
    }
    const service = input.serviceName ? this.findService(cluster, input.serviceName) : undefined;
    if (input.serviceName && !service) throw serviceError('ecs', 'ServiceNotFoundException', 400, 'Service not found.');
    const desired = input.desiredStatus ?? 'RUNNING';
    const taskArns = [...this.tasks.values()]
      .filter((t) => t.clusterArn === cluster.clusterArn && t.desiredStatus === desired)
      .filter((t) => !service || t.group === `service:${service.serviceName}`)
      .filter((t) => !input.startedBy || t.startedBy === input.startedBy)
      .filter((t) => !input.family || t.taskDefinitionArn.split('/').pop()!.split(':')[0] === input.family)
      .filter((t) => !input.launchType || t.launchType === input.launchType)
      .filter((t) => !input.containerInstance || t.containerInstanceArn?.endsWith(input.containerInstance.split('/').pop()!))
      .map((t) => t.taskArn);
    const { page, nextToken } = pageOf('ecs', taskArns, input, { defaultSize: 100, maxSize: 100 });
    return { taskArns: page, nextToken };
  }

  private emitTaskState(task: TaskState): void {
    const described = this.describeTask(task, false);
    this.emit('ECS Task State Change', [task.taskArn], {
      ...described,
      attachments: described.attachments?.map((a) => ({ ...a, type: 'eni' })),
      createdAt: task.createdAt.toISOString(),
      startedAt: task.startedAt?.toISOString(),
      stoppingAt: task.stoppingAt?.toISOString(),
      stoppedAt: task.stoppedAt?.toISOString(),
      updatedAt: this.now().toISOString(),
      tags: undefined,
    });
  }
}

function toTagList(tags: Tags): ECS.Tag[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

/** The digest the simulator assigns to an image reference that does not carry one. */
export function digestForImage(image: string): string {
  return /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1] ?? sha256Digest(image);
}
