import { ecrRegistryOf } from '../image/image-reference';
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

/**
 * Where a printed runbook command acts: the deployed runbook function of this stage, in the region the responder runs
 * in (RESPONDER_STAGE set by serverless.yml; AWS_REGION set by Lambda to the function's own region, which for a finding
 * forwarded from another region is not the finding's), or `--simulated` for the simulated deployment (no stage in its
 * environment), whose commands a person replays with `--replay <events>`.
 */
export function runbookTarget(findingRegion: string, stage = process.env.RESPONDER_STAGE, region = process.env.AWS_REGION ?? findingRegion): string {
  return stage && stage !== 'simulated' ? `--via-lambda --stage ${stage} --region ${region}` : '--simulated';
}

export function releaseCommand(ledgerId: string, target: string): string {
  return `npm run runbook -- release --finding ${ledgerId} --reason "<why>" ${target}`;
}

const MECHANISM_WORDS: Record<string, string> = { 'security-group': 'security group', 'network-acl': 'network ACL', 'stop-task': 'stopped' };

/** Every containing mechanism that held, in the order it took effect: "network ACL, then stopped". */
export function mechanismsHeld(outcomes: ActionOutcome[]): string {
  const held = outcomes.filter((o) => CONTAINING.has(o.action) && o.status === 'applied' && o.mechanism).map((o) => MECHANISM_WORDS[o.mechanism!] ?? o.mechanism!);
  return [...new Set(held)].join(', then ');
}

function headline(finding: Finding, containment: Notification['containment'], decision: Decision | null, outcomes: ActionOutcome[]): string {
  const where = [finding.task.clusterName, finding.task.service ?? finding.task.arn.split('/').pop()].join('/');
  const what = `${finding.severityLabel} ${finding.type} in ${where}`;
  switch (containment.state) {
    case 'contained':
      return `Contained: ${mechanismsHeld(outcomes) || MECHANISM_WORDS[containment.mechanism ?? ''] || containment.mechanism}: ${what}`;
    case 'not-contained':
      return `NOT CONTAINED: ${what}`;
    case 'observed':
      return `Observe mode, nothing changed: ${what}`;
    default:
      return `${decision ? 'Finding' : 'Ignored'}: ${what}`;
  }
}

/**
 * AWS refuses a security-group change on an ECS-managed interface (every Fargate and awsvpc task): expected, not a
 * failure, and said as such, with what held instead.
 */
function expectedRefusalNotes(outcomes: ActionOutcome[]): string[] {
  const refused = outcomes.find((o) => o.mechanism === 'security-group' && o.status === 'unsupported');
  if (!refused) return [];
  const held = mechanismsHeld(outcomes);
  return [
    `As expected on Fargate and awsvpc tasks, AWS does not let an account change the security groups of an ECS-managed interface${refused.errorCode ? ` (${refused.errorCode})` : ''}; ${held ? `what held instead: ${held}` : 'the ladder went on'}.`,
  ];
}

/** After a service task is stopped, say whether ECS can start its replacement from the same digest, and what to run. */
function replacementNotes(finding: Finding, outcomes: ActionOutcome[], images: string[], homeAccount?: string): string[] {
  const stopped = outcomes.some((o) => o.mechanism === 'stop-task' && o.status === 'applied');
  if (!stopped || !finding.task.service) return [];
  if (outcomes.some((o) => o.action === 'quarantine-image' && (o.status === 'applied' || o.status === 'skipped') && o.mechanism === 'archive')) {
    return [`The image is quarantined: the replacement ECS starts for ${finding.task.service} cannot pull it.`];
  }
  const digested = images.find((image) => image.includes('@sha256:'));
  const [uri = '', digest = ''] = (digested ?? '').split('@');
  // registry/repository[:tag]@digest: the repository name is without its tag, which quarantine-image would refuse.
  const repository = uri.split('/').slice(1).join('/').replace(/:[^/:]*$/, '');
  // A member's registry (organization-wide): the runbook acts in its own account unless told which.
  const registryAccount = ecrRegistryOf(uri.split('/')[0])?.account;
  const account = registryAccount && homeAccount && registryAccount !== homeAccount ? ` --account ${registryAccount}` : '';
  return [
    `ECS will start a replacement for ${finding.task.service} from the same image digest.` +
      (digested ? ` To stop it: npm run runbook -- quarantine-image --repository ${repository} --digest ${digest}${account} --reason "<why>" ${runbookTarget(finding.region)}` : ''),
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
  /** The responder's own account: a command for another account's image names it (`--account`). */
  homeAccount?: string;
}

export function buildRuntimeNotification(input: RuntimeNotificationInput): Notification {
  const { finding, decision, outcomes } = input;
  const containment = containmentOf(decision, outcomes);
  const reversible = outcomes.some((o) => o.status === 'applied' && (o.mechanism === 'security-group' || o.mechanism === 'network-acl' || o.mechanism === 'tags'));
  return {
    schema: NOTIFICATION_SCHEMA_ID,
    version: NOTIFICATION_SCHEMA_VERSION,
    kind: 'finding-response',
    headline: headline(finding, containment, decision, outcomes),
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
    // The task is named once, at the top (resource.taskArn): its actions name only other targets (an interface, an ACL).
    actions: outcomes.map((o) => (o.target === finding.task.arn || o.target === `task:${finding.task.arn}` ? { ...o, target: undefined } : o)),
    requestedBy: input.requestedBy,
    links: consoleLinks(finding, input.evidenceBucket),
    releaseCommand: reversible ? releaseCommand(input.ledgerId, runbookTarget(finding.region)) : undefined,
    notes: [...decision.notes, ...(input.notes ?? []), ...expectedRefusalNotes(outcomes), ...replacementNotes(finding, outcomes, input.images, input.homeAccount)],
  };
}
