import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTasksCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { SimulatedAccount } from '../sim/account';

// Sample events live in the repository's events/ folder once copied there, else in the shared research folder.
const eventDirs = [join(__dirname, '..', 'events'), '/work/shared/events'].filter((dir) => existsSync(dir));
const samples = [
  ...new Set(
    eventDirs.flatMap((root) =>
      readdirSync(root, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .flatMap((dir) => readdirSync(join(root, dir.name)).filter((f) => f.endsWith('.json')).map((f) => `${dir.name}/${f}`)),
    ),
  ),
].sort();

function load(name: string): any {
  const dir = eventDirs.find((root) => existsSync(join(root, name)))!;
  return JSON.parse(readFileSync(join(dir, name), 'utf8'));
}

function snapshot(account: SimulatedAccount) {
  return JSON.stringify({
    tasks: [...account.ecs.tasks.keys()],
    services: [...account.ecs.services.keys()],
    images: [...account.ecr.images].map(([repo, images]) => [repo, [...images.values()].map((i) => [i.imageDigest, i.imageTags])]),
    enis: [...account.ec2.networkInterfaces.keys()],
  });
}

describe('seedFromEvent', () => {
  it('finds the sample events', () => {
    expect(samples.length).toBeGreaterThanOrEqual(15);
  });

  it.each(samples)('seeds %s idempotently and deterministically', (name) => {
    const event = load(name);
    const account = SimulatedAccount.forEvent(event);
    const once = snapshot(account);
    account.seedFromEvent(event);
    expect(snapshot(account)).toBe(once);
    expect(snapshot(SimulatedAccount.forEvent(event))).toBe(once);
    expect(account.events).toEqual([]);
  });

  it('GuardDuty ECS finding: cluster with tags, service with a second healthy task, task with ENI and digest', async () => {
    const event = load('guardduty/gd-ecs-fargate-cryptocurrency-bitcointool-dns.json');
    const taskArn = event.detail.resource.ecsClusterDetails.taskDetails.arn;
    const account = SimulatedAccount.forEvent(event);
    const { ecs, ec2, ecr } = account.clients();
    const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster: 'prod-cluster', tasks: [taskArn], include: ['TAGS'] }));
    const task = tasks![0]!;
    expect(task).toMatchObject({ lastStatus: 'RUNNING', launchType: 'FARGATE', group: 'service:payments-api', startedBy: 'ecs-svc/4217749213052961021' });
    expect(task.taskDefinitionArn).toBe('arn:aws:ecs:us-east-1:111122223333:task-definition/payments-api:42');
    const digest = task.containers![0]!.imageDigest!;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const images = await ecr.send(new DescribeImagesCommand({ repositoryName: 'payments-api', imageIds: [{ imageTag: '1.4.2' }] }));
    expect(images.imageDetails![0]!.imageDigest).toBe(digest);

    const eniId = task.attachments![0]!.details!.find((d) => d.name === 'networkInterfaceId')!.value!;
    const eni = (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))).NetworkInterfaces![0]!;
    expect(eni.RequesterManaged).toBe(true);

    const service = await ecs.send(new DescribeServicesCommand({ cluster: 'prod-cluster', services: ['payments-api'] }));
    expect(service.services![0]).toMatchObject({ desiredCount: 2, runningCount: 2 });
    expect(account.ecs.clusters.get('arn:aws:ecs:us-east-1:111122223333:cluster/prod-cluster')!.tags).toEqual({ environment: 'prod' });
  });

  it('GuardDuty finding with an image by digest and a public sidecar; non-ECS findings are ignored', () => {
    const digestEvent = load('guardduty/gd-ecs-fargate-reverse-shell.json');
    const account = SimulatedAccount.forEvent(digestEvent);
    const task = account.ecs.tasks.get(digestEvent.detail.resource.ecsClusterDetails.taskDetails.arn)!;
    expect(task.containers[0]!.imageDigest).toBe('sha256:3b0f7e5c1a9d2f4e6b8c0a1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f');
    expect(account.ecr.image('orders-web', task.containers[0]!.imageDigest!)).toBeDefined();

    const sidecar = SimulatedAccount.forEvent(load('guardduty/gd-ecs-fargate-backdoor-c2-dns.json'));
    expect(sidecar.region).toBe('eu-central-1');
    const [worker, logRouter] = [...sidecar.ecs.tasks.values()][0]!.containers;
    expect(sidecar.ecr.image('report-worker', worker!.imageDigest!)!.imageTags).toEqual(['2025.06.01']);
    expect(logRouter!.image).toBe('public.ecr.aws/aws-observability/aws-for-fluent-bit:stable');

    const ec2Finding = SimulatedAccount.forEvent(load('guardduty/gd-ec2-instance-blackhole-dns-sample-negative.json'));
    expect(ec2Finding.ecs.tasks.size).toBe(0);
  });

  it('ECS task state change: keeps the ENI id, subnet, IP and digest the event names', () => {
    const event = load('ecs/ecs-task-state-change-running-fargate.json');
    const account = SimulatedAccount.forEvent(event);
    const task = account.ecs.tasks.get(event.detail.taskArn)!;
    expect(task.eni).toMatchObject({ networkInterfaceId: 'eni-0a1b2c3d4e5f60718', subnetId: 'subnet-0b1c2d3e4f5a6b7c8', privateIpAddress: '10.0.3.17', macAddress: '0e:8f:a1:b2:c3:d4' });
    expect(account.ec2.networkInterfaces.get('eni-0a1b2c3d4e5f60718')!.requesterManaged).toBe(true);
    expect(account.ec2.subnets.get('subnet-0b1c2d3e4f5a6b7c8')!.cidrBlock).toBe('10.0.3.0/24');
    expect(task.containers[0]!.imageDigest).toBe('sha256:74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6');
  });

  it('ECR and Inspector events: repositories and images (Inspector2 Scan names the repository by ARN)', () => {
    const scan = SimulatedAccount.forEvent(load('ecr/ecr-image-scan-complete-tagged-high.json'));
    expect(scan.ecr.image('payments-api', 'sha256:3b0f7e5c1a9d2f4e6b8c0a1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f')!.imageTags).toEqual(['1.4.2', 'latest']);
    const inspectorScan = SimulatedAccount.forEvent(load('inspector/inspector2-scan-ecr-initial.json'));
    expect(inspectorScan.ecr.image('inspector2', 'sha256:965fbcae990b0467ed5657caceaec165018ef44a4d2d46c7cdea80a9dff0d1ea')!.imageTags).toEqual(['ubuntu22']);
    const finding = SimulatedAccount.forEvent(load('inspector/inspector2-finding-ecr-critical-active.json'));
    expect(finding.ecr.image('payments-api', 'sha256:3b0f7e5c1a9d2f4e6b8c0a1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f')!.imageTags).toEqual(['1.4.2', 'latest']);
    const resourceChange = SimulatedAccount.forEvent(load('ecr/ecr-scan-resource-change-enhanced.json'));
    expect([...resourceChange.ecr.repositories.keys()]).toEqual(['repository-1', 'repository-2']);
  });

  it('refuses an event from another account or region, and ignores unknown events', () => {
    const account = new SimulatedAccount();
    expect(() => account.seedFromEvent(load('guardduty/gd-ecs-fargate-backdoor-c2-dns.json'))).toThrow(/eu-central-1/);
    account.seedFromEvent({ 'detail-type': 'Something Else', detail: {} });
    account.seedFromEvent(null);
    expect(account.ecs.tasks.size).toBe(0);
  });
});
