import type { ImageFinding, ImageVulnerability } from '../finding';
import { imageUri } from '../image/image-reference';
import type { TaskUsingImage } from '../image/tasks-using-image';
import { NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION, type ActionOutcome, type Notification } from '../notification';
import type { Decision } from '../policy/decide';
import { severityRank, type SeverityCounts } from '../policy/decide-image';
import { runbookTarget } from './build-notification';

const TOP_VULNERABILITIES = 5;
const QUARANTINE = 'quarantine-image';
/** GuardDuty-style numbers for the notification's `finding.severity`, from the top label. */
// 5 is a person's runbook request, which outranks any scan (as a runbook task request does, at 10).
const SEVERITY_NUMBER: Record<number, number> = { 5: 10, 4: 9, 3: 7, 2: 4, 1: 1, 0: 0 };
export const severityNumber = (rank: number): number => SEVERITY_NUMBER[rank] ?? 0;
const SEVERITY_LABEL: Record<number, string> = { 5: 'CRITICAL', 4: 'CRITICAL', 3: 'HIGH', 2: 'MEDIUM', 1: 'LOW', 0: 'NONE' };
const SOURCE_TYPE: Record<ImageFinding['source'], string> = {
  'ecr-scan': 'ECR Image Scan',
  'inspector-finding': 'Inspector2 Finding',
  'inspector-scan': 'Inspector2 Scan',
  'ecr-push': 'ECR Image Action PUSH',
  runbook: 'Runbook quarantine-image',
};

/** `account`: a member's image (its registry's account); the responder's own needs none. */
export function imageReleaseCommand(repository: string, digest: string, target: string, account?: string): string {
  return `npm run runbook -- release-image --repository ${repository} --digest ${digest}${account ? ` --account ${account}` : ''} --reason "<why>" ${target}`;
}

/** The ECR console page of the image's scan results. */
export function scanConsoleUrl(finding: Pick<ImageFinding, 'account' | 'region' | 'repository' | 'digest'>): string {
  const r = finding.region;
  return `https://${r}.console.aws.amazon.com/ecr/repositories/private/${finding.account}/${finding.repository}/_/image/${finding.digest}/scan-results?region=${r}`;
}

/** Quarantined means a holding mechanism took effect: `archive` contains, tags alone only partly (pulls by digest work). */
export function imageContainmentOf(decision: Decision | null, outcomes: ActionOutcome[]): Notification['containment'] {
  if (!decision || !decision.steps.some((s) => s.action === QUARANTINE)) return { state: 'none' };
  if (decision.mode === 'observe') return { state: 'observed' };
  const holds = (o: ActionOutcome) => o.action === QUARANTINE && (o.status === 'applied' || o.status === 'skipped');
  if (outcomes.some((o) => holds(o) && o.mechanism === 'archive')) return { state: 'contained', mechanism: 'archive' };
  if (outcomes.some((o) => holds(o) && o.mechanism === 'image-tags')) return { state: 'partially-contained', mechanism: 'image-tags' };
  return { state: 'not-contained' };
}

function topVulnerabilities(vulnerabilities: ImageVulnerability[]): ImageVulnerability[] {
  const rank = (v: ImageVulnerability) => severityRank({ [v.severity ?? '']: 1 });
  return [...vulnerabilities].sort((a, b) => rank(b) - rank(a) || Number(b.exploitAvailable ?? false) - Number(a.exploitAvailable ?? false) || (b.epss ?? 0) - (a.epss ?? 0)).slice(0, TOP_VULNERABILITIES);
}

function countsText(counts: SeverityCounts): string {
  return Object.entries(counts).filter(([, n]) => (n ?? 0) > 0).map(([label, n]) => `${n} ${label}`).join(', ') || 'no findings';
}

