import type { Decision } from '../policy/decide';
import type { Finding } from '../finding';
import {
  NOTIFICATION_SCHEMA_ID,
  NOTIFICATION_SCHEMA_VERSION,
  type ActionOutcome,
  type Notification,
} from '../notification';

const CONTAINING = new Set(['isolate-task', 'stop-task']);

/** Contained means a containing action took effect, and says by which mechanism. */
export function containmentOf(decision: Decision | null, outcomes: ActionOutcome[]): Notification['containment'] {
  if (!decision || !decision.steps.some((s) => CONTAINING.has(s.action))) return { state: 'none' };
  if (decision.mode === 'observe') return { state: 'observed' };
  const held = outcomes.find((o) => CONTAINING.has(o.action) && o.status === 'applied');
  if (held) return { state: 'contained', mechanism: held.mechanism };
  const alreadyStopped = outcomes.find((o) => CONTAINING.has(o.action) && o.status === 'skipped' && /stopped|stopping|already applied/.test(o.detail ?? ''));
  if (alreadyStopped) return { state: 'contained', mechanism: alreadyStopped.mechanism };
  return { state: 'not-contained' };
}

export function consoleLinks(finding: Finding, evidenceBucket?: string): Notification['links'] {
  const r = finding.region;
  const taskId = finding.task.arn.split('/').pop() ?? '';
  const links = [
    { label: 'GuardDuty finding', url: `https://${r}.console.aws.amazon.com/guardduty/home?region=${r}#/findings?fId=${encodeURIComponent(finding.id)}` },
    {
      label: 'ECS task',
      url: `https://${r}.console.aws.amazon.com/ecs/v2/clusters/${encodeURIComponent(finding.task.clusterName)}/tasks/${encodeURIComponent(taskId)}/configuration?region=${r}`,
    },
  ];
  if (evidenceBucket) {
    links.push({ label: 'Evidence', url: `https://s3.console.aws.amazon.com/s3/buckets/${evidenceBucket}?region=${r}&prefix=findings/${encodeURIComponent(finding.id)}/` });
  }
  return links;
}

export function releaseCommand(ledgerId: string): string {
  return `npm run runbook -- release --finding ${ledgerId} --reason "<why>"`;
}

function headline(finding: Finding, containment: Notification['containment'], decision: Decision | null): string {
  const where = [finding.task.clusterName, finding.task.service ?? finding.task.arn.split('/').pop()].join('/');
  const what = `${finding.severityLabel} ${finding.type} in ${where}`;
  switch (containment.state) {
    case 'contained':
      return `Contained (${containment.mechanism}): ${what}`;
    case 'not-contained':
      return `NOT CONTAINED: ${what}`;
    case 'observed':
      return `Observe mode, nothing changed: ${what}`;
    default:
      return `${decision ? 'Finding' : 'Ignored'}: ${what}`;
  }
}

/** After a service task is stopped, say whether ECS can start its replacement from the same digest, and what to run. */
function replacementNotes(finding: Finding, outcomes: ActionOutcome[], images: string[]): string[] {
  const stopped = outcomes.some((o) => o.mechanism === 'stop-task' && o.status === 'applied');
  if (!stopped || !finding.task.service) return [];
  if (outcomes.some((o) => o.action === 'quarantine-image' && (o.status === 'applied' || o.status === 'skipped') && o.mechanism === 'archive')) {
    return [`The image is quarantined: the replacement ECS starts for ${finding.task.service} cannot pull it.`];
  }
  const digested = images.find((image) => image.includes('@sha256:'));
  const [uri = '', digest = ''] = (digested ?? '').split('@');
  const repository = uri.split('/').slice(1).join('/');
  return [
    `ECS will start a replacement for ${finding.task.service} from the same image digest.` +
      (digested ? ` To stop it: npm run runbook -- quarantine-image --repository ${repository} --digest ${digest} --reason "<why>"` : ''),
  ];
}

export interface RuntimeNotificationInput {
  finding: Finding;
  decision: Decision;
  outcomes: ActionOutcome[];
  ledgerId: string;
  images: string[];
  requestedBy: string;
  evidenceBucket?: string;
  at: Date;
  notes?: string[];
}

export function buildRuntimeNotification(input: RuntimeNotificationInput): Notification {
  const { finding, decision, outcomes } = input;
  const containment = containmentOf(decision, outcomes);
  const reversible = outcomes.some((o) => o.status === 'applied' && (o.mechanism === 'security-group' || o.mechanism === 'network-acl' || o.mechanism === 'tags'));
  return {
    schema: NOTIFICATION_SCHEMA_ID,
    version: NOTIFICATION_SCHEMA_VERSION,
    kind: 'finding-response',
    headline: headline(finding, containment, decision),
    at: input.at.toISOString(),
    ledgerId: input.ledgerId,
    finding: {
      id: finding.id,
      type: finding.type,
      title: finding.title,
      severity: finding.severity,
      severityLabel: finding.severityLabel,
      account: finding.account,
      region: finding.region,
      sample: finding.sample,
      count: finding.count,
    },
    resource: {
      cluster: finding.task.clusterName,
      service: finding.task.service,
      taskArn: finding.task.arn,
      launchType: finding.task.launchType,
      images: input.images,
    },
    indicators: finding.indicators,
    decision: { policyRule: decision.policyRule, mode: decision.mode },
    containment,
    actions: outcomes,
    requestedBy: input.requestedBy,
    links: consoleLinks(finding, input.evidenceBucket),
    releaseCommand: reversible ? releaseCommand(input.ledgerId) : undefined,
    notes: [...decision.notes, ...(input.notes ?? []), ...replacementNotes(finding, outcomes, input.images)],
  };
}
