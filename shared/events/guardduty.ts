import { z } from 'zod';
import { severityLabel, type Finding } from '../finding';
import { InvalidEventError, required } from './invalid-event';

// Every field is optional in GuardDuty's schema (API_GetFindings: "Required: No"), so the schema only checks types;
// `normaliseGuardDutyFinding` then demands what an ECS response cannot do without, naming the field.
const Tags = z.array(z.looseObject({ key: z.string().optional(), value: z.string().optional() })).optional();

const Container = z.looseObject({ name: z.string().optional(), image: z.string().optional() });

const TaskDetails = z.looseObject({
  arn: z.string().optional(),
  definitionArn: z.string().optional(),
  group: z.string().optional(),
  launchType: z.string().optional(),
  startedBy: z.string().optional(),
  tags: Tags,
  containers: z.array(Container).optional(),
});

const Process = z.looseObject({
  name: z.string().optional(),
  executablePath: z.string().optional(),
  user: z.string().optional(),
});

const Service = z.looseObject({
  featureName: z.string().optional(),
  count: z.number().optional(),
  action: z
    .looseObject({
      dnsRequestAction: z.looseObject({ domain: z.string().optional() }).optional(),
      networkConnectionAction: z
        .looseObject({ remoteIpDetails: z.looseObject({ ipAddressV4: z.string().optional() }).optional() })
        .optional(),
    })
    .optional(),
  runtimeDetails: z
    .looseObject({
      process: Process.optional(),
      context: z.looseObject({ commandLineExample: z.string().optional() }).optional(),
    })
    .optional(),
  additionalInfo: z.looseObject({ value: z.string().optional(), sample: z.boolean().optional() }).optional(),
});

export const GuardDutyFindingDetail = z.looseObject({
  id: z.string().optional(),
  accountId: z.string().optional(),
  region: z.string().optional(),
  type: z.string().optional(),
  title: z.string().optional(),
  severity: z.number().min(0).max(10).optional(),
  updatedAt: z.string().optional(),
  resource: z
    .looseObject({
      resourceType: z.string().optional(),
      ecsClusterDetails: z
        .looseObject({
          name: z.string().optional(),
          arn: z.string().optional(),
          tags: Tags,
          taskDetails: TaskDetails.optional(),
        })
        .optional(),
    })
    .optional(),
  service: Service.optional(),
});

export const GuardDutyEvent = z.looseObject({
  source: z.literal('aws.guardduty'),
  'detail-type': z.literal('GuardDuty Finding'),
  account: z.string().optional(),
  region: z.string().optional(),
  detail: GuardDutyFindingDetail,
});

function tagMap(tags: z.infer<typeof Tags>): Record<string, string> {
  const map: Record<string, string> = {};
  for (const tag of tags ?? []) if (tag.key) map[tag.key] = tag.value ?? '';
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

function clusterNameFromTaskArn(taskArn: string): string | undefined {
  // Long ARN format: arn:aws:ecs:<region>:<account>:task/<cluster>/<task-id>
  const parts = taskArn.split(':').slice(5).join(':').split('/');
  return parts.length === 3 ? parts[1] : undefined;
}

export function normaliseGuardDutyFinding(event: unknown): Finding {
  const parsed = GuardDutyEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const envelope = parsed.data;
  const detail = envelope.detail;
  const resourceType = required(detail.resource?.resourceType, 'detail.resource.resourceType');
  if (resourceType !== 'ECSCluster') {
    throw new InvalidEventError('detail.resource.resourceType', `is ${resourceType}; only ECSCluster findings are handled`);
  }
  const cluster = required(detail.resource?.ecsClusterDetails, 'detail.resource.ecsClusterDetails');
  const task = required(cluster.taskDetails, 'detail.resource.ecsClusterDetails.taskDetails');
  const taskArn = required(task.arn, 'detail.resource.ecsClusterDetails.taskDetails.arn');
  if (!/^arn:aws[\w-]*:ecs:[\w-]+:\d{12}:task\//.test(taskArn)) {
    throw new InvalidEventError('detail.resource.ecsClusterDetails.taskDetails.arn', 'is not an ECS task ARN');
  }
  const clusterName = cluster.name ?? clusterNameFromTaskArn(taskArn);
  const account = required(detail.accountId ?? envelope.account, 'detail.accountId');
  const region = required(detail.region ?? envelope.region, 'detail.region');
  const clusterArn = cluster.arn ?? `${taskArn.split(':task/')[0]}:cluster/${required(clusterName, 'detail.resource.ecsClusterDetails.name')}`;
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
    title: detail.title ?? detail.type ?? '',
    severity,
    severityLabel: severityLabel(severity),
    account,
    region,
    clusterTags: tagMap(cluster.tags),
    task: {
      arn: taskArn,
      clusterName: required(clusterName, 'detail.resource.ecsClusterDetails.name'),
      clusterArn,
      service: task.group?.startsWith('service:') ? task.group.slice('service:'.length) : undefined,
      launchType: task.launchType,
      definitionArn: task.definitionArn,
      tags: tagMap(task.tags),
      containers: (task.containers ?? []).map((c) => ({ name: c.name ?? '', image: c.image ?? '' })),
    },
    indicators: {
      process: process?.name,
      executablePath: process?.executablePath,
      commandLine: service?.runtimeDetails?.context?.commandLineExample,
      domains: domain ? [domain] : [],
      remoteIps: remoteIp ? [remoteIp] : [],
    },
    sample: isSample(service?.additionalInfo),
    count: service?.count ?? 1,
    updatedAt: detail.updatedAt ?? new Date(0).toISOString(),
  };
}