function headline(finding: ImageFinding, counts: SeverityCounts, containment: Notification['containment'], outcomes: ActionOutcome[]): string {
  if (finding.source === 'ecr-push') {
    const image = `${finding.repository}@${finding.digest.slice(0, 19)}…`;
    if (containment.state === 'not-contained') return `NOT QUARANTINED after a push: ${image}`;
    const reapplied = outcomes.some((o) => o.action === QUARANTINE && o.status === 'applied');
    return reapplied ? `Re-quarantined (${containment.mechanism}) after a push restored it: ${image}` : `Push of a quarantined image, still quarantined (${containment.mechanism}): ${image}`;
  }
  const what = `${finding.repository}@${finding.digest.slice(0, 19)}… (${countsText(counts)})`;
  if (!finding.actionable) return `Image scan ${finding.status}, not acted on: ${finding.repository}@${finding.digest.slice(0, 19)}…`;
  switch (containment.state) {
    case 'contained':
    case 'partially-contained':
      return `Quarantined (${containment.mechanism}): ${what}`;
    case 'not-contained':
      return `NOT QUARANTINED: ${what}`;
    case 'observed':
      return `Observe mode, nothing changed: ${what}`;
    default:
      return `Vulnerable image: ${what}`;
  }
}

export interface ImageNotificationInput {
  finding: ImageFinding;
  decision: Decision;
  severityCounts: SeverityCounts;
  vulnerabilities: ImageVulnerability[];
  tasksUsingImage: TaskUsingImage[];
  outcomes: ActionOutcome[];
  ledgerId: string;
  requestedBy: string;
  at: Date;
  notes?: string[];
  /** The responder's own account: a member's image is released with --account. */
  homeAccount?: string;
}

/** One message per image per scan (Inspector sends one event per CVE; the claim keeps it to one message). */
export function buildImageNotification(input: ImageNotificationInput): Notification {
  const { finding, decision, outcomes } = input;
  const containment = imageContainmentOf(decision, outcomes);
  const rank = severityRank(input.severityCounts);
  const quarantined = containment.state === 'contained' || containment.state === 'partially-contained';
  return {
    schema: NOTIFICATION_SCHEMA_ID,
    version: NOTIFICATION_SCHEMA_VERSION,
    kind: 'image-response',
    headline: headline(finding, input.severityCounts, containment, outcomes),
    at: input.at.toISOString(),
    ledgerId: input.ledgerId,
    finding: {
      id: finding.id,
      type: SOURCE_TYPE[finding.source],
      title: finding.title,
      severity: SEVERITY_NUMBER[rank] ?? 0,
      severityLabel: SEVERITY_LABEL[rank] ?? 'NONE',
      account: finding.account,
      region: finding.region,
      sample: false,
      count: 1,
    },
    resource: { images: [imageUri(finding.account, finding.region, finding.repository, finding.digest)] },
    indicators: { domains: [], remoteIps: [] },
    image: {
      repository: finding.repository,
      digest: finding.digest,
      tags: finding.tags,
      severityCounts: Object.fromEntries(Object.entries(input.severityCounts).filter((e): e is [string, number] => e[1] !== undefined)),
      topVulnerabilities: topVulnerabilities(input.vulnerabilities),
      tasksUsingImage: input.tasksUsingImage.map((t) => t.taskArn),
      scanConsoleUrl: scanConsoleUrl(finding),
      mechanism: containment.mechanism,
    },
    decision: { policyRule: decision.policyRule, mode: decision.mode },
    containment,
    actions: outcomes,
    requestedBy: input.requestedBy,
    links: [{ label: 'Image scan results', url: scanConsoleUrl(finding) }],
    releaseCommand: quarantined ? imageReleaseCommand(finding.repository, finding.digest, runbookTarget(finding.region), input.homeAccount && finding.account !== input.homeAccount ? finding.account : undefined) : undefined,
    notes: [
      ...decision.notes,
      ...(input.tasksUsingImage.length && !decision.steps.some((s) => s.action === QUARANTINE && (s.params as { stopRunningTasks?: boolean }).stopRunningTasks)
        ? [`${input.tasksUsingImage.length} running task(s) use this digest; the rule leaves them running (stopRunningTasks: false).`]
        : []),
      ...(input.notes ?? []),
    ],
  };
}
