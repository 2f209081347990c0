import * as z from '../zod-mini';
import { severityLabel, type Finding } from '../finding';
import {
  assertSameOrigin,
  bounded,
  TEXT,
  assertTaskInCluster,
  checkFormat,
  clusterOfTask,
  CLUSTER_NAME,
  GUARDDUTY_FINDING_ID,
  GUARDDUTY_FINDING_TYPE,
  GUARDDUTY_SEVERITY,
  matching,
  parseClusterArn,
  parseTaskArn,
  ACCOUNT_ID,
  REGION,
} from './aws-formats';
import { assertOurs, type Home } from './home';
import { InvalidEventError, required } from './invalid-event';

// Every field is optional in GuardDuty's schema (API_GetFindings: "Required: No"), so the schema only checks types;
// `normaliseGuardDutyFinding` then demands what an ECS response cannot do without, naming the field.
const str = () => z.optional(z.string());

const Tags = z.optional(z.array(z.looseObject({ key: str(), value: str() })));

const Container = z.looseObject({ name: str(), image: str() });

const TaskDetails = z.looseObject({
  arn: str(),
  definitionArn: str(),
  group: str(),
  launchType: str(),
  startedBy: str(),
  tags: Tags,
  containers: z.optional(z.array(Container)),
});

const Process = z.looseObject({
  name: str(),
  executablePath: str(),
  user: str(),
});

const Service = z.looseObject({
  featureName: str(),
  // A count of occurrences: a positive safe integer (zod's int), so it fits DynamoDB's number type exactly.
  count: z.optional(z.number().check(z.int(), z.minimum(1))),
  action: z.optional(
    z.looseObject({
      dnsRequestAction: z.optional(z.looseObject({ domain: str() })),
      networkConnectionAction: z.optional(z.looseObject({ remoteIpDetails: z.optional(z.looseObject({ ipAddressV4: str() })) })),
    }),
  ),
  runtimeDetails: z.optional(
    z.looseObject({
      process: z.optional(Process),
      context: z.optional(z.looseObject({ commandLineExample: str() })),
    }),
  ),
  additionalInfo: z.optional(z.looseObject({ value: str(), sample: z.optional(z.boolean()) })),
});

export const GuardDutyFindingDetail = z.looseObject({
  id: z.optional(matching(GUARDDUTY_FINDING_ID, 'a GuardDuty finding id (1–300 letters, digits, _ . : -)')),
  accountId: z.optional(matching(ACCOUNT_ID, 'a 12-digit account id')),
  region: z.optional(matching(REGION, 'an AWS region code')),
  type: z.optional(matching(GUARDDUTY_FINDING_TYPE, 'a GuardDuty finding type (ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact)')),
  title: str(),
  severity: z.optional(z.number().check(z.minimum(GUARDDUTY_SEVERITY.min), z.maximum(GUARDDUTY_SEVERITY.max))),
  updatedAt: str(),
  resource: z.optional(
    z.looseObject({
      resourceType: str(),
      ecsClusterDetails: z.optional(
        z.looseObject({
          name: str(),
          arn: str(),
          tags: Tags,
          taskDetails: z.optional(TaskDetails),
        }),
      ),
    }),
  ),
  service: z.optional(Service),
});

export const GuardDutyEvent = z.looseObject({
  source: z.literal('aws.guardduty'),
  'detail-type': z.literal('GuardDuty Finding'),
  account: z.optional(matching(ACCOUNT_ID, 'a 12-digit account id')),
  region: z.optional(matching(REGION, 'an AWS region code')),
  detail: GuardDutyFindingDetail,
});

function tagMap(tags: z.infer<typeof Tags>): Record<string, string> {
  const map: Record<string, string> = {};
  // ECS allows 50 tags per resource, keys up to 128 and values up to 256 characters (API_Tag).
  for (const tag of (tags ?? []).slice(0, 50)) if (tag.key) map[bounded(tag.key, 128)] = bounded(tag.value ?? '', TEXT.short);
  return map;
}

/** Sample findings say so inside the JSON string `additionalInfo.value` (and sometimes as a field beside it). */
function isSample(info: z.infer<typeof Service>['additionalInfo']): boolean {
  if (info?.sample === true) return true;
  if (!info?.value) return false;
  try {
    return (JSON.parse(info.value) as { sample?: unknown }).sample === true;
  } catch {
    return false;
  }
}

const TASK_FIELD = 'detail.resource.ecsClusterDetails.taskDetails.arn';
const CLUSTER_FIELD = 'detail.resource.ecsClusterDetails.arn';

