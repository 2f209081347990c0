/** The one normalised model every source (GuardDuty, ECR, Inspector, ECS, a person) is parsed into. */

export const SEVERITY_LABELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type SeverityLabel = (typeof SEVERITY_LABELS)[number];

/** GuardDuty's documented bands: Low 1.0–3.9, Medium 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0. */
export function severityLabel(severity: number): SeverityLabel {
  if (severity >= 9) return 'CRITICAL';
  if (severity >= 7) return 'HIGH';
  if (severity >= 4) return 'MEDIUM';
  return 'LOW';
}

export interface TaskReference {
  arn: string;
  clusterName: string;
  clusterArn: string;
  /** From the task's `group` (`service:<name>`); absent for standalone tasks. */
  service?: string;
  launchType?: string;
  definitionArn?: string;
  tags: Record<string, string>;
  containers: { name: string; image: string }[];
}

export interface RuntimeIndicators {
  process?: string;
  executablePath?: string;
  commandLine?: string;
  domains: string[];
  remoteIps: string[];
}

export interface Finding {
  kind: 'runtime';
  /** `runbook`: a person asked for the response; the finding is their request. */
  source: 'guardduty' | 'runbook';
  /** Idempotency key: GuardDuty keeps the id across re-publications. */
  id: string;
  type: string;
  title: string;
  severity: number;
  severityLabel: SeverityLabel;
  account: string;
  region: string;
  clusterTags: Record<string, string>;
  task: TaskReference;
  indicators: RuntimeIndicators;
  /** GuardDuty sample findings (CreateSampleFindings) carry `"sample": true` in additionalInfo. */
  sample: boolean;
  count: number;
  updatedAt: string;
}

/** Severity labels image scanners use: ECR basic scanning and Inspector add INFORMATIONAL, UNDEFINED and UNTRIAGED. */
export const IMAGE_SEVERITY_LABELS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED', 'UNTRIAGED'] as const;
export type ImageSeverityLabel = (typeof IMAGE_SEVERITY_LABELS)[number];

/** One CVE in one package (Inspector gives these; ECR basic scan events give counts only). */
export interface ImageVulnerability {
  id: string;
  severity?: string;
  package?: string;
  fixedVersion?: string;
  exploitAvailable?: boolean;
  fixAvailable?: boolean;
  epss?: number;
}

/**
 * A scan result for one image digest, from ECR basic scanning (`ECR Image Scan`) or Inspector (`Inspector2 Finding`,
 * `Inspector2 Scan`). Kept apart from `Finding`: the runtime path depends on that one's task-shaped fields.
 */
export interface ImageFinding {
  kind: 'image';
  /** `ecr-push`: a push of an already quarantined digest, re-checked by the launch guard. */
  source: 'ecr-scan' | 'inspector-finding' | 'inspector-scan' | 'ecr-push' | 'runbook';
  /** The event id, or the Inspector finding ARN. */
  id: string;
  account: string;
  region: string;
  repository: string;
  digest: string;
  tags: string[];
  /** ECR scan-status, Inspector scan-status, or Inspector finding status (ACTIVE, CLOSED, SUPPRESSED). */
  status: string;
  /** Only a completed scan or an ACTIVE finding may lead to a change; everything else is recorded and reported. */
  actionable: boolean;
  /** Counts by severity label; for an Inspector finding, the one CVE's severity counted once. */
  severityCounts: Partial<Record<string, number>>;
  /** Inspector findings: the CVE(s) the event is about. */
  vulnerabilities: ImageVulnerability[];
  title: string;
  observedAt: string;
}
