import { describe, it, expect } from 'vitest';
import {
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListClustersCommand,
  ListTagsForResourceCommand,
  ListTasksCommand,
  StopTaskCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-ecs';
import { DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { UpdateImageStorageClassCommand } from '@aws-sdk/client-ecr';
import { SimulatedAccount } from '../sim/account';

const IMAGE = '111122223333.dkr.ecr.us-east-1.amazonaws.com/payments-api:1.4.2';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function serviceWithTwoTasks() {
  const account = new SimulatedAccount();
  account.putImage({ repository: 'payments-api', digest: DIGEST, tags: ['1.4.2'] });
  account.addCluster({ name: 'prod', tags: { environment: 'prod' } });
  const definition = account.registerTaskDefinition({ family: 'payments-api', revision: 42, networkMode: 'awsvpc', containers: [{ name: 'app', image: IMAGE }] });
  account.addService({ cluster: 'prod', name: 'payments-api', desiredCount: 2 });
  const run = () =>
    account.runTask({ cluster: 'prod', service: 'payments-api', taskDefinitionArn: definition.taskDefinitionArn, launchType: 'FARGATE', containers: [{ name: 'app', image: IMAGE, imageDigest: DIGEST }] });
  const [suspect, healthy] = [run(), run()];
  account.drainEvents();
  return { account, suspect: suspect, healthy: healthy, clients: account.clients() };
}

function running(account: SimulatedAccount) {
  return [...account.ecs.tasks.values()].filter((t) => t.lastStatus === 'RUNNING');
}

describe('simulated ECS: DescribeTasks', () => {
  it('returns the ENI attachment, containers with digests, group and tags; unknown tasks as MISSING failures', async () => {
    const { account, suspect, clients } = serviceWithTwoTasks();
    await clients.ecs.send(new TagResourceCommand({ resourceArn: suspect.taskArn, tags: [{ key: 'incident', value: 'f-1' }] }));
    const out = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'prod', tasks: [suspect.taskArn, 'deadbeef'], include: ['TAGS'] }));
    const task = out.tasks![0]!;
    const details = Object.fromEntries(task.attachments![0]!.details!.map((d) => [d.name, d.value]));
    expect(task.attachments![0]!.type).toBe('ElasticNetworkInterface');
    expect(details.networkInterfaceId).toBe(suspect.eni!.networkInterfaceId);
    expect(details.privateIPv4Address).toBe(suspect.eni!.privateIpAddress);
    expect(details).toHaveProperty('subnetId');
    expect(details).toHaveProperty('macAddress');
    expect(task.containers![0]).toMatchObject({ name: 'app', image: IMAGE, imageDigest: DIGEST });
    expect(task.containers![0]!.runtimeId).toMatch(/^[0-9a-f]{32}-\d+$/);
    expect(task).toMatchObject({ group: 'service:payments-api', launchType: 'FARGATE', lastStatus: 'RUNNING', desiredStatus: 'RUNNING' });
    expect(task.startedBy).toMatch(/^ecs-svc\/\d+$/);
    expect(task.tags).toEqual([{ key: 'incident', value: 'f-1' }]);
    expect(out.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:111122223333:task/prod/deadbeef', reason: 'MISSING' }]);
    expect(account.ecs.tasks.get(suspect.taskArn)!.tags).toEqual({ incident: 'f-1' });

    const def = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }));
    expect(def.taskDefinition).toMatchObject({ networkMode: 'awsvpc', containerDefinitions: [expect.objectContaining({ name: 'app', image: IMAGE })] });
  });

  it('tags and untags clusters and services; lists clusters and tasks', async () => {
    const { suspect, healthy, clients } = serviceWithTwoTasks();
    const serviceArn = 'arn:aws:ecs:us-east-1:111122223333:service/prod/payments-api';
    await clients.ecs.send(new TagResourceCommand({ resourceArn: serviceArn, tags: [{ key: 'quarantine', value: 'yes' }] }));
    await clients.ecs.send(new UntagResourceCommand({ resourceArn: serviceArn, tagKeys: ['quarantine'] }));
    expect((await clients.ecs.send(new ListTagsForResourceCommand({ resourceArn: serviceArn }))).tags).toEqual([]);
    const clusterTags = await clients.ecs.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/prod' }));
    expect(clusterTags.tags).toEqual([{ key: 'environment', value: 'prod' }]);
    expect((await clients.ecs.send(new ListClustersCommand({}))).clusterArns).toEqual(['arn:aws:ecs:us-east-1:111122223333:cluster/prod']);
    const listed = await clients.ecs.send(new ListTasksCommand({ cluster: 'prod', serviceName: 'payments-api', desiredStatus: 'RUNNING' }));
    expect(listed.taskArns).toEqual([suspect.taskArn, healthy.taskArn]);
  });
});