/**
 * Without `home` only the format is checked (unit tests of the parser); every intake passes the deployment's home, and
 * an event from another account, region or partition is refused.
 */
export function normaliseGuardDutyFinding(event: unknown, home?: Home): Finding {
  const parsed = GuardDutyEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const envelope = parsed.data;
  const detail = envelope.detail;
  const resourceType = required(detail.resource?.resourceType, 'detail.resource.resourceType');
  if (resourceType !== 'ECSCluster') {
    throw new InvalidEventError('detail.resource.resourceType', `is ${resourceType.slice(0, 100)}; only ECSCluster findings are handled`);
  }
  const cluster = required(detail.resource?.ecsClusterDetails, 'detail.resource.ecsClusterDetails');
  const task = required(cluster.taskDetails, 'detail.resource.ecsClusterDetails.taskDetails');
  const taskArn = required(task.arn, TASK_FIELD);
  const taskParts = parseTaskArn(taskArn, TASK_FIELD);
  const account = required(detail.accountId ?? envelope.account, 'detail.accountId');
  const region = required(detail.region ?? envelope.region, 'detail.region');
  // The envelope and the finding name one account and region, and the task lives there.
  if (envelope.account !== undefined && envelope.account !== account) throw new InvalidEventError('account', `is ${envelope.account}; the finding is from ${account}`);
  if (envelope.region !== undefined && envelope.region !== region) throw new InvalidEventError('region', `is ${envelope.region}; the finding is from ${region}`);
  const origin = { account, region, partition: taskParts.partition };
  assertSameOrigin(taskParts, origin, TASK_FIELD);
  if (home) assertOurs(origin, home, { account: 'detail.accountId', region: 'detail.region' });
  const clusterName = checkFormat(
    required(cluster.name ?? clusterOfTask(taskParts), 'detail.resource.ecsClusterDetails.name'),
    CLUSTER_NAME,
    'detail.resource.ecsClusterDetails.name',
    'an ECS cluster name',
  );
  const clusterArn = cluster.arn ?? `arn:${taskParts.partition}:ecs:${taskParts.region}:${taskParts.account}:cluster/${clusterName}`;
  const clusterParts = parseClusterArn(clusterArn, CLUSTER_FIELD);
  assertTaskInCluster(taskParts, clusterParts, TASK_FIELD);
  if (clusterParts.resource !== `cluster/${clusterName}`) throw new InvalidEventError('detail.resource.ecsClusterDetails.name', `is not the name in ${CLUSTER_FIELD}`);
  const severity = required(detail.severity, 'detail.severity');
  const service = detail.service;
  const remoteIp = service?.action?.networkConnectionAction?.remoteIpDetails?.ipAddressV4;
  const domain = service?.action?.dnsRequestAction?.domain;
  const process = service?.runtimeDetails?.process;

  return {
    kind: 'runtime',
    source: 'guardduty',
    id: required(detail.id, 'detail.id'),
    type: required(detail.type, 'detail.type'),
    title: bounded(detail.title ?? detail.type ?? '', TEXT.name),
    severity,
    severityLabel: severityLabel(severity),
    account,
    region,
    clusterTags: tagMap(cluster.tags),
    task: {
      arn: taskArn,
      clusterName,
      clusterArn,
      // Service names share cluster names' alphabet (API_CreateService); the name reaches DescribeServices.
      service: task.group?.startsWith('service:') ? checkFormat(task.group.slice('service:'.length), CLUSTER_NAME, 'detail.resource.ecsClusterDetails.taskDetails.group', 'service:<ECS service name>') : undefined,
      launchType: bounded(task.launchType, TEXT.short),
      definitionArn: bounded(task.definitionArn, TEXT.name),
      tags: tagMap(task.tags),
      containers: (task.containers ?? []).slice(0, 100).map((c) => ({ name: bounded(c.name ?? '', TEXT.short), image: bounded(c.image ?? '', TEXT.name) })),
    },
    indicators: {
      process: bounded(process?.name, TEXT.name),
      executablePath: bounded(process?.executablePath, TEXT.name),
      commandLine: bounded(service?.runtimeDetails?.context?.commandLineExample, TEXT.long),
      domains: domain ? [bounded(domain, TEXT.short)] : [],
      remoteIps: remoteIp ? [bounded(remoteIp, 64)] : [],
    },
    sample: isSample(service?.additionalInfo),
    count: service?.count ?? 1,
    updatedAt: bounded(detail.updatedAt, 64) ?? new Date(0).toISOString(),
  };
}
