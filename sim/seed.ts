import type { SimulatedAccount } from './account';
import { digestForImage, type LaunchType, type NetworkMode } from './ecs';

type Json = Record<string, unknown>;

function record(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function tagMap(value: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const tag of list(value).map(record)) {
    const key = text(tag.key);
    if (key) tags[key] = typeof tag.value === 'string' ? tag.value : '';
  }
  return tags;
}

/**
 * Creates whatever a raw EventBridge event names, if it is missing, so the pipeline finds it in the account:
 * GuardDuty ECSCluster findings and ECS task state changes give a cluster, service, task definition and running
 * task (plus a second healthy task for services); ECR and Inspector events give repositories and images.
 * Unknown or irrelevant events are ignored. Seeding twice changes nothing.
 */
export function seedFromEvent(account: SimulatedAccount, event: unknown): void {
  const envelope = record(event);
  const detailType = text(envelope['detail-type']);
  const detail = record(envelope.detail);
  const seeders: Record<string, () => void> = {
    'GuardDuty Finding': () => seedGuardDutyFinding(account, detail),
    'ECS Task State Change': () => seedTaskStateChange(account, detail),
    'ECR Image Scan': () => seedImage(account, text(detail['repository-name']), text(detail['image-digest']), list(detail['image-tags'])),
    'ECR Image Action': () => {
      if (detail['action-type'] !== 'PUSH') return;
      const repository = text(detail['repository-name']);
      const digest = text(detail['image-digest']);
      seedImage(account, repository, digest, [detail['image-tag']]);
      // The event reports a push that already happened, and re-pushing an archived image restores it to standard
      // storage (https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html).
      const image = repository && digest ? account.ecr.image(repository, digest) : undefined;
      if (image && image.imageStatus !== 'ACTIVE') image.imageStatus = 'ACTIVE';
    },
    'ECR Scan Resource Change': () => {
      for (const repository of list(detail.repositories).map(record)) {
        const name = text(repository['repository-name']);
        if (name) account.createRepository(name);
      }
    },
    'Inspector2 Finding': () => {
      for (const resource of list(detail.resources).map(record)) {
        if (resource.type !== 'AWS_ECR_CONTAINER_IMAGE') continue;
        const image = record(record(resource.details).awsEcrContainerImage);
        seedImage(account, text(image.repositoryName), text(image.imageHash), list(image.imageTags));
      }
    },
    // Inspector2 Scan's repository-name holds the repository ARN.
    'Inspector2 Scan': () => seedImage(account, text(detail['repository-name'])?.replace(/^arn:[^/]*:repository\//, ''), text(detail['image-digest']), list(detail['image-tags'])),
  };
  const seeder = detailType ? seeders[detailType] : undefined;
  if (!seeder) return;
  checkSameAccount(account, envelope);
  seeder();
}

function checkSameAccount(account: SimulatedAccount, envelope: Json): void {
  const eventAccount = text(envelope.account);
  const eventRegion = text(envelope.region);
  if ((eventAccount && eventAccount !== account.accountId) || (eventRegion && eventRegion !== account.region)) {
    throw new Error(
      `simulated account: the event is from account ${eventAccount} in ${eventRegion}, but this simulated account is ` +
        `${account.accountId} in ${account.region}; create it with new SimulatedAccount({ accountId: '${eventAccount}', region: '${eventRegion}' })`,
    );
  }
}

function seedImage(account: SimulatedAccount, repository: string | undefined, digest: string | undefined, tags: unknown[]): void {
  if (!repository) return;
  account.createRepository(repository);
  if (!digest) return;
  const newTags = tags.filter((t): t is string => typeof t === 'string' && t !== '' && !account.ecr.image(repository, digest)?.imageTags.includes(t));
  if (!account.ecr.image(repository, digest) || newTags.length) account.putImage({ repository, digest, tags: newTags });
}

interface ImageReference {
  repository: string;
  tag?: string;
  digest?: string;
}

/** `<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag][@sha256:…]` for this account's registry. */
function privateEcrImage(account: SimulatedAccount, image: string): ImageReference | undefined {
  const registry = `${account.accountId}.dkr.ecr.${account.region}.amazonaws.com/`;
  if (!image.startsWith(registry)) return undefined;
  const match = /^([^:@]+)(?::([^@]+))?(?:@(sha256:[0-9a-f]+))?$/.exec(image.slice(registry.length));
  return match ? { repository: match[1]!, tag: match[2], digest: match[3] } : undefined;
}

/** The digest the task runs: the one the image names, the one its tag points at in ECR, or a hash of the reference. */
function resolveDigest(account: SimulatedAccount, image: string, given: string | undefined): string | undefined {
  const reference = privateEcrImage(account, image);
  if (reference) {
    const tagged = reference.tag ? [...(account.ecr.images.get(reference.repository)?.values() ?? [])].find((i) => i.imageTags.includes(reference.tag!)) : undefined;
    const digest = given ?? reference.digest ?? tagged?.imageDigest ?? digestForImage(image);
    seedImage(account, reference.repository, digest, reference.tag ? [reference.tag] : []);
    return digest;
  }
  // ECS reports imageDigest for ECR-hosted images only (API_Container); ECR Public images count as ECR here.
  return given ?? (/\.ecr\.|ecr\.aws\//.test(image) ? digestForImage(image) : undefined);
}

interface TaskSeed {
  clusterName: string;
  clusterTags: Record<string, string>;
  taskArn: string;
  taskDefinitionArn?: string;
  group?: string;
  startedBy?: string;
  launchType: LaunchType;
  networkMode?: NetworkMode;
  containers: { name: string; image: string; imageDigest?: string }[];
  tags: Record<string, string>;
  eni?: { networkInterfaceId?: string; subnetId?: string; privateIpAddress?: string; macAddress?: string };
}

function seedGuardDutyFinding(account: SimulatedAccount, detail: Json): void {
  const resource = record(detail.resource);
  if (resource.resourceType !== 'ECSCluster') return;
  const cluster = record(resource.ecsClusterDetails);
  const task = record(cluster.taskDetails);
  const clusterName = text(cluster.name) ?? text(cluster.arn)?.split('/').pop();
  const taskArn = text(task.arn);
  if (!clusterName) return;
  account.addCluster({ name: clusterName, tags: tagMap(cluster.tags) });
  if (!taskArn) return;
  seedTask(account, {
    clusterName,
    clusterTags: tagMap(cluster.tags),
    taskArn,
    taskDefinitionArn: text(task.definitionArn),
    group: text(task.group),
    startedBy: text(task.startedBy),
    launchType: task.launchType === 'EC2' ? 'EC2' : 'FARGATE',
    containers: list(task.containers)
      .map(record)
      .filter((c) => text(c.image))
      .map((c, index) => ({ name: text(c.name) ?? `container-${index + 1}`, image: text(c.image)! })),
    tags: tagMap(task.tags),
  });
}

function seedTaskStateChange(account: SimulatedAccount, detail: Json): void {
  const clusterName = text(detail.clusterArn)?.split('/').pop();
  const taskArn = text(detail.taskArn);
  if (!clusterName || !taskArn) return;
  account.addCluster({ name: clusterName });
  // A task that has already stopped is not brought back to life; its cluster and images are still seeded.
  const stopped = detail.lastStatus === 'STOPPED' || detail.desiredStatus === 'STOPPED';
  const eniDetails = Object.fromEntries(
    list(list(detail.attachments).map(record).find((a) => a.type === 'eni' || a.type === 'ElasticNetworkInterface')?.details)
      .map(record)
      .map((d) => [text(d.name), text(d.value)]),
  ) as Record<string, string | undefined>;
  const containers = list(detail.containers)
    .map(record)
    .filter((c) => text(c.image))
    .map((c, index) => ({ name: text(c.name) ?? `container-${index + 1}`, image: text(c.image)!, imageDigest: text(c.imageDigest) }));
  if (stopped) {
    for (const c of containers) resolveDigest(account, c.image, c.imageDigest);
    return;
  }
  seedTask(account, {
    clusterName,
    clusterTags: {},
    taskArn,
    taskDefinitionArn: text(detail.taskDefinitionArn),
    group: text(detail.group),
    startedBy: text(detail.startedBy),
    launchType: detail.launchType === 'EC2' ? 'EC2' : 'FARGATE',
    containers,
    tags: tagMap(detail.tags),
    eni: eniDetails.networkInterfaceId
      ? { networkInterfaceId: eniDetails.networkInterfaceId, subnetId: eniDetails.subnetId, privateIpAddress: eniDetails.privateIPv4Address, macAddress: eniDetails.macAddress }
      : undefined,
  });
}

function seedTask(account: SimulatedAccount, seed: TaskSeed): void {
  if (account.ecs.tasks.has(seed.taskArn)) return;
  const eventsBefore = account.events.length;
  const containers = seed.containers.map((c) => ({ ...c, imageDigest: resolveDigest(account, c.image, c.imageDigest) }));
  const [family, revision] = (seed.taskDefinitionArn?.split('/').pop() ?? `${seed.clusterName}-task:1`).split(':');
  const definition = account.registerTaskDefinition({
    family: family!,
    revision: Number(revision) || 1,
    networkMode: seed.networkMode ?? (seed.launchType === 'FARGATE' ? 'awsvpc' : 'bridge'),
    containers: containers.map((c) => ({ name: c.name, image: c.image })),
  });
  const serviceName = seed.group?.startsWith('service:') ? seed.group.slice('service:'.length) : undefined;
  if (serviceName) {
    account.addService({ cluster: seed.clusterName, name: serviceName, desiredCount: 2, taskDefinitionArn: definition.taskDefinitionArn, launchType: seed.launchType });
    const service = account.ecs.services.get(`arn:aws:ecs:${account.region}:${account.accountId}:service/${seed.clusterName}/${serviceName}`)!;
    if (seed.startedBy?.startsWith('ecs-svc/')) service.deploymentId = seed.startedBy;
  }
  const subnetId = seed.eni?.subnetId;
  if (subnetId && !account.ec2.subnets.has(subnetId)) {
    const ip = seed.eni?.privateIpAddress?.split('.');
    const { vpc } = account.ec2.defaultNetwork();
    account.addSubnet({ subnetId, vpcId: vpc.vpcId, cidrBlock: ip ? `${ip.slice(0, 3).join('.')}.0/24` : undefined });
  }
  account.runTask({
    cluster: seed.clusterName,
    service: serviceName,
    taskDefinitionArn: definition.taskDefinitionArn,
    launchType: seed.launchType,
    taskArn: seed.taskArn,
    startedBy: seed.startedBy,
    containers,
    tags: seed.tags,
    subnetId,
    networkInterfaceId: seed.eni?.networkInterfaceId,
    privateIpAddress: seed.eni?.privateIpAddress,
    macAddress: seed.eni?.macAddress,
  });
  if (serviceName) {
    // Give the service a second, healthy task so it has running capacity besides the one under investigation.
    const running = [...account.ecs.tasks.values()].filter((t) => t.group === `service:${serviceName}` && t.lastStatus === 'RUNNING' && t.clusterArn.endsWith(`/${seed.clusterName}`));
    if (running.length < 2) {
      account.runTask({
        cluster: seed.clusterName,
        service: serviceName,
        taskDefinitionArn: definition.taskDefinitionArn,
        launchType: seed.launchType,
        startedBy: seed.startedBy,
        containers,
        subnetId,
      });
    }
  }
  // Seeding describes the world as it already was, so it emits no events.
  account.events.splice(eventsBefore);
}