describe('simulated ECS: StopTask', () => {
  it('sets desiredStatus STOPPED at once and walks lastStatus through the documented lifecycle as time passes', async () => {
    const { account, suspect, clients } = serviceWithTwoTasks();
    const eniId = suspect.eni!.networkInterfaceId;
    const first = await clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn, reason: 'GuardDuty finding f-1' }));
    expect(first.task).toMatchObject({ lastStatus: 'RUNNING', desiredStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'GuardDuty finding f-1' });
    expect(running(account)).toHaveLength(2); // no replacement inside StopTask

    const seen: string[] = [];
    for (const ms of [999, 1, 1_000, 30_000, 5_000]) {
      account.ecs.advance(ms);
      seen.push(account.ecs.tasks.get(suspect.taskArn)!.lastStatus);
    }
    expect(seen).toEqual(['RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
    expect(account.drainEvents().filter((e) => e.detail.taskArn === suspect.taskArn).map((e) => [e.detail.desiredStatus, e.detail.lastStatus])).toEqual([
      ['STOPPED', 'RUNNING'],
      ['STOPPED', 'DEACTIVATING'],
      ['STOPPED', 'STOPPING'],
      ['STOPPED', 'DEPROVISIONING'],
      ['STOPPED', 'STOPPED'],
    ]);
    expect(account.ec2.networkInterfaces.has(eniId)).toBe(false);

    // Again: not an error, no second stop and no second replacement.
    const tasksBefore = account.ecs.tasks.size;
    const second = await clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn, reason: 'again' }));
    expect(second.task).toMatchObject({ lastStatus: 'STOPPED', stoppedReason: 'GuardDuty finding f-1' });
    account.ecs.settle();
    expect(account.ecs.tasks.size).toBe(tasksBefore);
  });

  it('keeps the interface until DEPROVISIONING', async () => {
    const { account, suspect, clients } = serviceWithTwoTasks();
    await clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn }));
    account.ecs.advance(2_000); // DEACTIVATING, then STOPPING: SIGTERM sent, the container still runs
    expect(account.ecs.tasks.get(suspect.taskArn)!.lastStatus).toBe('STOPPING');
    await expect(clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [suspect.eni!.networkInterfaceId] }))).resolves.toBeDefined();
    account.ecs.advance(30_000);
    await expect(clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [suspect.eni!.networkInterfaceId] }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
    });
    const described = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'prod', tasks: [suspect.taskArn] }));
    expect(described.tasks![0]!.attachments![0]!.status).toBe('DELETED');
  });

  it('refuses unknown tasks and reasons over 255 characters', async () => {
    const { suspect, clients } = serviceWithTwoTasks();
    await expect(clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: 'arn:aws:ecs:us-east-1:111122223333:task/prod/0000' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn, reason: 'x'.repeat(256) }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn, reason: 'x'.repeat(255) }))).resolves.toBeDefined();
  });

  it('deletes the task tags; tagging the stopped task is refused', async () => {
    const { account, suspect, clients } = serviceWithTwoTasks();
    await clients.ecs.send(new TagResourceCommand({ resourceArn: suspect.taskArn, tags: [{ key: 'incident', value: 'f-1' }] }));
    await clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn }));
    expect((await clients.ecs.send(new ListTagsForResourceCommand({ resourceArn: suspect.taskArn }))).tags).toEqual([]);
    account.ecs.settle();
    const described = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'prod', tasks: [suspect.taskArn], include: ['TAGS'] }));
    expect(described.tasks![0]!.tags).toEqual([]);
    await expect(clients.ecs.send(new TagResourceCommand({ resourceArn: suspect.taskArn, tags: [{ key: 'responder:state', value: 'released' }] }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(clients.ecs.send(new UntagResourceCommand({ resourceArn: suspect.taskArn, tagKeys: ['incident'] }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('makes the service scheduler start a replacement from the same image digest once the task has stopped', async () => {
    const { account, suspect, clients } = serviceWithTwoTasks();
    await clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn, reason: 'contain' }));
    account.drainEvents();
    expect(running(account).filter((t) => t.taskArn !== suspect.taskArn)).toHaveLength(1);
    account.ecs.settle();
    const replacements = running(account).filter((t) => t.taskArn !== suspect.taskArn);
    expect(replacements).toHaveLength(2);
    const replacement = replacements.find((t) => t.eni!.networkInterfaceId !== suspect.eni!.networkInterfaceId && t.createdAt >= suspect.createdAt)!;
    expect(replacement.containers[0]!.imageDigest).toBe(DIGEST);

    const service = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'prod', services: ['payments-api'] }));
    expect(service.services![0]).toMatchObject({ desiredCount: 2, runningCount: 2, pendingCount: 0 });
    const events = account.drainEvents();
    expect(events.map((e) => [e.detail.taskArn === suspect.taskArn ? 'suspect' : 'new', e.detail.lastStatus])).toEqual([
      ['suspect', 'DEACTIVATING'],
      ['suspect', 'STOPPING'],
      ['suspect', 'DEPROVISIONING'],
      ['suspect', 'STOPPED'],
      ['new', 'RUNNING'],
    ]);
    expect(events[0]).toMatchObject({ source: 'aws.ecs', account: '111122223333', region: 'us-east-1', resources: [suspect.taskArn] });
  });

  it('fails the replacement with CannotPullContainerError once the digest is archived', async () => {
    const { account, suspect, clients } = serviceWithTwoTasks();
    await clients.ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'payments-api', imageId: { imageDigest: DIGEST }, targetStorageClass: 'ARCHIVE' }));
    await clients.ecs.send(new StopTaskCommand({ cluster: 'prod', task: suspect.taskArn, reason: 'contain' }));
    account.ecs.settle();

    const failed = [...account.ecs.tasks.values()].find((t) => t.taskArn !== suspect.taskArn && t.lastStatus === 'STOPPED')!;
    expect(failed.stoppedReason).toMatch(/^CannotPullContainerError/);
    expect(failed.stopCode).toBe('TaskFailedToStart');
    const service = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'prod', services: ['payments-api'] }));
    expect(service.services![0]).toMatchObject({ desiredCount: 2, runningCount: 1 });
  });
});

describe('simulated ECS: EC2 launch type', () => {
  it('places bridge-mode tasks on a container instance backed by an EC2 instance', async () => {
    const account = new SimulatedAccount();
    const containerInstance = account.addContainerInstance({ cluster: 'legacy' });
    const definition = account.registerTaskDefinition({ family: 'worker', networkMode: 'bridge', containers: [{ name: 'w', image: 'busybox' }] });
    const task = account.runTask({ cluster: 'legacy', taskDefinitionArn: definition.taskDefinitionArn, launchType: 'EC2', containers: [{ name: 'w', image: 'busybox' }] });
    const { ecs } = account.clients();
    const described = await ecs.send(new DescribeTasksCommand({ cluster: 'legacy', tasks: [task.taskArn] }));
    expect(described.tasks![0]!.containerInstanceArn).toBe(containerInstance.containerInstanceArn);
    expect(described.tasks![0]!.attachments).toEqual([]);
    expect(described.tasks![0]!.group).toBe('family:worker');
    const instances = await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'legacy', containerInstances: [containerInstance.containerInstanceArn] }));
    expect(instances.containerInstances![0]!.ec2InstanceId).toBe(containerInstance.ec2InstanceId);
  });
});
